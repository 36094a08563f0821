"""The delivery queue's claims and leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from config.database import utcnow
from federation import delivery
from federation.delivery import claim, release_stale_leases
from federation.models import Delivery, DomainHealth
from tests.federation.delivery_support import deliveries, queue
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # queue claims (FOR UPDATE SKIP LOCKED), leases, upserts


async def test_leases(node: TestNode) -> None:
    """A claimed row is invisible to other workers while its lease runs; once the lease has
    expired another worker may take it; ``release_stale_leases`` frees claimed rows at once
    (a single-process restart on SQLite)."""
    db = node.node.db
    ids = await queue(node, 3)
    first = await claim(db, "host:1:delivery", batch=10, lease_seconds=300)
    assert sorted(j.id for j in first) == ids
    assert all(j.key.key_id.endswith("#main-key") for j in first)
    assert await claim(db, "host:2:delivery", batch=10, lease_seconds=300) == []

    async with db.session() as session:  # the first worker died; its lease runs out
        await session.execute(
            update(Delivery)
            .where(Delivery.id == ids[0])
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    taken = await claim(db, "host:2:delivery", batch=10, lease_seconds=300)
    assert [j.id for j in taken] == [ids[0]]
    rows = {d.id: d for d in await deliveries(node)}
    assert rows[ids[0]].locked_by == "host:2:delivery"
    assert rows[ids[1]].locked_by == "host:1:delivery"

    assert await release_stale_leases(db, "host:1") == 2
    rows = {d.id: d for d in await deliveries(node)}
    assert (rows[ids[1]].locked_by, rows[ids[1]].locked_until) == (None, None)
    assert rows[ids[0]].locked_by == "host:2:delivery"
    assert await release_stale_leases(db) == 1
    assert sorted(j.id for j in await claim(db, "w3", batch=10, lease_seconds=60)) == ids


async def test_concurrent_claims_never_share_a_row(node: TestNode) -> None:
    """Twenty workers claim at the same moment from 200 due rows (``FOR UPDATE SKIP LOCKED``
    on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): no row is handed to two of them, and
    together they take every row."""
    db = node.node.db
    ids = await queue(node, 200)
    batches = await asyncio.gather(
        *(claim(db, f"worker-{i}", batch=10, lease_seconds=60) for i in range(20))
    )
    claimed = [job.id for jobs in batches for job in jobs]
    assert len(claimed) == len(set(claimed))
    rest = await claim(db, "late-worker", batch=200, lease_seconds=60)
    everything = claimed + [job.id for job in rest]
    assert sorted(everything) == ids
    owners = {d.id: d.locked_by for d in await deliveries(node)}
    for index, jobs in enumerate(batches):
        assert all(owners[job.id] == f"worker-{index}" for job in jobs)


async def test_unavailable_domain_is_not_claimed(node: TestNode) -> None:
    """Rows of a domain marked unavailable are skipped by ``claim``; ``revive`` makes them due."""
    db = node.node.db
    await queue(node, 2, "down.test")
    ids_up = await queue(node, 1, "up.test")
    async with db.session() as session:
        await delivery.ensure_health(session, ["down.test"])
        await session.execute(
            update(DomainHealth)
            .where(DomainHealth.domain == "down.test")
            .values(unavailable_since=utcnow(), failing_since=utcnow() - timedelta(days=3))
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.domain == "down.test")
            .values(next_attempt_at=utcnow() + timedelta(hours=5))
        )
    assert [j.id for j in await claim(db, "w", batch=10, lease_seconds=60)] == ids_up
    async with db.session() as session:
        await delivery.revive(session, "down.test")
    revived = await claim(db, "w", batch=10, lease_seconds=60)
    assert sorted(j.domain for j in revived) == ["down.test", "down.test"]
