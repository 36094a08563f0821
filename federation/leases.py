"""Lease claiming: how a worker takes rows of a work queue that no other worker takes.

The queue tables (``deliveries``, ``inbox_items``) have ``locked_by`` and
``locked_until``. A worker claims due rows in one statement, ``UPDATE … SET
locked_by = me, locked_until = now + lease WHERE id IN (SELECT … LIMIT n)
RETURNING id``; a row whose lease ran out (its worker died) is due again. On
PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED``, so concurrent
workers pass over each other's rows instead of waiting for them; SQLite has a
single writer at a time. After a restart, :func:`release_leases` frees what
the previous process had claimed at once rather than after the lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from config.database import Database
from federation.models import Delivery, InboxItem

__all__ = ["claim_rows", "claim_statement", "release_leases"]

# A queue table: ``deliveries``, ``inbox_items``, or one above this layer with the same
# ``id``, ``locked_by`` and ``locked_until`` columns (``outgoing_mail``).
Queue = type[Delivery] | type[InboxItem] | Any


async def claim_rows(
    session: AsyncSession,
    model: Queue,
    worker_id: str,
    *,
    due: Iterable[ColumnElement[bool]],
    order_by: Iterable[InstrumentedAttribute[Any]],
    batch: int,
    lease_seconds: int,
    now: datetime,
    skip_locked: bool,
) -> list[int]:
    """Lease up to ``batch`` rows of ``model`` matching ``due`` (and not leased) to ``worker_id``.

    Returns the ids claimed; the caller reads the rows in the same session.
    """
    statement = claim_statement(
        model, [model.id], due=due, order_by=order_by, skip_locked=skip_locked
    )
    result = await session.execute(
        statement,
        {
            "now": now,
            "until": now + timedelta(seconds=lease_seconds),
            "worker": worker_id,
            "batch": batch,
        },
    )
    return [row[0] for row in result]


def claim_statement(
    model: Queue,
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    due: Iterable[ColumnElement[bool]],
    order_by: Iterable[InstrumentedAttribute[Any]],
    skip_locked: bool,
) -> Update:
    """The statement of :func:`claim_rows`, built once for a busy queue, returning
    ``columns`` of each claimed row (no second read; in no particular order).

    Executed with the parameters ``now``, ``until`` (the end of the lease), ``worker``
    and ``batch``; ``due`` may use ``bindparam("now")`` too. Building a statement and
    its cache key costs more than running it on a small table: the delivery worker
    claims several times a second.
    """
    now = bindparam("now", type_=model.locked_until.type)
    query = (
        select(model.id)
        .where(*due, or_(model.locked_until.is_(None), model.locked_until < now))
        .order_by(*order_by)
        .limit(bindparam("batch"))
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (
        update(model)
        .where(model.id.in_(query.scalar_subquery()))
        .values(locked_by=bindparam("worker"), locked_until=bindparam("until"))
        .returning(*columns)
        # The session holds none of these rows yet: nothing to bring up to date in Python
        # (the default evaluated the WHERE clause against every object in the session).
        .execution_options(synchronize_session=False)
    )


async def release_leases(
    db: Database, model: Queue, pending: ColumnElement[bool], worker_prefix: str | None = None
) -> int:
    """Free the leased rows among ``pending`` (of workers named ``worker_prefix…``, or all)."""
    async with db.session() as session:
        stmt = update(model).where(pending, model.locked_by.is_not(None))
        if worker_prefix:
            stmt = stmt.where(model.locked_by.like(f"{worker_prefix}%"))
        result = await session.execute(stmt.values(locked_by=None, locked_until=None))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
