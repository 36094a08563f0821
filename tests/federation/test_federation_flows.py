"""Federation flows between real nodes, and what other servers see of a node.

Three territories (A, B, C) peer, publish, unfollow and block one another; a
structure rotates its keys while followed; and one node is read the way
Mastodon, a NodeInfo crawler or a browser reads it: WebFinger, host-meta,
NodeInfo 2.1, content negotiation on every kind of id, actor documents,
paginated collections and tombstones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from actors.local import territory_actor
from federation.keys import SigningKey, load_private_key_pem
from federation.models import Actor, ActorKey, Delivery, Follow, InboxItem
from federation.signatures import sign_request
from instance.services import peering
from instance.services.keys import rotate_keys
from outbox import follows
from tests.federation.federation_flows_support import AP_JSON, AS, LISTING
from tests.fedinet import FediNet, network
from tests.support import TestNode

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # the whole flow: inbox and delivery claims, upserts


# ------------------------------------------------------------------ helpers


async def peer_with(net: FediNet, asker: TestNode, approver: TestNode) -> None:
    """``asker`` asks to peer, ``approver`` approves: both territories follow each other."""
    await peering.request(asker.node, f"acct:territory@{approver.domain}")
    await net.settle()
    await peering.approve(approver.node, asker.domain)
    await net.settle()


async def publish(node: TestNode, structure: str, owner: str, **changes: Any) -> dict[str, Any]:
    if not await _exists(node, structure):
        await node.structure(structure, owner=owner)
    token = await node.token(owner)
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={**LISTING, "structure": structure, **changes},
    )
    assert response.status_code == 201, await response.get_data()
    created: dict[str, Any] = await response.get_json()
    return created


async def _exists(node: TestNode, handle: str) -> bool:
    async with node.node.db.session() as session:
        found = await session.scalar(select(Actor.id).where(Actor.handle == handle))
    return found is not None


async def remote_ap_ids(node: TestNode) -> list[str]:
    response = await node.api("GET", "/api/v1/listings?origin=remote&status=any")
    assert response.status_code == 200
    return sorted(i["ap_id"] for i in (await response.get_json())["items"])


def carried(net: FediNet, host: str, object_id: str) -> list[tuple[str, int | None]]:
    """(type, status) of the POSTs to ``host`` whose activity names ``object_id``."""
    found = []
    for e in net.sent("POST", host):
        body = json.loads(e.body) if e.body else {}
        obj = body.get("object")
        oid = obj.get("id") if isinstance(obj, dict) else obj
        if oid == object_id:
            found.append((body.get("type"), e.status))
    return found


# ------------------------------------------------------------------ three territories


async def test_three_territories_publish_unfollow_and_block(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """B and C peer with A. A's listing reaches both. B takes back its follow (Undo): A's next
    listing reaches C only. A blocks C: follows with C are severed, C's listings vanish from A,
    A delivers nothing more to C and refuses what C posts."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test", "c.test"]) as (
        net,
        (a, b, c),
    ):
        await peer_with(net, b, a)
        await peer_with(net, c, a)

        first = await publish(a, "menuiserie", "m@a.example")
        await net.settle()
        assert await remote_ap_ids(b) == [first["ap_id"]]
        assert await remote_ap_ids(c) == [first["ap_id"]]
        from_c = await publish(c, "garage", "g@c.example")
        await net.settle()
        assert await remote_ap_ids(a) == [from_c["ap_id"]]

        # B's territory takes back its follow of A's territory.
        async with b.node.transaction() as session:
            mine = await territory_actor(session)
            row = (
                await session.execute(select(Follow).where(Follow.follower_id == mine.id))
            ).scalar_one()
            assert row.followed.uri == "https://a.test/actors/territory"
            await follows.unfollow(session, b.settings, row)
        await net.settle()
        async with a.node.db.session() as session:
            followers = await session.scalars(
                select(Actor.uri)
                .join(Follow, Follow.follower_id == Actor.id)
                .where(Actor.local.is_(False))
            )
            assert sorted(followers) == ["https://c.test/actors/territory"]
        second = await publish(a, "menuiserie", "m@a.example", title="Échafaudage")
        await net.settle()
        assert carried(net, "b.test", second["ap_id"]) == []
        # The structure's Create and the territory's Announce (outbox/listings.py).
        assert sorted(carried(net, "c.test", second["ap_id"])) == [
            ("Announce", 202),
            ("Create", 202),
        ]
        assert await remote_ap_ids(b) == [first["ap_id"]]
        assert await remote_ap_ids(c) == sorted([first["ap_id"], second["ap_id"]])

        # A blocks C.
        async with a.node.transaction() as session:
            await peering.block_domain(session, "c.test", "spam")
        async with a.node.db.session() as session:
            c_actors = select(Actor.id).where(Actor.domain == "c.test")
            severed = await session.scalar(
                select(func.count())
                .select_from(Follow)
                .where(or_(Follow.follower_id.in_(c_actors), Follow.followed_id.in_(c_actors)))
            )
            assert severed == 0
        assert await remote_ap_ids(a) == []
        third = await publish(a, "menuiserie", "m@a.example", title="Perforateur")
        await net.settle()
        assert carried(net, "c.test", third["ap_id"]) == []
        async with a.node.db.session() as session:
            queued = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.domain == "c.test", Delivery.state == "pending")
            )
            assert queued == 0
        before = await _inbox_items(a)
        refused = await publish(c, "garage", "g@c.example", title="Cric")
        await net.settle()
        assert sorted(carried(net, "a.test", refused["ap_id"])) == [
            ("Announce", 403),
            ("Create", 403),
        ]
        assert await _inbox_items(a) == before
        assert await remote_ap_ids(a) == []


