"""Attacks on the inbox in several steps: replays, blocked and gone senders, allowlist mode."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation.models import Follow, InboxItem
from federation.policy import set_policy
from tests.fedinet import FakeActor, FediNet, network
from tests.security import inbox_attacks_support
from tests.security.helpers import AS, PUBLIC, inbox_count, new_id, rsa_key
from tests.security.inbox_attacks_support import (
    INBOXES,
    TARGET,
    World,
    _body,
    note_create,
    send,
    signed,
    signs_for_another_server,
)

world = inbox_attacks_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def fresh_log(world: World) -> FediNet:
    """The network log, emptied before the test."""
    world.net.log.clear()
    return world.net


@pytest.mark.dialect  # the inbox's upsert (ON CONFLICT) per dialect
async def test_replay_is_stored_and_processed_once(world: World) -> None:
    """Attack: the same Follow (same id) posted twice — a replay, or a retry after a lost 202.
    Both are answered 202, but one inbox item is stored and the Follow is handled once: one
    follow row and one Accept sent back."""
    follow = {
        "@context": AS,
        "id": new_id("remote.test"),
        "type": "Follow",
        "actor": world.alice.uri,
        "object": f"https://{TARGET}/actors/territory",
    }
    body = _body(follow)
    world.alice.received.clear()
    for inbox in INBOXES:
        url = f"https://{TARGET}{inbox}"
        response = await world.net.post(url, body, signed(url, body, world.alice.signing_key))
        assert response.status_code == 202, response.text
    await world.net.settle()
    async with world.node.node.db.session() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.activity_uri == follow["id"])
        )
        follows = await session.scalar(
            select(func.count()).select_from(Follow).where(Follow.activity_uri == follow["id"])
        )
        state = await session.scalar(
            select(InboxItem.state).where(InboxItem.activity_uri == follow["id"])
        )
    assert (rows, follows, state) == (1, 1, "done")
    accepts = [json.loads(r.content) for r in world.alice.received]
    assert [(a["type"], a["object"]["id"]) for a in accepts] == [("Accept", follow["id"])]


async def test_blocked_domain_is_refused_without_fetching_its_key(
    world: World, fresh_log: FediNet
) -> None:
    """Attack: a blocked server keeps posting. It is refused (403 ``domain_blocked``) before
    its key is fetched: no request at all goes to it, so it cannot even learn that we tried."""
    for inbox in INBOXES:
        before = await inbox_count(world.node)
        body = _body(note_create(world.banned.uri))
        url = f"https://{TARGET}{inbox}"
        response = await world.net.post(url, body, signed(url, body, world.banned.signing_key))
        assert response.status_code == 403
        assert response.json()["error"] == "domain_blocked"
        assert await inbox_count(world.node) == before
    assert fresh_log.sent("GET", "banned.test") == []
    assert [e.url for e in fresh_log.log if "banned.test" in e.url] == []


async def test_key_of_another_server_is_refused_without_fetching_it(
    world: World, fresh_log: FediNet
) -> None:
    """Attack: requests naming Alice as actor and a keyId on Mallory's server, to make the
    node send requests to a host of Mallory's choosing (a slow one, to hold its connections)
    on the credit of an honest actor. A key elsewhere than the actor's host cannot be the
    actor's: 403 ``origin_mismatch`` before any request leaves, nothing stored."""
    for inbox in INBOXES:
        before = await inbox_count(world.node)
        response = await send(world, signs_for_another_server(world, inbox))
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "origin_mismatch"
        assert await inbox_count(world.node) == before
    assert fresh_log.sent("GET", "evil.test") == []


async def test_delete_of_a_gone_unknown_actor_is_dropped(world: World) -> None:
    """A deleted actor's server sends its Delete; the key answers 410 and we never knew that
    actor: answered 202 (the sender must not retry for days) and nothing is stored."""
    before = await inbox_count(world.node)
    delete = {
        "@context": AS,
        "id": f"{world.ghost.uri}#delete",
        "type": "Delete",
        "actor": world.ghost.uri,
        "object": world.ghost.uri,
        "to": [PUBLIC],
    }
    body = _body(delete)
    url = f"https://{TARGET}/inbox"
    response = await world.net.post(url, body, signed(url, body, world.ghost.signing_key))
    assert response.status_code == 202, response.text
    assert await inbox_count(world.node) == before


async def test_gone_actor_cannot_do_anything_else(world: World) -> None:
    """The 410 shortcut is for a self-Delete only: any other activity of a gone actor is 401."""
    body = _body(note_create(world.ghost.uri))
    url = f"https://{TARGET}/inbox"
    response = await world.net.post(url, body, signed(url, body, world.ghost.signing_key))
    assert response.status_code == 401
    assert response.json()["error"] == "key_unavailable"


async def test_allowlist_mode(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """In allowlist mode an unknown domain is refused (403, no key fetch) and an allowed one
    is accepted."""
    async with network(tmp_path, new_db_url, [TARGET], federation={"mode": "allowlist"}) as (
        net,
        (a,),
    ):
        stranger = FakeActor("https://stranger.test/users/s", rsa_key(5))
        friend = FakeActor("https://friend.test/users/f", rsa_key(6))
        net.hooks.extend([stranger, friend])
        async with a.node.db.session() as session:
            await set_policy(session, "friend.test", "allow")
        url = f"https://{TARGET}/inbox"
        outcomes = []
        for actor in (stranger, friend):
            body = _body(note_create(actor.uri))
            response = await net.post(url, body, signed(url, body, actor.signing_key))
            outcomes.append(
                (
                    response.status_code,
                    response.json().get("error") if response.status_code != 202 else None,
                )
            )
        assert outcomes == [(403, "domain_blocked"), (202, None)]
        assert net.sent("GET", "stranger.test") == []
        assert await inbox_count(a) == 1
