"""What was taken down stays down, at every door: activity ids, outboxes, the API, feeds.

One node, ``a.test``, for the whole module (on the databases of ``module_db``). The
structure ``menuiserie`` publishes four listings: one stays open, one a
moderator hides, one its owner edits and then withdraws; ``suspendue``
publishes one and is then suspended. In the community ``reseau`` they post:
one post stays, an animator removes one, a moderator hides one, and
``suspendue`` wrote one before its suspension. Each text carries a marker
word; the withheld markers must show nowhere a reader can go, the others must
still show (so that the tests would see a door that shows nothing at all).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.models import Structure
from federation.models import Activity, Follow
from tests.fedinet import network
from tests.support import TestNode
from tests.web.browser import Browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

AP = {"Accept": "application/activity+json"}
VISIBLE = ("Visible7a1", "PostVisible4d9")
HIDDEN, WITHDRAWN, SUSPENDED = "Cachee3c2", "Retiree5f8", "Suspendue9b4"
POST_REMOVED, POST_HIDDEN, POST_SUSPENDED = "PostRetire2e7", "PostCache6a3", "PostSuspendu8d5"
WITHHELD = (HIDDEN, WITHDRAWN, SUSPENDED, POST_REMOVED, POST_HIDDEN, POST_SUSPENDED)


@dataclass
class World:
    a: TestNode
    owner: str  # acts for menuiserie
    other: str  # acts for autre, which follows menuiserie
    moderator: str
    listings: dict[str, dict[str, Any]]  # by marker
    posts: dict[str, dict[str, Any]]  # by marker

    @property
    def withheld_ids(self) -> set[str]:
        found = {self.listings[m]["ap_id"] for m in (HIDDEN, WITHDRAWN, SUSPENDED)}
        return found | {self.posts[m]["ap_id"] for m in (POST_REMOVED, POST_HIDDEN, POST_SUSPENDED)}


async def _call(node: TestNode, method: str, path: str, token: str | None, body: Any = None) -> Any:
    response = await node.api(method, path, token=token, json=body)
    text = await response.get_data(as_text=True)
    assert response.status_code in (200, 201), (path, response.status_code, text)
    return json.loads(text)


def _listing(structure: str, marker: str) -> dict[str, Any]:
    return {
        "structure": structure,
        "kind": "offer",
        "title": f"Annonce {marker}",
        "description": f"Texte de l'annonce {marker}.",
        "category": "equipment",
        "modality": "lend",
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("withheld")
    async with network(path, module_db, ["a.test"]) as (_net, (a,)):
        for handle, owner in (
            ("menuiserie", "m@a.example"),
            ("autre", "o@a.example"),
            ("suspendue", "s@a.example"),
        ):
            await a.structure(handle, owner=owner)
        owner, suspended = await a.token("m@a.example"), await a.token("s@a.example")
        moderator = await a.token("mod@a.example", role="moderator")
        animator = await a.token("anim@a.example", role="animator")
        listings = {}
        for marker in (VISIBLE[0], HIDDEN, WITHDRAWN):
            body = _listing("menuiserie", marker)
            listings[marker] = await _call(a, "POST", "/api/v1/listings", owner, body)
        listings[SUSPENDED] = await _call(
            a, "POST", "/api/v1/listings", suspended, _listing("suspendue", SUSPENDED)
        )
        await _call(
            a,
            "POST",
            "/api/v1/communities",
            animator,
            {"handle": "reseau", "name": "Réseau", "description": "Club"},
        )
        posts = {}
        for handle, token, markers in (
            ("menuiserie", owner, (VISIBLE[1], POST_REMOVED, POST_HIDDEN)),
            ("suspendue", suspended, (POST_SUSPENDED,)),
        ):
            await _call(a, "POST", "/api/v1/communities/reseau/members", token, {"actor": handle})
            for marker in markers:
                posts[marker] = await _call(
                    a,
                    "POST",
                    "/api/v1/communities/reseau/posts",
                    token,
                    {"from": handle, "content": f"Nouvelles {marker}"},
                )

        # Taking down: a moderator hides, the owner edits then withdraws, an animator
        # removes, a moderator hides a post, a moderator suspends a structure.
        await _call(
            a,
            "POST",
            f"/api/v1/moderation/listings/{listings[HIDDEN]['id']}/hide",
            moderator,
            {"reason": "Trompeuse"},
        )
        withdrawn = f"/api/v1/listings/{listings[WITHDRAWN]['id']}"
        await _call(a, "PATCH", withdrawn, owner, {"title": f"Annonce {WITHDRAWN} (modifiée)"})
        await _call(a, "DELETE", withdrawn, owner)
        await _call(
            a,
            "POST",
            f"/api/v1/communities/reseau/posts/{posts[POST_REMOVED]['id']}/remove",
            animator,
        )
        await _call(
            a, "POST", f"/api/v1/moderation/posts/{posts[POST_HIDDEN]['id']}/hide", moderator, {}
        )
        await _call(
            a,
            "POST",
            "/api/v1/moderation/structures/suspendue/suspend",
            moderator,
            {"reason": "Usurpation"},
        )
        # autre follows menuiserie (accepted), so that its timeline shows menuiserie's listings.
        async with a.node.db.session() as session:
            structures = {
                s.handle: s.actor_id for s in (await session.execute(select(Structure))).scalars()
            }
            session.add(
                Follow(
                    follower_id=structures["autre"],
                    followed_id=structures["menuiserie"],
                    state="accepted",
                )
            )
        yield World(
            a=a,
            owner=owner,
            other=await a.token("o@a.example"),
            moderator=moderator,
            listings=listings,
            posts=posts,
        )


def assert_nothing_withheld(text: str, where: str) -> None:
    for marker in WITHHELD:
        assert marker not in text, (marker, where)


# --- M1: activity ids and outboxes ----------------------------------------------------------


async def _content_activities(world: World) -> list[tuple[str, bool]]:
    """(path, withheld) of every public Create, Update and Announce the node stored."""
    async with world.a.node.db.session() as session:
        rows = (
            await session.execute(
                select(Activity).where(
                    Activity.public.is_(True), Activity.type.in_(("Create", "Update", "Announce"))
                )
            )
        ).scalars()
        found = []
        for activity in rows:
            # A Create, an Update and a community's Announce(Create) carry the text; an
            # Announce of a listing or of a post names its id.
            text = json.dumps(activity.body)
            withheld = (
                any(marker in text for marker in WITHHELD)
                or activity.object_uri in world.withheld_ids
            )
            found.append((activity.uri.removeprefix("https://a.test"), withheld))
    return found


async def test_withheld_content_at_its_activity_id_is_not_served(world: World) -> None:
    """Attack: fetch the ``Create`` (and ``Update``) of a listing a moderator hid, one its
    structure withdrew, one of a suspended structure, of a post an animator removed or a
    moderator hid, or the ``Announce`` of any of them by the territory or the community,
    at its activity id. The activity carries the whole text (or points to it): 404, as
    for an activity that does not exist, for ActivityPub clients and browsers alike.
    The activities of what is still shown are still served."""
    activities = await _content_activities(world)
    withheld = [path for path, gone in activities if gone]
    shown = [path for path, gone in activities if not gone]
    assert len(withheld) >= 10 and len(shown) >= 4, activities
    for path in withheld:
        for headers in (AP, {"Accept": "text/html"}):
            response = await world.a.client().get(path, headers=headers)
            assert response.status_code == 404, (path, headers)
            assert_nothing_withheld(await response.get_data(as_text=True), path)
    for path in shown:
        response = await world.a.client().get(path, headers=AP)
        assert response.status_code == 200, path


def _names(item: dict[str, Any]) -> set[str]:
    """The ids an activity carries or points to: its object, and an embedded one's."""
    names = set()
    obj = item.get("object")
    while obj is not None:
        if isinstance(obj, str):
            names.add(obj)
            break
        names.add(str(obj.get("id")))
        obj = obj.get("object")
    return names


