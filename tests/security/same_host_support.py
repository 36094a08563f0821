"""Helpers shared by the test_same_host_impersonation modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from domain.models import Listing
from domain.social import CommunityMember, Message, Post, Report
from federation.models import Actor, Follow, Tombstone
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import (
    AS,
    PUBLIC,
    create,
    deliver,
    follow,
    new_id,
    rsa_key,
)
from tests.security.helpers import note as make_note
from tests.support import TestNode

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"
FERME = f"https://{TARGET}/actors/ferme"
SOCIAL = "social.test"
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
    victim: FakeActor
    mallory: FakeActor
    other: FakeActor  # Mallory's second account, which claims Victim in alsoKnownAs
    group: FakeActor  # a community of social.test, followed by ferme
    listing: dict[str, Any]  # Victim's listing, stored on a.test
    message: dict[str, Any]  # Victim's direct message to ferme
    victim_follow: str  # the id of Victim's Follow of ferme (accepted)
    ferme_follow: str  # the id of ferme's Follow of Victim (accepted)
    post: str  # a post of the community, stored on a.test


def listing_note(actor: str, **fields: Any) -> dict[str, Any]:
    return make_note(actor, **(LISTING_FIELDS | fields))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("same-host")
    async with network(tmp, module_db, [TARGET]) as (net, (a,)):
        victim = FakeActor(f"https://{SOCIAL}/users/victim", rsa_key(11))
        mallory = FakeActor(f"https://{SOCIAL}/users/mallory", rsa_key(12))
        other = FakeActor(
            f"https://{SOCIAL}/users/mallory2",
            rsa_key(13),
            extra={"alsoKnownAs": [f"https://{SOCIAL}/users/victim"]},
        )
        group = FakeActor(f"https://{SOCIAL}/groups/club", rsa_key(14), extra={"type": "Group"})
        net.hooks.extend([victim, mallory, other, group])
        await a.structure("ferme", owner="f@a.example")
        await a.person("modo@a.example", role="moderator")
        await follow(a, "ferme", victim.uri)
        await follow(a, "ferme", group.uri)
        # Victim follows ferme, and publishes a listing and a message: all genuine.
        victim_follow = {
            "@context": AS,
            "id": new_id(SOCIAL, "follows"),
            "type": "Follow",
            "actor": victim.uri,
            "object": FERME,
        }
        listing = listing_note(victim.uri)
        mention = [{"type": "Mention", "href": FERME}]
        message = make_note(victim.uri, to=[FERME], tag=mention, content="<p>Bonjour</p>")
        post = make_note(mallory.uri, to=[PUBLIC, group.uri], audience=group.uri)
        genuine: list[tuple[dict[str, Any], FakeActor]] = [
            (victim_follow, victim),
            (create(victim.uri, listing), victim),
            (create(victim.uri, message), victim),
        ]
        for activity, sender in genuine:
            response = await deliver(net, INBOX, activity, sender.signing_key)
            assert response.status_code == 202, response.text
        await net.settle()
        async with a.node.db.session() as session:
            ferme_follow = await session.scalar(
                select(Follow.activity_uri)
                .join(Actor, Follow.followed_id == Actor.id)
                .where(Actor.uri == victim.uri)
            )
        assert ferme_follow is not None
        world = World(
            net,
            a,
            victim,
            mallory,
            other,
            group,
            listing,
            message,
            victim_follow["id"],
            ferme_follow,
            post["id"],
        )
        await _store_group_post(world, post)
        yield world


async def _store_group_post(world: World, post: dict[str, Any]) -> None:
    """The community announces a post of Mallory's (served by social.test): stored on a.test."""

    async def serve_post(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and str(request.url) == post["id"]:
            return httpx.Response(200, json=post, headers={"Content-Type": "application/json"})
        return None

    world.net.hooks.insert(0, serve_post)
    announce = {
        "@context": AS,
        "id": new_id(SOCIAL),
        "type": "Announce",
        "actor": world.group.uri,
        "object": post["id"],
        "to": [PUBLIC],
    }
    response = await deliver(world.net, INBOX, announce, world.group.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    assert (await snapshot(world))["posts"] == [(post["id"], False)]


async def snapshot(world: World, *, but_mallorys_tombstones: bool = False) -> dict[str, Any]:
    """Everything a.test holds that an activity from social.test could change."""
    follower, followed = aliased(Actor), aliased(Actor)
    async with world.node.node.db.session() as session:
        follows = await session.execute(
            select(follower.uri, followed.uri, Follow.state, Follow.activity_uri)
            .join(follower, Follow.follower_id == follower.id)
            .join(followed, Follow.followed_id == followed.id)
        )
        actors = await session.execute(
            select(Actor.uri, Actor.deleted_at, Actor.moved_to, Actor.name).where(
                Actor.uri.in_([world.victim.uri, world.group.uri])
            )
        )
        listings = await session.execute(
            select(Listing.ap_id, Listing.title, Listing.status, Actor.uri).join(
                Actor, Listing.author_id == Actor.id
            )
        )
        tombstones = await session.execute(select(Tombstone.uri, Tombstone.actor_uri))
        messages = await session.execute(
            select(Message.ap_id, Message.content_text, Actor.uri).join(
                Actor, Message.author_id == Actor.id
            )
        )
        posts = await session.execute(select(Post.ap_id, Post.removed))
        reports = await session.scalar(select(func.count()).select_from(Report))
        members = await session.scalar(select(func.count()).select_from(CommunityMember))
    return {
        "follows": sorted(tuple(row) for row in follows),
        "actors": sorted(tuple(row) for row in actors),
        "listings": sorted(tuple(row) for row in listings),
        "tombstones": sorted(
            tuple(row)
            for row in tombstones
            if not (but_mallorys_tombstones and row[1] == world.mallory.uri)
        ),
        "messages": sorted(tuple(row) for row in messages),
        "posts": sorted(tuple(row) for row in posts),
        "reports": reports,
        "members": members,
    }


# ------------------------------------------------------------------ Mallory signs as Victim


def _activity(world: World, kind: str, actor: str, obj: Any, **fields: Any) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": new_id(SOCIAL),
        "type": kind,
        "actor": actor,
        "object": obj,
        "to": [PUBLIC],
        **fields,
    }
