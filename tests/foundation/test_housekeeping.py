"""Housekeeping: finished queue rows older than ``workers.keep_days`` go, the rest stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from config.database import utcnow
from federation.models import Activity, Actor, Delivery, InboxItem
from instance.housekeeping import prune
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # time comparisons on queue rows


async def test_finished_rows_are_pruned_pending_ones_never(node: TestNode) -> None:
    now = utcnow()
    old = now - timedelta(days=node.settings.workers.keep_days + 1)
    recent = now - timedelta(days=1)
    async with node.node.db.session() as session:
        for name, state, processed in [
            ("old-done", "done", old),
            ("old-ignored", "ignored", old),
            ("old-failed", "failed", old),
            ("recent-done", "done", recent),
            ("old-pending", "pending", None),  # received long ago, never processed: kept
        ]:
            session.add(
                InboxItem(
                    activity_uri=f"https://r.example/{name}",
                    activity_type="Create",
                    actor_uri="https://r.example/u",
                    domain="r.example",
                    body="{}",
                    state=state,
                    received_at=old,
                    processed_at=processed,
                )
            )
        territory = await session.scalar(select(Actor).where(Actor.handle == "territory"))
        assert territory is not None
        activity = Activity(
            uri="https://a.test/activities/h1", actor_id=territory.id, type="Create", body={}
        )
        session.add(activity)
        await session.flush()
        for n, (state, done_at) in enumerate(
            [("done", old), ("dead", old), ("done", recent), ("pending", None)]
        ):
            session.add(
                Delivery(
                    activity_id=activity.id,
                    inbox_url=f"https://r{n}.example/inbox",
                    domain=f"r{n}.example",
                    state=state,
                    created_at=old,
                    done_at=done_at,
                )
            )

    assert await prune(node.node) == {"inbox_items": 3, "deliveries": 2}

    async with node.node.db.session() as session:
        left = set((await session.scalars(select(InboxItem.activity_uri))).all())
        assert left == {"https://r.example/recent-done", "https://r.example/old-pending"}
        deliveries = (await session.execute(select(Delivery.state, Delivery.domain))).all()
        assert sorted(deliveries) == [("done", "r2.example"), ("pending", "r3.example")]
        assert await session.get(Activity, activity.id) is not None  # outboxes keep their history
    assert await prune(node.node) == {"inbox_items": 0, "deliveries": 0}
