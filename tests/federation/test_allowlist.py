"""Allowlist mode between real nodes: peered territories talk, strangers do not.

A, B and C run with ``federation.mode = "allowlist"``. B lets A in (``domain
allow``, as deploy/README.md tells administrators) and A asks B to peer, which
allows B on A. C allows A but A never allows C: whatever C sends is refused at
A's inbox, and A neither fetches from C nor delivers to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from federation.models import Delivery, Follow
from federation.policy import set_policy
from instance.services import peering
from tests.federation.test_listings_federation import publish, remote_listings
from tests.fedinet import network


async def test_allowlist_lets_peers_in_and_keeps_strangers_out(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(
        tmp_path, new_db_url, ["a.test", "b.test", "c.test"], federation={"mode": "allowlist"}
    ) as (net, (a, b, c)):
        for node, host in ((b, "a.test"), (c, "a.test")):
            async with node.node.db.session() as session:
                await set_policy(session, host, "allow")
        await peering.request(a.node, "acct:territory@b.test")  # allows b.test on A
        await net.settle()
        await peering.approve(b.node, "a.test")
        await net.settle()
        assert {(p.host, p.direction, p.state) for p in await _peerings(a)} == {
            ("b.test", "outgoing", "accepted"),
            ("b.test", "incoming", "accepted"),
        }

        # A peer's listing flows.
        _, created = await publish(a)
        await net.settle()
        assert [i["ap_id"] for i in await remote_listings(b)] == [created["ap_id"]]

        # A stranger's Follow is refused at A's inbox (403) and leaves nothing on A.
        await c.structure("inconnue", owner="i@c.example")
        token_c = await c.token("i@c.example")
        net.log.clear()
        response = await c.api(
            "POST",
            "/api/v1/follows",
            token=token_c,
            json={"actor": "inconnue", "target": "acct:menuiserie@a.test"},
        )
        assert response.status_code == 202, await response.get_data()
        await net.settle()
        refused = [e for e in net.log if e.method == "POST" and _host(e.url) == "a.test"]
        assert refused and all(e.status == 403 for e in refused)
        async with a.node.db.session() as session:
            follows = (await session.execute(select(Follow))).scalars().unique().all()
            assert follows and all(f.follower.domain != "c.test" for f in follows)

        # A does not reach out to C: no lookup, no delivery.
        token_a = await a.token("m@a.example")
        net.log.clear()
        response = await a.api(
            "POST",
            "/api/v1/follows",
            token=token_a,
            json={"actor": "menuiserie", "target": "acct:inconnue@c.test"},
        )
        assert response.status_code in (403, 422), await response.get_data()
        await net.settle()
        assert [e.url for e in net.log if _host(e.url) == "c.test"] == []
        async with a.node.db.session() as session:
            to_c = (
                await session.execute(select(Delivery).where(Delivery.domain == "c.test"))
            ).scalars()
            assert list(to_c) == []


def _host(url: str) -> str:
    return httpx.URL(url).host


async def _peerings(node: object) -> list[peering.Peering]:
    async with node.node.db.session() as session:  # type: ignore[attr-defined]
        return await peering.list_peerings(session)
