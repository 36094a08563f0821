"""The background loops of a node: delivery, inbox processing, expiry.

``register_loops`` is called by ``create_app`` (for ``serve``) and by the
``worker`` command. Each loop sleeps on its wake-up event (set after a commit
that queued work for it) or the poll interval (work queued by another
process), and stops between units of work when the node stops.
"""

from __future__ import annotations

import logging

from federation.delivery import DeliveryWorker, release_stale_leases
from instance.background import Background
from instance.node import Node

log = logging.getLogger(__name__)


def register_loops(node: Node) -> None:
    settings = node.settings

    async def delivery(bg: Background) -> None:
        if node.db.is_sqlite:
            # On SQLite this process is the only worker: leases left by a crash are ours.
            released = await release_stale_leases(node.db)
            if released:
                log.info("released %d deliveries claimed before a restart", released)
        worker = DeliveryWorker(
            node.db,
            lambda: node.http,
            concurrency=settings.federation.delivery_concurrency,
            per_host=settings.federation.per_host_concurrency,
            batch=settings.workers.batch_size,
            lease_seconds=settings.workers.lease_seconds,
            poll_interval=settings.workers.poll_interval,
        )
        await worker.run(bg.stopping, lambda seconds: bg.sleep("delivery", seconds))

    node.background.register("delivery", delivery)
