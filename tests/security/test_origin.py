"""Origin spoofing: speaking for objects, actors and hosts that are not the sender's.

One node, ``a.test``, in the in-process network (on the databases of ``module_db``, for
the whole module). Alice (``remote.test``) is honest; Mallory runs
``evil.test`` and controls everything it answers, redirects included;
``banned.test`` is blocked by ``a.test``. The forged requests of the inbox
suite (``test_inbox_attacks.py``: an object or an activity id on another host,
an actor claiming our host, a key of another server) are not repeated here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.models import Listing
from domain.social import Post
from federation.errors import FederationError, OriginMismatch, PayloadError
from federation.models import Actor, InboxItem
from federation.policy import set_policy
from inbox.from_ap import listing_from_ap
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import AS, PUBLIC, create, deliver, follow, new_id, note, rsa_key
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"
LISTING_FIELDS: dict[str, Any] = {
    "name": "Palettes",
    "purpose": "offer",
    "publishes": {"type": "Intent", "action": "transfer"},
    "entraide:category": "materials",
}


@dataclass
class World:
    net: FediNet
    node: TestNode
    alice: FakeActor
    mallory: FakeActor
    group: FakeActor  # Mallory's community, followed by a structure of a.test
    listing_id: int  # a listing of a.test


async def evil_server(request: httpx.Request) -> httpx.Response | None:
    """What evil.test answers besides its actors: redirects and forged documents."""
    if request.url.host != "evil.test" or request.method != "GET":
        return None
    path = request.url.path
    if path == "/users/borrowed":  # "my actor is over there"
        return httpx.Response(302, headers={"Location": "https://remote.test/users/alice"})
    if path == "/to-banned":
        return httpx.Response(302, headers={"Location": "https://banned.test/notes/1"})
    if path == "/users/ours":  # a document claiming to be a.test's territory
        document = {
            "id": f"https://{TARGET}/actors/territory",
            "type": "Application",
            "inbox": f"https://{TARGET}/actors/territory/inbox",
        }
        return httpx.Response(200, json=document, headers={"Content-Type": "application/json"})
    if path == "/notes/group-post":
        document = note(
            "https://evil.test/users/borrowed",
            id="https://evil.test/notes/group-post",
            content="<p>Alice dit : virez 500 € à Mallory.</p>",
            audience="https://evil.test/groups/club",
            to=[PUBLIC, "https://evil.test/groups/club"],
        )
        return httpx.Response(200, json=document, headers={"Content-Type": "application/json"})
    return None


async def webfinger(request: httpx.Request) -> httpx.Response | None:
    """remote.test's WebFinger, compromised: it names an actor on evil.test, or sends the
    lookup of ``bob`` to banned.test."""
    if request.url.host != "remote.test" or request.url.path != "/.well-known/webfinger":
        return None
    if "bob" in str(request.url):
        location = "https://banned.test/.well-known/webfinger?resource=acct:bob@remote.test"
        return httpx.Response(302, headers={"Location": location})
    jrd = {
        "subject": "acct:alice@remote.test",
        "links": [
            {
                "rel": "self",
                "type": "application/activity+json",
                "href": "https://evil.test/users/mallory",
            }
        ],
    }
    return httpx.Response(200, json=jrd, headers={"Content-Type": "application/jrd+json"})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with network(tmp_path_factory.mktemp("origin"), module_db, [TARGET]) as (net, (a,)):
        alice = FakeActor("https://remote.test/users/alice", rsa_key(1))
        mallory = FakeActor("https://evil.test/users/mallory", rsa_key(2))
        group = FakeActor("https://evil.test/groups/club", rsa_key(3), extra={"type": "Group"})
        net.hooks.extend([evil_server, webfinger, alice, mallory, group])
        await a.structure("ferme", owner="f@a.example")
        token = await a.token("f@a.example")
        response = await a.api(
            "POST",
            "/api/v1/listings",
            token=token,
            json={
                "structure": "ferme",
                "kind": "offer",
                "title": "Tracteur",
                "description": "À prêter",
                "category": "vehicles",
                "modality": "lend",
            },
        )
        assert response.status_code == 201, await response.get_data()
        listing_id = (await response.get_json())["id"]
        await follow(a, "ferme", alice.uri)
        await follow(a, "ferme", group.uri)
        async with a.node.db.session() as session:
            await set_policy(session, "banned.test", "block")
        yield World(net, a, alice, mallory, group, listing_id)


async def _listing(world: World, ap_id: str) -> Listing | None:
    async with world.node.node.db.session() as session:
        found = await session.execute(select(Listing).where(Listing.ap_id == ap_id))
        return found.scalar_one_or_none()


@pytest.mark.parametrize("kind", ["Create", "Update", "Delete"])
async def test_object_claiming_our_own_host_is_refused(world: World, kind: str) -> None:
    """Attack: Mallory (correctly signed) creates, updates or deletes an object whose id is
    on the receiving node itself — one of a.test's listings. Only a.test speaks for its
    objects: 403 ``origin_mismatch``, nothing stored, the listing untouched."""
    ours = f"https://{TARGET}/listings/{world.listing_id}"
    obj: dict[str, Any] | str = ours
    if kind != "Delete":
        obj = note(world.mallory.uri, id=ours, **(LISTING_FIELDS | {"name": "Volé"}))
    activity = create(world.mallory.uri, obj) | {"type": kind}
    response = await deliver(world.net, INBOX, activity, world.mallory.signing_key)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "origin_mismatch"
    await world.net.settle()
    listing = await _listing(world, ours)
    assert listing is not None and listing.local and listing.title == "Tracteur"


async def test_fetched_document_claiming_our_own_host_is_refused(world: World) -> None:
    """Attack: evil.test serves, at one of its URLs, an actor document whose id is a.test's
    own territory, hoping we overwrite our actor (or trust its keys) with it. The id is not
    on the host that served it: refused, and our territory is unchanged."""
    with pytest.raises(OriginMismatch):
        await world.node.node.remote.actor("https://evil.test/users/ours")
    with pytest.raises(PayloadError, match="our own domain"):
        await world.node.node.remote.fetch(f"https://{TARGET}/actors/territory")
    async with world.node.node.db.session() as session:
        territory = (
            await session.execute(select(Actor).where(Actor.handle == "territory"))
        ).scalar_one()
    assert territory.local and territory.inbox_url == f"https://{TARGET}/actors/territory/inbox"


async def test_url_on_another_host_than_the_id_is_not_trusted(world: World) -> None:
    """Attack: Alice's server (or whoever writes her listing) gives it a ``url`` on another
    host — a phishing page — or a ``javascript:`` URL, for the "see it on its site" link.
    The id's host is authoritative: the stored url is the id."""
    for url in ("https://phishing.test/offre", "javascript:alert(1)", "//phishing.test/x"):
        listing = note(world.alice.uri, **LISTING_FIELDS, url=url)
        response = await deliver(
            world.net, INBOX, create(world.alice.uri, listing), world.alice.signing_key
        )
        assert response.status_code == 202, response.text
        await world.net.settle()
        stored = await _listing(world, listing["id"])
        assert stored is not None, url
        assert stored.url == listing["id"], url


