"""What recording a batch of delivery outcomes costs the database (found by bench/delivery.py).

Not an end-to-end test: it runs in process on both backends. It lives here
because it came out of the delivery benchmark; its natural home is
``tests/federation/test_delivery.py``.

``federation.delivery.record`` writes the outcomes of a batch in one
transaction. It used to issue one ``UPDATE deliveries`` per outcome, each
preceded by an autoflush of the changed ``domain_health`` row: two statements
per delivery, and on a loaded 2-core machine about 12 ms per delivery, which
capped one process at about 50 deliveries a second whatever the network.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from config.database import utcnow
from federation.delivery import Outcome, claim, enqueue, record, record_and_claim, release
from federation.models import Activity, Actor, Delivery, DomainHealth
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # delivery queue

BATCH = 20


async def queue(node: TestNode, n: int) -> None:
    async with node.node.db.session() as session:
        actor = (
            await session.execute(select(Actor).where(Actor.is_territory.is_(True)))
        ).scalar_one()
        activity = Activity(
            uri=f"{node.base_url}/bench/1", actor_id=actor.id, type="Create", body={"id": "x"}
        )
        session.add(activity)
        inboxes = [f"https://r{i % 4}.example/users/{i}/inbox" for i in range(n)]
        await enqueue(session, activity, inboxes, own_domain=node.domain)


async def test_recording_a_batch_takes_a_few_statements_not_two_per_delivery(
    node: TestNode,
) -> None:
    """Given 20 claimed deliveries to 4 servers, 15 delivered, 3 to retry and 2 refused,
    recording them runs a handful of statements, and every row ends as it should."""
    await queue(node, BATCH)
    jobs = await claim(node.node.db, "w", batch=BATCH, lease_seconds=60)
    assert len(jobs) == BATCH
    outcomes = [Outcome(job, 202, None) for job in jobs[:15]]
    outcomes += [Outcome(job, 503, "HTTP 503") for job in jobs[15:18]]
    outcomes += [Outcome(job, 403, "HTTP 403") for job in jobs[18:]]

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]).split(None, 2)[0])

    engine = node.node.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await record(node.node.db, outcomes)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    updates = statements.count("UPDATE")
    assert updates <= 8, statements  # was 2 per delivery: 40
    async with node.node.db.session() as session:
        rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars().all()
    states = {row.id: (row.state, row.tries, row.locked_by) for row in rows}
    for job in jobs[:15]:
        assert states[job.id] == ("done", 1, None)
    for job in jobs[15:18]:
        assert states[job.id] == ("pending", 1, None)
    for job in jobs[18:]:
        assert states[job.id] == ("dead", 1, None)


async def test_a_batch_of_successes_heals_its_servers_without_reading_a_row(
    node: TestNode,
) -> None:
    """Given 8 deliveries to 4 servers, all answered 202 — one server marked unavailable
    after days of failures, three never seen before — recording them reads no row
    (one UPDATE of the healths, their first rows inserted, one executemany of the
    deliveries), and every server ends healthy, every delivery done."""
    await queue(node, 8)
    jobs = await claim(node.node.db, "w", batch=8, lease_seconds=60)
    long_ago = utcnow() - timedelta(days=3)
    async with node.node.db.session() as session:
        session.add(
            DomainHealth(
                domain="r0.example",
                failures=40,
                failing_since=long_ago,
                unavailable_since=long_ago,
                last_failure_at=long_ago,
            )
        )

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]).split(None, 1)[0])

    engine = node.node.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await record(node.node.db, [Outcome(job, 202, None) for job in jobs])
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert "SELECT" not in statements, statements
    assert statements.count("UPDATE") == 3, statements  # healths, the new ones, deliveries
    async with node.node.db.session() as session:
        healths = (await session.execute(select(DomainHealth))).scalars().all()
        rows = (await session.execute(select(Delivery))).scalars().all()
    assert sorted(h.domain for h in healths) == [f"r{i}.example" for i in range(4)]
    for health in healths:
        assert (health.failures, health.failing_since, health.unavailable_since) == (0, None, None)
        assert health.last_success_at is not None and health.last_success_at > long_ago
    assert {(row.state, row.tries, row.locked_by) for row in rows} == {("done", 1, None)}


async def test_a_batch_of_successes_is_recorded_with_the_next_claim_in_one_transaction(
    node: TestNode,
) -> None:
    """Outcomes that are all successes and the worker's next claim share one commit; the
    jobs claimed then but never sent (the worker stopped) are released at once, not after
    their lease."""
    await queue(node, 12)
    db = node.node.db
    first = await claim(db, "w", batch=4, lease_seconds=60)
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(db.engine.sync_engine, "commit", committed)
    try:
        more = await record_and_claim(
            db, [Outcome(job, 202, None) for job in first], "w", batch=4, lease_seconds=60
        )
    finally:
        event.remove(db.engine.sync_engine, "commit", committed)
    assert len(commits) == 1
    assert len(more) == 4 and not {j.id for j in more} & {j.id for j in first}

    await release(db, more, "w")
    async with db.session() as session:
        rows = {r.id: r for r in (await session.execute(select(Delivery))).scalars().all()}
    assert {(rows[j.id].state, rows[j.id].locked_by) for j in first} == {("done", None)}
    assert {(rows[j.id].state, rows[j.id].locked_by) for j in more} == {("pending", None)}
    again = await claim(db, "other", batch=4, lease_seconds=60)
    assert sorted(j.id for j in again) == sorted(j.id for j in more)  # due again at once