async def _inbox_items(node: TestNode) -> int:
    async with node.node.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxItem)) or 0)


# ------------------------------------------------------------------ key rotation


async def test_key_rotation(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """A's structure rotates its keys, then publishes. B, which cached the old key, refetches
    the actor once, verifies the new signatures and applies the Update; a request signed with
    the old key is refused from then on."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("ressourcerie", owner="r@b.example")
        remote = await b.node.remote.resolve("acct:menuiserie@a.test")
        async with b.node.transaction() as session:
            ours = (
                await session.execute(select(Actor).where(Actor.handle == "ressourcerie"))
            ).scalar_one()
            await follows.follow(session, b.settings, ours, await session.merge(remote))
        await net.settle()
        before = await publish(a, "menuiserie", "m@a.example")
        await net.settle()
        assert await remote_ap_ids(b) == [before["ap_id"]]
        old = await _rsa_key(a, "menuiserie", revoked=False)

        net.log.clear()
        async with a.node.transaction() as session:
            await rotate_keys(session, a.node, "menuiserie")
        after = await publish(a, "menuiserie", "m@a.example", title="Ponceuse")
        await net.settle()

        actor_uri = "https://a.test/actors/menuiserie"
        gets = [e for e in net.sent("GET", "a.test") if e.url.split("#")[0] == actor_uri]
        assert len(gets) == 1, [e.url for e in net.log]
        assert await remote_ap_ids(b) == sorted([before["ap_id"], after["ap_id"]])
        updates = [
            (e.json()["type"], e.status)
            for e in net.sent("POST", "b.test")
            if e.json().get("object", {}) and _object_id(e.json()) == actor_uri
        ]
        assert updates == [("Update", 202)]
        async with b.node.db.session() as session:
            states = set(
                await session.scalars(
                    select(InboxItem.state).where(InboxItem.actor_uri == actor_uri)
                )
            )
            assert states == {"done"}
            keys = set(
                await session.scalars(
                    select(ActorKey.key_id).join(Actor).where(Actor.uri == actor_uri)
                )
            )
        new = await _rsa_key(a, "menuiserie", revoked=False)
        assert old.key_id in {k.key_id for k in await _all_keys(a, "menuiserie")}
        assert old.key_id not in keys
        assert new.key_id in keys

        # The old key verifies nothing any more, even with an activity B would accept.
        update = {
            "@context": AS,
            "id": "https://a.test/activities/signed-with-the-old-key",
            "type": "Update",
            "actor": actor_uri,
            "object": actor_uri,
        }
        body = json.dumps(update).encode()
        url = "https://b.test/inbox"
        headers = {"Content-Type": AP_JSON}
        headers.update(sign_request("POST", url, headers, body, old))
        response = await net.post(url, body, headers)
        assert response.status_code == 401
        assert response.json()["error"] == "key_unavailable"


def _object_id(activity: dict[str, Any]) -> str | None:
    obj = activity.get("object")
    value = obj.get("id") if isinstance(obj, dict) else obj
    return value if isinstance(value, str) else None


async def _all_keys(node: TestNode, handle: str) -> list[ActorKey]:
    async with node.node.db.session() as session:
        return list(
            await session.scalars(
                select(ActorKey).join(Actor).where(Actor.handle == handle, Actor.local.is_(True))
            )
        )


async def _rsa_key(node: TestNode, handle: str, *, revoked: bool) -> SigningKey:
    for key in await _all_keys(node, handle):
        if key.kind == "rsa" and (key.revoked_at is not None) == revoked and key.private_key:
            private = load_private_key_pem(key.private_key)
            return SigningKey(key.key_id, private)
    raise AssertionError("no such key")
