"""The inbox handlers as units: a handler called with a Context on a real SQLite database.

No signature, no HTTP inbox, no second node: the activity is parsed with
``Incoming.parse`` and handed to the handler of its type (``inbox.processor.
handlers``), as the processor does after verification and storage. The remote
actor is a :class:`~tests.fedinet.FakeActor` served by a hook, for the fetch
the handler makes. Each test checks one handler's effect on the database and
on the delivery queue (and, last, the outbox functions of follows the same
way); the multi-node flows (``test_federation_flows.py``,
``test_follow_and_peering.py``, ``test_follower_approval.py``) prove the same
end to end.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from federation.models import Activity, Actor, Delivery, Follow
from inbox.activity import Incoming
from inbox.context import Context
from inbox.dispatch import handlers
from outbox import follows
from tests.fastcrypto import POOL
from tests.fedinet import FakeActor, FediNet
from tests.support import TestNode, make_settings, running_node

AS = "https://www.w3.org/ns/activitystreams"
REMOTE = "https://remote.example/users/alice"
STRUCTURE = "https://a.test/actors/menuiserie"
_ids = itertools.count(1)


@dataclass
class Unit:
    node: TestNode
    ctx: Context
    net: FediNet

    async def handle(self, activity: dict[str, Any]) -> str | None:
        act = Incoming.parse({"@context": AS, **activity}, recipient="https://a.test/inbox")
        return await handlers()[act.type](self.ctx, act)

    async def follow_state(self, followed: str = STRUCTURE) -> str | None:
        async with self.node.node.db.read() as session:
            row = (
                await session.execute(
                    select(Follow)
                    .join(Actor, Follow.follower_id == Actor.id)
                    .where(Actor.uri == REMOTE)
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            assert row.followed.uri == followed
            return row.state

    async def sent(self, kind: str) -> list[dict[str, Any]]:
        """Bodies of the activities of ``kind`` queued for alice's server."""
        async with self.node.node.db.read() as session:
            rows = await session.execute(
                select(Activity.body)
                .join(Delivery, Delivery.activity_id == Activity.id)
                .where(Activity.type == kind, Delivery.domain == "remote.example")
            )
            return [dict(body) for body in rows.scalars()]


def _follow(target: str = STRUCTURE) -> dict[str, Any]:
    return {
        "id": f"{REMOTE}#follows/{next(_ids)}",
        "type": "Follow",
        "actor": REMOTE,
        "object": target,
    }


async def _unit(tmp_path: Path, db_url: str, **sections: dict[str, Any]) -> AsyncIterator[Unit]:
    net = FediNet()
    alice = FakeActor(REMOTE, POOL.key())
    net.hooks.append(alice)
    settings = make_settings(tmp_path / "a", db_url, **sections)
    async with running_node(settings, http_transport=net) as node:
        await node.structure("menuiserie", owner="m@a.example")
        await node.structure("attente", owner="m@a.example", approved=False)
        n = node.node
        ctx = Context(settings=settings, db=n.db, remote=n.remote, transaction=n.transaction)
        yield Unit(node, ctx, net)


@pytest.fixture
async def unit(tmp_path: Path, db_url: str) -> AsyncIterator[Unit]:
    async for made in _unit(tmp_path, db_url):
        yield made


@pytest.fixture
async def by_hand(tmp_path: Path, db_url: str) -> AsyncIterator[Unit]:
    """Structures approve their followers by hand."""
    async for made in _unit(tmp_path, db_url, federation={"auto_accept_follows": False}):
        yield made


async def test_follow_of_a_structure_is_accepted_and_answered(unit: Unit) -> None:
    """Follow handler: an accepted follow row, and one Accept naming the Follow queued for
    the follower's inbox."""
    follow = _follow()
    assert await unit.handle(follow) is None
    assert await unit.follow_state() == "accepted"
    accepts = await unit.sent("Accept")
    assert len(accepts) == 1
    assert accepts[0]["actor"] == STRUCTURE
    accepted = accepts[0]["object"]
    assert (accepted["id"] if isinstance(accepted, dict) else accepted) == follow["id"]


