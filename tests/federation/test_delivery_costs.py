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

from typing import Any

import pytest
from sqlalchemy import event, select

from federation.delivery import Outcome, claim, enqueue, record
from federation.models import Activity, Actor, Delivery
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