async def _outbox(node: TestNode, handle: str) -> tuple[list[dict[str, Any]], str]:
    client = node.client()
    collection = await client.get(f"/actors/{handle}/outbox", headers=AP)
    assert collection.status_code == 200, handle
    total = (await collection.get_json())["totalItems"]
    items, page = [], 1
    while True:
        response = await client.get(f"/actors/{handle}/outbox?page={page}", headers=AP)
        assert response.status_code == 200
        body = await response.get_json()
        items += body["orderedItems"]
        if not body.get("next"):
            break
        page += 1
    assert len(items) == total, (handle, total, len(items))
    return items, json.dumps(items)


async def test_withheld_content_is_not_in_outboxes(world: World) -> None:
    """Attack: page through the outboxes of the structure, of the territory (which announces
    every listing) and of the community (which announces every post) to read what was
    taken down. None of it is there — no Create, Update or Announce of it; its Delete
    says it is gone — and ``totalItems`` counts what is; what is still shown is there."""
    texts = {}
    for handle in ("menuiserie", "territory", "reseau"):
        items, text = await _outbox(world.a, handle)
        assert_nothing_withheld(text, handle)
        for item in items:
            if item["type"] in ("Create", "Update", "Announce"):
                assert not _names(item) & world.withheld_ids, (handle, item["type"], item["id"])
        texts[handle] = text
    assert VISIBLE[0] in texts["menuiserie"]
    assert world.listings[VISIBLE[0]]["ap_id"] in texts["territory"]
    assert VISIBLE[1] in texts["reseau"]
    gone = await world.a.client().get("/actors/suspendue/outbox", headers=AP)
    assert gone.status_code == 410