async def test_url_as_an_object_on_another_host_is_not_trusted() -> None:
    """The same with ``url`` as a Link object, as Mastodon sends it."""
    obj = note(
        "https://remote.test/users/alice",
        **LISTING_FIELDS,
        url={"type": "Link", "href": "https://phishing.test/x", "mediaType": "text/html"},
    )
    data = listing_from_ap(obj)
    assert data is not None and data.url == obj["id"]


async def test_webfinger_answer_pointing_to_another_host_is_refused(world: World) -> None:
    """Attack: a WebFinger answer for ``acct:alice@remote.test`` names an actor on evil.test,
    so that following or messaging "alice" would reach Mallory. Refused: the actor must be
    on the host that answered for the account; no follow is made, nothing fetched there."""
    world.net.log.clear()
    with pytest.raises(PayloadError, match="another host"):
        await world.node.node.remote.webfinger("acct:alice@remote.test")
    token = await world.node.token("f@a.example")
    response = await world.node.api(
        "POST",
        "/api/v1/follows",
        token=token,
        json={"actor": "ferme", "target": "acct:alice@remote.test"},
    )
    assert 400 <= response.status_code < 500
    assert world.net.sent("GET", "evil.test") == []


async def test_redirect_to_another_host_cannot_lend_its_actor(world: World) -> None:
    """Attack: evil.test answers a GET of one of its actor URLs with a redirect to Alice's
    genuine actor on remote.test. The document is valid where it lives, but we asked
    evil.test: taking it would make Alice the actor behind an evil.test URL. Refused (403
    ``origin_mismatch``), nothing stored under that URL."""
    with pytest.raises(OriginMismatch, match="another host"):
        await world.node.node.remote.actor("https://evil.test/users/borrowed")
    assert await world.node.node.remote.cached_actor("https://evil.test/users/borrowed") is None


