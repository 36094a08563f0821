"""The background loops of a node: delivery, inbox processing, expiry, matching, and the
dashboard's figures (``instance.services.stats_cells.refresh``).

``register_loops`` is called by ``create_app`` (for ``serve`` and the
``worker`` command). Each loop sleeps on its wake-up event (set after a
commit that queued work for it) or the poll interval (work queued by another
process), and stops between units of work when the node stops.
``make_delivery_worker`` and ``make_inbox_processor`` are also used by tests
and benchmarks to drain the queues on demand.
"""

from __future__ import annotations

import logging
import time

from federation import delivery
from federation.delivery import DeliveryWorker
from inbox import processor
from inbox.context import Context
from inbox.processor import InboxProcessor
from instance.background import Background
from instance.node import Node

log = logging.getLogger(__name__)
EXPIRY_INTERVAL = 600.0  # seconds between two expiry passes
MAIL_INTERVAL = 30.0
STATS_INTERVAL = 10.0  # seconds between two refreshes of the dashboard's days
MATCHING_QUIET = 0.5  # seconds without an activity accepted before matching runs
MATCHING_WAIT_MAX = 10.0  # ... but a batch of matching never waits longer than this


def matching_may_run(accepted_at: float, waiting_since: float, now: float) -> bool:
    """Whether the matching loop may take its next batch now (monotonic seconds).

    Accepting comes first: while this process's inbox is accepting activities (a burst
    of listings from a peer), matching — tens of milliseconds of CPU a listing, in the
    same process on SQLite — waits until the inbox has been quiet for
    :data:`MATCHING_QUIET` seconds, so that it does not slow the 202s down. It never
    waits more than :data:`MATCHING_WAIT_MAX` seconds for a batch: under a burst that
    does not end, matching still moves, one batch at a time, and catches up after.
    """
    return now - accepted_at >= MATCHING_QUIET or now - waiting_since >= MATCHING_WAIT_MAX


def make_delivery_worker(node: Node) -> DeliveryWorker:
    settings = node.settings
    return DeliveryWorker(
        node.db,
        lambda: node.http,
        client_for=node.delivery_client,
        poster=node.delivery_poster(),
        concurrency=settings.federation.delivery_concurrency,
        per_host=settings.federation.per_host_concurrency,
        batch=settings.workers.batch_size,
        lease_seconds=settings.workers.lease_seconds,
        poll_interval=settings.workers.poll_interval,
        on_outcome=node.metrics.delivery_outcome if node.metrics else None,
    )


def make_inbox_processor(node: Node) -> InboxProcessor:
    settings = node.settings
    ctx = Context(settings=settings, db=node.db, remote=node.remote, transaction=node.transaction)
    return InboxProcessor(
        ctx,
        batch=settings.workers.batch_size,
        lease_seconds=settings.workers.lease_seconds,
        poll_interval=settings.workers.poll_interval,
        on_outcome=node.metrics.inbox_outcome if node.metrics else None,
    )


async def drain(node: Node) -> int:
    """Process the inbox, match queued listings and send due deliveries until all are
    empty (tests, tools)."""
    from instance.services.backfill import run_due
    from instance.services.matching import run_queue

    inbox = make_inbox_processor(node)
    sender = make_delivery_worker(node)
    total = 0
    while True:
        done = await inbox.drain() + await sender.drain()
        while matched := await run_queue(node.db, node.transaction):
            done += matched
        while await run_due(node):
            done += 1
        total += done
        if done == 0:
            return total


def register_loops(node: Node) -> None:
    async def delivery_loop(bg: Background) -> None:
        if node.db.is_sqlite:
            # On SQLite this process is the only worker: leases left by a crash are ours.
            released = await delivery.release_stale_leases(node.db)
            if released:
                log.info("released %d deliveries claimed before a restart", released)
        worker = make_delivery_worker(node)
        await worker.run(bg.stopping, lambda seconds: bg.sleep("delivery", seconds))

    async def inbox_loop(bg: Background) -> None:
        if node.db.is_sqlite:
            released = await processor.release_stale_leases(node.db)
            if released:
                log.info("released %d inbox items claimed before a restart", released)
        await make_inbox_processor(node).run(
            bg.stopping, lambda seconds: bg.sleep("inbox", seconds)
        )

    async def expiry_loop(bg: Background) -> None:
        from instance.expiry import expire_due
        from instance.housekeeping import prune, prune_idempotency_keys, prune_mail

        while not bg.stopping.is_set():
            await expire_due(node)
            await prune(node)
            await prune_mail(node)
            await prune_idempotency_keys(node)
            await bg.sleep("expiry", EXPIRY_INTERVAL)

    async def mail_loop(bg: Background) -> None:
        from instance.mail import release_stale, send_pending

        if node.db.is_sqlite:
            released = await release_stale(node)
            if released:
                log.info("released %d mails claimed before a restart", released)
        while not bg.stopping.is_set():
            try:
                sent = await send_pending(node)
            except OSError as exc:  # the SMTP server is unreachable: the mails wait for it
                log.warning("could not send e-mail (it waits in the queue): %s", exc)
                sent = 0
            if not sent:
                await bg.sleep("mail", MAIL_INTERVAL)

    async def matching_loop(bg: Background) -> None:
        from instance.services.matching import run_queue

        while not bg.stopping.is_set():
            waiting_since = time.monotonic()
            while not matching_may_run(node.inbox_accepted_at, waiting_since, time.monotonic()):
                await bg.sleep("matching-quiet", MATCHING_QUIET / 2)
                if bg.stopping.is_set():
                    return
            if not await run_queue(node.db, node.transaction):
                await bg.sleep("matching", node.settings.workers.poll_interval)

    async def stats_loop(bg: Background) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from instance.services.stats_cells import refresh

        while not bg.stopping.is_set():
            try:
                async with node.transaction() as session:
                    done = await refresh(session, node.db.dialect)
            except SQLAlchemyError as exc:  # busy or gone: the next pass tries again
                log.warning("could not refresh the dashboard's figures: %s", exc)
                done = 0
            if not done:
                await bg.sleep("stats", STATS_INTERVAL)

    async def backfill_loop(bg: Background) -> None:
        from instance.services.backfill import run_due

        while not bg.stopping.is_set():
            if not await run_due(node):
                await bg.sleep("backfill", node.settings.workers.poll_interval)

    node.background.register("delivery", delivery_loop)
    node.background.register("backfill", backfill_loop)
    node.background.register("stats", stats_loop)
    node.background.register("matching", matching_loop)
    node.background.register("inbox", inbox_loop)
    node.background.register("expiry", expiry_loop)
    # Also without an SMTP server: notifications are queued and old mails given up.
    node.background.register("mail", mail_loop)
