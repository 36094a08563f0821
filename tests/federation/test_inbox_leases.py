"""Inbox items are claimed with leases like deliveries (federation.leases): one worker at a
time, taken again after the lease, freed at once after a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from config.database import utcnow
from federation.models import InboxItem
from inbox.processor import release_stale_leases
from instance.workers import make_inbox_processor
from tests.support import TestNode


async def _items(node: TestNode, count: int) -> list[int]:
    async with node.node.db.session() as session:
        rows = [
            InboxItem(
                activity_uri=f"https://peer.test/activities/{i}",
                activity_type="Create",
                actor_uri="https://peer.test/users/a",
                domain="peer.test",
                body="{}",
            )
            for i in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def _locks(node: TestNode) -> dict[int, str | None]:
    async with node.node.db.session() as session:
        rows = await session.execute(select(InboxItem.id, InboxItem.locked_by))
        return {id_: by for id_, by in rows.all()}


async def test_inbox_leases(node: TestNode) -> None:
    ids = await _items(node, 3)
    first, second = make_inbox_processor(node.node), make_inbox_processor(node.node)
    first.worker_id, second.worker_id = "host:1:inbox", "host:2:inbox"
    assert [item.id for item in await first.claim()] == ids  # in arrival order
    assert await second.claim() == []

    async with node.node.db.session() as session:  # the first worker died; its lease runs out
        await session.execute(
            update(InboxItem)
            .where(InboxItem.id == ids[0])
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert [item.id for item in await second.claim()] == [ids[0]]
    assert await _locks(node) == {
        ids[0]: "host:2:inbox",
        ids[1]: "host:1:inbox",
        ids[2]: "host:1:inbox",
    }
    assert await release_stale_leases(node.node.db) == 3
    assert set((await _locks(node)).values()) == {None}


async def test_concurrent_inbox_claims_never_share_an_item(node: TestNode) -> None:
    ids = await _items(node, 60)
    workers = [make_inbox_processor(node.node) for _ in range(6)]
    for i, worker in enumerate(workers):
        worker.worker_id, worker.batch = f"worker-{i}", 10
    batches = await asyncio.gather(*(worker.claim() for worker in workers))
    claimed = [item.id for items in batches for item in items]
    assert len(claimed) == len(set(claimed))
    late = make_inbox_processor(node.node)
    late.worker_id, late.batch = "late-worker", 100
    assert sorted(claimed + [item.id for item in await late.claim()]) == ids
    owners = await _locks(node)
    for worker, items in zip(workers, batches, strict=True):
        assert all(owners[item.id] == worker.worker_id for item in items)