async def test_group_post_cannot_be_attributed_to_another_servers_actor(world: World) -> None:
    """The same attack, end to end: Mallory's community (followed from a.test) announces a
    post of ``evil.test/users/borrowed``, the URL that redirects to Alice. Without the
    same-host rule the post was stored as written by Alice (impersonation of an honest
    server's user); now the announce fails and no post is stored."""
    announce = {
        "@context": AS,
        "id": new_id("evil.test"),
        "type": "Announce",
        "actor": world.group.uri,
        "object": "https://evil.test/notes/group-post",
        "to": [PUBLIC],
    }
    response = await deliver(world.net, INBOX, announce, world.group.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    async with world.node.node.db.session() as session:
        post = (
            await session.execute(
                select(Post).where(Post.ap_id == "https://evil.test/notes/group-post")
            )
        ).scalar_one_or_none()
        item = (
            await session.execute(select(InboxItem).where(InboxItem.activity_uri == announce["id"]))
        ).scalar_one()
    assert post is None
    assert item.state == "failed" and "another host" in (item.error or "")


async def test_redirect_to_a_blocked_domain_is_not_followed(world: World) -> None:
    """Attack: a permitted server answers a fetch (or a WebFinger lookup) with a redirect to
    a blocked domain, to make us contact it or to launder its documents. The fetcher never
    asks a blocked domain: a document's redirect may not leave the host we checked, a
    WebFinger hop is checked against the policy; refused before any request."""
    world.net.log.clear()
    with pytest.raises(FederationError):
        await world.node.node.remote.fetch("https://evil.test/to-banned")
    with pytest.raises(FederationError):
        await world.node.node.remote.webfinger("acct:bob@remote.test")
    activity = create(world.mallory.uri, "https://evil.test/to-banned")
    response = await deliver(world.net, INBOX, activity, world.mallory.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    assert [e.url for e in world.net.log if "banned.test" in e.url] == []


async def test_signed_note_attributed_to_someone_else_is_not_stored(world: World) -> None:
    """Attack: Mallory's Create embeds a direct message whose ``attributedTo`` is another
    actor of her own server (the origin rules allow the host; the handler must not). The
    note is not stored as a message of that other actor."""
    ferme = f"https://{TARGET}/actors/ferme"
    dm = note(
        world.mallory.uri,
        attributedTo="https://evil.test/users/someone-else",
        to=[ferme],
        tag=[{"type": "Mention", "href": ferme}],
    )
    activity = create(world.mallory.uri, dm)
    response = await deliver(world.net, INBOX, activity, world.mallory.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    async with world.node.node.db.session() as session:
        item = (
            await session.execute(select(InboxItem).where(InboxItem.activity_uri == activity["id"]))
        ).scalar_one()
    assert (item.state, item.error) == ("ignored", "note attributed to another actor")