async def test_posts_of_a_suspended_structure_are_not_shown(world: World) -> None:
    """Attack: read what a suspended structure posted in a community — at the post's id,
    in the community's posts (API and page). Its actor is gone (410, a Delete sent to
    its followers): its posts are not shown either (404 at their id); the others are."""
    post = world.posts[POST_SUSPENDED]
    response = await world.a.client().get(post["ap_id"].removeprefix("https://a.test"), headers=AP)
    assert response.status_code == 404
    listed = json.dumps(await _call(world.a, "GET", "/api/v1/communities/reseau/posts", None))
    page = await Browser(world.a).get("/communities/reseau")
    for text, where in ((listed, "api"), (page.text, "page")):
        assert POST_SUSPENDED not in text, where
        assert VISIBLE[1] in text, where


# --- M2: withdrawn listings in the API and the feeds ------------------------------------------


LISTS = (
    "/api/v1/listings?status=withdrawn",
    "/api/v1/listings?status=any",
    "/api/v1/listings?status=any&structure=menuiserie",
    "/api/v1/listings?status=withdrawn&q=Retiree5f8",
)
FEEDS = (
    "/feeds/listings.atom?status=withdrawn",
    "/feeds/listings.rss?status=any",
    "/@menuiserie/feed.atom?status=withdrawn",
    "/@menuiserie/feed.rss?status=any",
)


@pytest.mark.parametrize("reader", ["anonymous", "other"])
async def test_withdrawn_listing_is_not_served_to_others(world: World, reader: str) -> None:
    """Attack: read a withdrawn listing anonymously or as another structure's member — by
    its id in the API, by listing ``status=withdrawn`` or ``status=any`` (also with a
    structure or a text filter), in the node's and the structure's Atom and RSS feeds
    with those filters, and in the timeline of a structure that follows its author. The
    listing was withdrawn by its structure: 404 by id, absent from every list and feed;
    open listings are still listed."""
    token = None if reader == "anonymous" else world.other
    listing = world.listings[WITHDRAWN]
    response = await world.a.api("GET", f"/api/v1/listings/{listing['id']}", token=token)
    assert response.status_code == 404
    assert WITHDRAWN not in await response.get_data(as_text=True)
    for path in LISTS:
        text = json.dumps(await _call(world.a, "GET", path, token))
        assert WITHDRAWN not in text, path
    assert VISIBLE[0] in json.dumps(
        await _call(world.a, "GET", "/api/v1/listings?status=any", token)
    )
    for path in FEEDS:
        response = await world.a.client().get(path)
        assert response.status_code == 200, path
        assert WITHDRAWN not in await response.get_data(as_text=True), path
    if token is not None:
        timeline = json.dumps(await _call(world.a, "GET", "/api/v1/timeline?actor=autre", token))
        assert WITHDRAWN not in timeline
        assert VISIBLE[0] in timeline


@pytest.mark.parametrize("reader", ["owner", "moderator"])
async def test_withdrawn_listing_is_still_served_to_its_structure_and_moderators(
    world: World, reader: str
) -> None:
    """The people of the structure that withdrew a listing, and the moderators, still read
    it by its id and find it with ``status=withdrawn``."""
    token = getattr(world, reader)
    listing = world.listings[WITHDRAWN]
    body = await _call(world.a, "GET", f"/api/v1/listings/{listing['id']}", token)
    assert body["status"] == "withdrawn"
    found = await _call(world.a, "GET", "/api/v1/listings?status=withdrawn", token)
    assert [item["id"] for item in found["items"]] == [listing["id"]]
