"""Housekeeping: the queues do not grow for ever.

Every received activity is kept as an ``inbox_items`` row (its raw body
included, up to ``federation.max_body_bytes``) and every delivery as a
``deliveries`` row. Once finished — processed, ignored or failed; delivered or
given up — a row is only history, so rows finished more than
``workers.keep_days`` days ago (14 by default) are deleted, in small batches
(each its own short transaction, so the single SQLite writer is never held
long). Rows still pending or leased are never touched.

Why 14 days is safe: the ``inbox_items`` row is also what recognises a replay
of the same activity id. A replayed request carries its original signature,
whose ``Date`` is refused after ``federation.signature_window_seconds`` (one
hour); an honest sender retrying with a fresh signature gives up after about
two days (Mastodon's schedule, and ours). Both are far inside the window.
Published activities (``activities``) are not pruned: they are the actors'
outboxes. Sent or failed e-mails (``outgoing_mail``, which hold reset links and
notification texts) go after the same number of days (:func:`prune_mail`), and the JSON
API's idempotency keys after ``web.idempotency_hours`` (:func:`prune_idempotency_keys`;
``instance.services.idempotency``).

It runs with the expiry loop (every ten minutes); ``entraide`` processes on
PostgreSQL may run it at once, which only means deleting the same rows twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from config.database import utcnow
from domain.idempotency import IdempotencyKey
from domain.mail_states import FINISHED as MAIL_FINISHED
from domain.outgoing_mail import OutgoingMail
from federation.models import Delivery, InboxItem
from instance.node import Node
from instance.services import password_reset

log = logging.getLogger(__name__)
BATCH = 1000
INBOX_FINISHED = ("done", "ignored", "failed")
DELIVERY_FINISHED = ("done", "dead")


async def prune(node: Node) -> dict[str, int]:
    """Delete finished rows older than ``workers.keep_days``; returns how many, by table."""
    cutoff = utcnow() - timedelta(days=node.settings.workers.keep_days)
    removed = {
        "inbox_items": await _prune(
            node,
            InboxItem,
            InboxItem.state.in_(INBOX_FINISHED),
            InboxItem.processed_at < cutoff,
        ),
        "deliveries": await _prune(
            node, Delivery, Delivery.state.in_(DELIVERY_FINISHED), Delivery.done_at < cutoff
        ),
    }
    if any(removed.values()):
        log.info(
            "pruned %d inbox items and %d deliveries finished before %s",
            removed["inbox_items"],
            removed["deliveries"],
            cutoff.date().isoformat(),
        )
    return removed


async def prune_mail(node: Node) -> int:
    """Delete the e-mails sent or given up more than ``workers.keep_days`` days ago (and
    the password-reset requests of more than a day: their links expired long ago)."""
    cutoff = utcnow() - timedelta(days=node.settings.workers.keep_days)
    async with node.db.session() as session:
        await password_reset.prune(session)
    return await _prune(
        node, OutgoingMail, OutgoingMail.state.in_(MAIL_FINISHED), OutgoingMail.created_at < cutoff
    )


async def prune_idempotency_keys(node: Node) -> int:
    """Delete the idempotency keys older than ``web.idempotency_hours``, in batches."""
    cutoff = utcnow() - timedelta(hours=node.settings.web.idempotency_hours)
    return await _prune(node, IdempotencyKey, IdempotencyKey.created_at <= cutoff)


async def _prune(
    node: Node,
    model: type[InboxItem] | type[Delivery] | type[OutgoingMail] | type[IdempotencyKey],
    *finished: Any,
) -> int:
    """Delete the rows of ``model`` matching ``finished``, ``BATCH`` per transaction."""
    removed = 0
    while True:
        async with node.db.session() as session:
            ids = (await session.scalars(select(model.id).where(*finished).limit(BATCH))).all()
            if ids:
                # The conditions again: a row may have changed since it was selected.
                await session.execute(delete(model).where(model.id.in_(ids), *finished))
        removed += len(ids)
        if len(ids) < BATCH:
            return removed
