"""Resource exhaustion by reply chains: we never walk ``inReplyTo``.

Bodies over the limit, gzip bombs, JSON 1,000 deep and arrays of 100,000
items are refused at the inbox (``test_inbox_attacks.py``) and in the payload
module (``test_payload.py``). What remains is work an *accepted* activity
could make us do: a Note answering a note answering a note… on a server that
makes the chain up as it is asked, forever. Fetching parents to build threads
(as Mastodon does, up to a limit) would let one activity cost unbounded
requests; Entraide fetches none. Embedded, the same chain is JSON nested
without end, refused by the depth limit.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.social import Message
from federation.models import InboxItem
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import (
    create,
    deliver,
    follow,
    inbox_count,
    note,
    rsa_key,
    signed_headers,
)
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"
FERME = f"https://{TARGET}/actors/ferme"
# What one activity may cost in fetches of notes: the object itself when it came by
# reference, never a parent.
BOUND = 1


@dataclass
class EndlessThread:
    """``thread.test``: ``/notes/N`` answers ``/notes/N+1``, for every N, forever."""

    author: str
    fetched: list[str] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.host != "thread.test" or not request.url.path.startswith("/notes/"):
            return None
        self.fetched.append(str(request.url))
        n = int(request.url.path.rsplit("/", 1)[1])
        document = note(
            self.author,
            id=f"https://thread.test/notes/{n}",
            inReplyTo=f"https://thread.test/notes/{n + 1}",
            to=[FERME],
            tag=[{"type": "Mention", "href": FERME}],
        )
        return httpx.Response(
            200, json=document, headers={"Content-Type": "application/activity+json"}
        )


@dataclass
class World:
    net: FediNet
    node: TestNode
    author: FakeActor
    thread: EndlessThread


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with network(tmp_path_factory.mktemp("chains"), module_db, [TARGET]) as (net, (a,)):
        author = FakeActor("https://thread.test/users/t", rsa_key(21))
        thread = EndlessThread(author.uri)
        net.hooks.extend([thread, author])
        await a.structure("ferme", owner="f@a.example")
        await follow(a, "ferme", author.uri)  # so that announces from it are handled
        yield World(net, a, author, thread)


@pytest.fixture
def fresh(world: World) -> World:
    world.thread.fetched.clear()
    return world


async def _state(world: World, activity_id: str) -> tuple[str, str | None]:
    async with world.node.node.db.session() as session:
        item = (
            await session.execute(select(InboxItem).where(InboxItem.activity_uri == activity_id))
        ).scalar_one()
        return item.state, item.error


async def test_reply_to_an_endless_chain_fetches_no_parent(fresh: World) -> None:
    """Attack: a direct message whose ``inReplyTo`` is the first note of an endless chain.
    It is stored (it is a valid message) and not one note of the chain is fetched."""
    dm = note(
        fresh.author.uri,
        inReplyTo="https://thread.test/notes/1",
        to=[FERME],
        tag=[{"type": "Mention", "href": FERME}],
    )
    activity = create(fresh.author.uri, dm)
    response = await deliver(fresh.net, INBOX, activity, fresh.author.signing_key)
    assert response.status_code == 202, response.text
    await fresh.net.settle()
    assert await _state(fresh, activity["id"]) == ("done", None)
    async with fresh.node.node.db.session() as session:
        stored = await session.scalar(select(Message.in_reply_to).where(Message.ap_id == dm["id"]))
    assert stored == "https://thread.test/notes/1"
    assert fresh.thread.fetched == []


async def test_public_reply_to_an_endless_chain_fetches_no_parent(fresh: World) -> None:
    """The same as a public reply (ignored: not a message, not a listing): no fetch."""
    reply = note(fresh.author.uri, inReplyTo="https://thread.test/notes/1")
    activity = create(fresh.author.uri, reply)
    response = await deliver(fresh.net, INBOX, activity, fresh.author.signing_key)
    assert response.status_code == 202, response.text
    await fresh.net.settle()
    assert (await _state(fresh, activity["id"]))[0] == "ignored"
    assert fresh.thread.fetched == []


@pytest.mark.parametrize("kind", ["Create", "Announce"])
async def test_chain_sent_by_reference_costs_one_fetch(fresh: World, kind: str) -> None:
    """Attack: the activity names a note of the endless chain by its id only, so that we
    must fetch it, and its parent, and its parent's parent… Exactly the named object is
    fetched (``BOUND`` = 1), never a parent, for a Create and for an Announce."""
    activity = create(fresh.author.uri, "https://thread.test/notes/0") | {"type": kind}
    response = await deliver(fresh.net, INBOX, activity, fresh.author.signing_key)
    assert response.status_code == 202, response.text
    await fresh.net.settle()
    assert fresh.thread.fetched == ["https://thread.test/notes/0"]
    assert len(fresh.thread.fetched) <= BOUND


async def test_reply_chain_10000_long_embedded_is_refused(fresh: World) -> None:
    """Attack: the chain embedded in the activity, each ``inReplyTo`` an object holding the
    next — 10,000 levels of JSON. Refused at the inbox (400 ``bad_payload``, nesting over
    the limit), stored nowhere, nothing fetched."""
    # Written out by hand, as an attacker would: json.dumps itself recurses.
    links = "".join(
        f'{{"id": "https://thread.test/notes/{n}", "type": "Note", "inReplyTo": '
        for n in range(1, 10_000)
    )
    chain = links + '"https://thread.test/notes/10000"' + "}" * 9_999
    activity = create(fresh.author.uri, note(fresh.author.uri, inReplyTo="CHAIN"))
    body = json.dumps(activity).replace('"CHAIN"', chain).encode()
    assert body.count(b"inReplyTo") == 10_000
    before = await inbox_count(fresh.node)
    response = await fresh.net.post(
        INBOX, body, signed_headers(INBOX, body, fresh.author.signing_key)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_payload"
    assert await inbox_count(fresh.node) == before
    assert fresh.thread.fetched == []
