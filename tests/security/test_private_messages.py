"""Leaks of private messages: nobody but the participants reads them, by any door.

Two nodes, ``a.test`` and ``b.test``, for the whole module (on the
databases of ``module_db``). On a.test, the structure ``menuiserie`` writes to
``ressourcerie@b.test`` and to the local ``ferme``; each message carries a
secret word. The outsiders: ``intrus``, a structure of a.test whose owner is
logged in and holds an API token; b.test's territory actor, which signs its
fetches but is not in the conversation; and anonymous visitors. Every door of a.test that shows
text — pages, ActivityPub JSON, the JSON API, feeds, search — is tried.
(``test_message_intruders.py`` has a third node read, reply into the thread
and sign as a participant.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.social import Conversation, Message
from federation.errors import FetchError
from federation.fetch import fetch_json
from federation.keystore import actor_signing_key
from federation.models import Activity, Actor
from tests.fedinet import FediNet, network
from tests.support import TestNode
from tests.web.browser import Browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET_REMOTE = "Mot-de-passe-du-coffre-7319"
SECRET_LOCAL = "Code-du-portail-4482"
SECRETS = (SECRET_REMOTE, SECRET_LOCAL)


@dataclass
class World:
    net: FediNet
    a: TestNode
    b: TestNode
    intrus: Browser  # logged in on a.test, acts for "intrus" only
    intrus_token: str
    remote_message: str  # ap id of the message to b.test
    local_conversation: int  # id of the menuiserie ↔ ferme conversation
    remote_conversation: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("messages")
    async with network(path, module_db, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        await a.structure("ferme", owner="f@a.example")
        await a.structure("intrus", owner="i@a.example")
        await b.structure("ressourcerie", owner="r@b.example")
        token = await a.token("m@a.example")
        sent = []
        for to, secret in (("acct:ressourcerie@b.test", SECRET_REMOTE), ("ferme", SECRET_LOCAL)):
            response = await a.api(
                "POST",
                "/api/v1/messages",
                token=token,
                json={"from": "menuiserie", "to": to, "content": f"Voici : {secret}"},
            )
            assert response.status_code == 201, await response.get_data()
            sent.append(await response.get_json())
        await net.settle()
        intrus = Browser(a)
        await intrus.login("i@a.example")
        async with a.node.db.session() as session:
            conversations = {
                m.ap_id: m.conversation_id
                for m in (await session.execute(select(Message))).scalars()
            }
        yield World(
            net=net,
            a=a,
            b=b,
            intrus=intrus,
            intrus_token=await a.token("i@a.example"),
            remote_message=sent[0]["ap_id"],
            local_conversation=conversations[sent[1]["ap_id"]],
            remote_conversation=conversations[sent[0]["ap_id"]],
        )


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, where


async def _signing_key(node: TestNode, handle: str) -> Any:
    async with node.node.db.session() as session:
        actor = (await session.execute(select(Actor).where(Actor.handle == handle))).scalar_one()
        return actor_signing_key(actor)


async def test_private_message_page_of_another_structure_is_not_found(world: World) -> None:
    """Attack: a logged-in member of another structure opens conversation pages by number
    (``/messages/1``, ``/messages/2``…), reads and posts into them. Each is 404 — the same
    answer as a conversation that does not exist — and nothing secret is on any page."""
    async with world.a.node.db.session() as session:
        ids = list((await session.execute(select(Conversation.id))).scalars())
    assert {world.local_conversation, world.remote_conversation} <= set(ids)
    for conversation in [*ids, max(ids) + 1]:
        page = await world.intrus.get(f"/messages/{conversation}")
        assert page.status == 404, conversation
        assert_no_secret(page.text, f"/messages/{conversation}")
        reply = await world.intrus.post(
            f"/messages/{conversation}",
            {"from": "intrus", "content": "Je m'invite"},
            csrf_from="/messages",
        )
        assert reply.status == 404, conversation
    for path in ("/messages", "/messages?as=menuiserie", "/notifications", "/timeline", "/"):
        page = await world.intrus.get(path)
        assert page.status == 200, path
        assert_no_secret(page.text, path)


async def test_private_message_page_for_an_anonymous_visitor(world: World) -> None:
    """Attack: no login at all. The conversation pages send to the login form (or are not
    found); nothing secret is shown."""
    anonymous = Browser(world.a)
    for path in (f"/messages/{world.local_conversation}", "/messages", "/notifications"):
        page = await anonymous.get(path)
        assert page.status in (302, 401, 404), (path, page.status)
        assert_no_secret(page.text, path)


async def test_private_message_json_without_a_participants_signature(world: World) -> None:
    """Attack: fetch the message's ActivityPub id (``/messages/<uuid>``) unsigned, signed by
    an actor of the other node that is not in the conversation (its territory), and
    signed by a local structure that is not either. Each is 404, as for an id that does
    not exist."""
    path = world.remote_message.removeprefix("https://a.test")
    for accept in ("application/activity+json", "text/html", "application/json"):
        response = await world.a.client().get(path, headers={"Accept": accept})
        assert response.status_code == 404, accept
        assert_no_secret(await response.get_data(as_text=True), accept)
    for node, handle in ((world.b, "territory"), (world.a, "intrus")):
        with pytest.raises(FetchError, match="404"):
            await fetch_json(
                node.node.http,
                world.remote_message,
                key=await _signing_key(node, handle),
                allow_private=True,
                allow_http=True,
            )


async def test_private_message_json_is_not_stored_by_caches(world: World) -> None:
    """Attack: a shared cache (a CDN, a proxy with ``proxy_cache``) keeps the answer a
    participant got and serves it to the next client asking for the same URL. The answer
    says ``Cache-Control: private, no-store``; the participant does read the message."""
    key = await _signing_key(world.b, "ressourcerie")
    response = await world.b.node.http.get(
        world.remote_message,
        headers={"Accept": "application/activity+json"},
        auth=_signer(key),
    )
    assert response.status_code == 200, response.text
    assert SECRET_REMOTE in response.json()["content"]
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def _signer(key: Any) -> Any:
    from federation.signatures import HttpSignatureAuth

    return HttpSignatureAuth(key)


async def test_private_message_activity_is_not_published(world: World) -> None:
    """Attack: read the ``Create`` of the message at its activity id, or in the sender's
    outbox. The activity is not public: 404 at its id, absent from the outbox."""
    async with world.a.node.db.session() as session:
        creates = [
            a.uri
            for a in (await session.execute(select(Activity))).scalars()
            if SECRET_REMOTE in str(a.body) or SECRET_LOCAL in str(a.body)
        ]
    assert creates
    for uri in creates:
        path = uri.removeprefix("https://a.test")
        for accept in ("application/activity+json", "text/html"):
            response = await world.a.client().get(path, headers={"Accept": accept})
            assert response.status_code == 404, (uri, accept)
    outbox = await world.a.client().get(
        "/actors/menuiserie/outbox?page=1", headers={"Accept": "application/activity+json"}
    )
    assert outbox.status_code == 200
    assert_no_secret(await outbox.get_data(as_text=True), "outbox")


async def test_private_message_through_the_api_of_another_structure(world: World) -> None:
    """Attack: the outsider's API token asks for the conversations of a structure it does
    not act for, and reads its own timeline and conversations. Refused (403) or empty of
    anything secret."""
    response = await world.a.api(
        "GET", "/api/v1/messages?actor=menuiserie", token=world.intrus_token
    )
    assert response.status_code in (403, 404), response.status_code
    assert_no_secret(await response.get_data(as_text=True), "api messages of menuiserie")
    for path in (
        "/api/v1/messages?actor=intrus",
        "/api/v1/timeline?actor=intrus",
        "/api/v1/listings?q=" + SECRET_LOCAL,
        "/api/v1/listings?status=any",
    ):
        response = await world.a.api("GET", path, token=world.intrus_token)
        assert response.status_code == 200, (path, response.status_code)
        assert_no_secret(await response.get_data(as_text=True), path)


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/listings.atom",
        "/feeds/listings.rss",
        "/@menuiserie/feed.atom",
        "/@menuiserie/feed.rss",
        "/@ferme/feed.atom",
        "/search?q=" + SECRET_LOCAL,
        "/search?q=" + SECRET_REMOTE,
        "/search?q=Voici",
        "/feeds/listings.atom?q=Voici",
        "/@menuiserie",
        "/actors/menuiserie",
    ],
)
async def test_private_message_in_feeds_and_search(world: World, path: str) -> None:
    """Attack: look for the secret where public text is listed — feeds, search (by the
    secret words themselves, or by another word of the messages), profiles. Not there.
    (A search page repeats its query: what it searched for is not counted as found.)"""
    response = await world.a.client().get(path)
    assert response.status_code == 200, (path, response.status_code)
    text = await response.get_data(as_text=True)
    query = path.partition("?")[2]
    for secret in SECRETS:
        if secret not in query:
            assert secret not in text, (path, secret)
    if "Voici" not in query:
        assert "Voici" not in text, path
    else:
        assert not re.search(r"Voici\s*(:|&#58;)", text), path
