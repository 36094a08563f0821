"""Running the backfill jobs (``federation.backfill``): read the followed actor's outbox
with the node's signed fetch, keep the open listings of the last 90 days (at most 300,
10 pages, 60 s), and store them as received activities for the inbox processor.

For a follow, only the followed actor's own activities are kept; for a peering (a
territory following a territory), those of the peer's own actors (its host). A peer
that cannot be reached is tried again later (3 tries); one that answers with a bad or
endless outbox is read as far as the bounds allow and its refused items are logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from config.database import utcnow
from config.wake import Queue, wake_after_commit
from federation.backfill import BackfillJob, Bounds, walk_outbox
from federation.inbox_store import VerifiedActivity, store_fetched
from federation.keys import host_of
from federation.models import Follow
from instance.node import Node

log = logging.getLogger(__name__)
BOUNDS = Bounds()
TRIES = 3
LEASE = timedelta(minutes=5)  # a job claimed by a worker that died is taken again after


def keep_listing(item: dict[str, Any]) -> str | None:
    """Why an outbox item is not backfilled: only the ``Create`` of an open listing (or an
    ``Announce`` of one, which the inbox fetches and checks as when it is pushed)."""
    kind = item.get("type")
    if kind == "Announce":
        return None
    if kind != "Create":
        return f"a {kind!s:.32} (only what creates a listing is read back)"
    obj = item.get("object")
    if not isinstance(obj, dict):
        return "its object is not embedded"
    status = obj.get("entraide:status", "open")
    if status != "open":
        return "not an open listing"
    return None


async def run_due(node: Node, bounds: Bounds = BOUNDS) -> int:
    """Run the oldest due job, if any; 1 if one was taken, else 0."""
    now = utcnow()
    async with node.transaction() as session:
        job = await session.scalar(
            select(BackfillJob)
            .where(BackfillJob.next_attempt_at <= now)
            .order_by(BackfillJob.id)
            .limit(1)
        )
        if job is None:
            return 0
        claimed = await session.execute(
            update(BackfillJob)
            .where(BackfillJob.id == job.id, BackfillJob.next_attempt_at == job.next_attempt_at)
            .values(next_attempt_at=now + LEASE, tries=job.tries + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return 0  # another worker took it
        job_id, tries = job.id, job.tries + 1
        follow = await session.get(Follow, job.follow_id)
        if follow is None or follow.state != "accepted" or not follow.followed.outbox_url:
            await session.execute(delete(BackfillJob).where(BackfillJob.id == job_id))
            return 1
        follower, followed = follow.follower.uri, follow.followed.uri
        outbox = follow.followed.outbox_url
        peering = follow.follower.is_territory and follow.followed.is_territory
    host = host_of(followed)

    def allowed(actor: str) -> bool:
        return host_of(actor) == host if peering else actor == followed

    walk = await walk_outbox(node.remote.fetch, outbox, allowed, keep_listing, bounds, now)
    for item_id, reason in walk.refused[:20]:
        log.info("backfill of %s: refused %s: %s", outbox, item_id, reason)
    failed = walk.stopped is not None and walk.stopped.startswith("fetch failed")
    async with node.transaction() as session:
        if failed and not walk.items and tries < TRIES:
            later = utcnow() + timedelta(minutes=5 * 2**tries)
            await session.execute(
                update(BackfillJob).where(BackfillJob.id == job_id).values(next_attempt_at=later)
            )
            log.warning("backfill of %s: %s; tried again later", outbox, walk.stopped)
            return 1
        received = utcnow()
        new = await store_fetched(
            session,
            [
                VerifiedActivity(
                    activity=item,
                    actor_uri=str(
                        item["actor"] if isinstance(item["actor"], str) else item["actor"]["id"]
                    ),
                    domain=host,
                    key_id="",
                    recipient=follower,
                    received_at=received,
                )
                for item in walk.items
            ],
        )
        await session.execute(delete(BackfillJob).where(BackfillJob.id == job_id))
        if any(new):
            wake_after_commit(session, Queue.INBOX)
    log.info(
        "backfill of %s: %d items kept (%d new), %d refused, %d pages%s",
        outbox, len(walk.items), sum(new), len(walk.refused), walk.pages,
        f", stopped: {walk.stopped}" if walk.stopped else "",
    )  # fmt: skip
    return 1