async def test_repeated_follow_is_confirmed_without_a_second_row(unit: Unit) -> None:
    """Follow handler: the same follower following again keeps one row, accepted, and is
    answered again (its first Accept may have been lost)."""
    await unit.handle(_follow())
    await unit.handle(_follow())
    async with unit.node.node.db.read() as session:
        rows = (await session.execute(select(Follow))).scalars().all()
    assert [row.state for row in rows if row.follower.uri == REMOTE] == ["accepted"]
    assert len(await unit.sent("Accept")) == 2


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://a.test/actors/nobody", "follow of an unknown actor"),
        # A structure awaiting approval has no actor yet.
        ("https://a.test/actors/attente", "follow of an unknown actor"),
    ],
)
async def test_follow_of_what_cannot_be_followed_is_ignored(
    unit: Unit, target: str, reason: str
) -> None:
    """Follow handler: a follow of an unknown actor or of a structure awaiting approval
    stores nothing and answers nothing, with the reason on the item."""
    assert await unit.handle(_follow(target)) == reason
    async with unit.node.node.db.read() as session:
        assert (await session.execute(select(Follow))).scalars().all() == []
    assert await unit.sent("Accept") == []


async def test_follow_waits_when_followers_are_approved_by_hand(by_hand: Unit) -> None:
    """Follow handler with ``auto_accept_follows = false``: the follow is pending and
    nothing is sent until the structure answers."""
    assert await by_hand.handle(_follow()) is None
    assert await by_hand.follow_state() == "pending"
    assert await by_hand.sent("Accept") == []


async def test_undo_of_a_follow_removes_it(unit: Unit) -> None:
    """Undo handler: the Undo of an accepted Follow removes the follow row."""
    follow = _follow()
    await unit.handle(follow)
    assert await unit.follow_state() == "accepted"
    undo = {"id": f"{REMOTE}#undo/{next(_ids)}", "type": "Undo", "actor": REMOTE}
    assert await unit.handle({**undo, "object": follow}) is None
    assert await unit.follow_state() is None


async def test_undo_by_another_actor_changes_nothing(unit: Unit) -> None:
    """Undo handler: an Undo naming alice's Follow but sent by another actor leaves the
    follow in place (only the follower takes its follow back)."""
    follow = _follow()
    await unit.handle(follow)
    mallory = FakeActor("https://remote.example/users/mallory", POOL.key())
    unit.net.hooks.append(mallory)
    undo = {"id": f"{mallory.uri}#undo/1", "type": "Undo", "actor": mallory.uri, "object": follow}
    await unit.handle(undo)
    assert await unit.follow_state() == "accepted"


# --- the outbox side of follows, as units --------------------------------------------------


async def test_outbox_remove_follower_rejects_and_forgets(by_hand: Unit) -> None:
    """``outbox.follows.remove_follower``: alice's pending follow is removed and one Reject
    embedding her Follow (its id, her as actor) is queued for her server only."""
    follow = _follow()
    await by_hand.handle(follow)
    async with by_hand.ctx.transaction() as session:
        row = (await session.execute(select(Follow))).scalar_one()
        await follows.remove_follower(session, by_hand.node.settings, row)
    assert await by_hand.follow_state() is None
    rejects = await by_hand.sent("Reject")
    assert len(rejects) == 1
    assert rejects[0]["actor"] == STRUCTURE
    assert rejects[0]["to"] == [REMOTE]
    assert rejects[0]["object"] == {**follow, "object": STRUCTURE}


async def test_outbox_follow_of_a_remote_actor_is_sent_and_pending(unit: Unit) -> None:
    """``outbox.follows.follow``: a local structure following a remote actor keeps a pending
    row whose activity id is the Follow queued for the remote server, addressed to it."""
    remote = await unit.ctx.remote.actor(REMOTE)
    async with unit.ctx.transaction() as session:
        local = (await session.execute(select(Actor).where(Actor.uri == STRUCTURE))).scalar_one()
        row = await follows.follow(session, unit.node.settings, local, await session.merge(remote))
        assert row.state == "pending"
        activity_uri = row.activity_uri
    sent = await unit.sent("Follow")
    assert [body["id"] for body in sent] == [activity_uri]
    assert sent[0]["actor"] == STRUCTURE
    assert sent[0]["object"] == REMOTE
