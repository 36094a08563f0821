"""Notifications: what a person was told, read per person.

Notifications are kept per person (``domain.notify``); those that concern a
structure carry it, so one of the person's structures can be asked for (a
member's own copies: each member reads and marks them for themselves). The
JSON API (``instance.api.notifications``) and the pages
(``instance.web.notifications``) read and mark them through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Membership, Person, Structure
from domain.social import Notification
from domain.validation import FieldError, Invalid
from instance.errors import Forbidden


async def member_structure(session: AsyncSession, person: Person, handle: Any) -> int | None:
    """The id of the structure ``handle`` if ``person`` is one of its people (any status:
    a rejected structure's people read why); None when no handle is given."""
    if handle is None:
        return None
    if not isinstance(handle, str) or not handle:
        raise Invalid({"actor": FieldError("must be a handle")})
    structure_id = await session.scalar(
        select(Structure.id)
        .join(Membership, Membership.structure_id == Structure.id)
        .where(Structure.handle == handle, Membership.person_id == person.id)
    )
    if structure_id is None:
        raise Forbidden("you do not act for this structure")
    return int(structure_id)


async def page(
    session: AsyncSession,
    person: Person,
    *,
    structure_id: int | None = None,
    before: int | None = None,
    limit: int,
) -> tuple[list[Notification], bool]:
    """Up to ``limit`` of the person's notifications (of one structure), newest first,
    older than the id ``before``; and whether more follow."""
    stmt = select(Notification).where(Notification.person_id == person.id)
    if structure_id is not None:
        stmt = stmt.where(Notification.structure_id == structure_id)
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = list(
        (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
        .scalars()
        .unique()
    )
    return rows[:limit], len(rows) > limit


async def latest(session: AsyncSession, person: Person, limit: int) -> list[Notification]:
    """The person's latest notifications, newest first."""
    rows = await session.execute(
        select(Notification)
        .where(Notification.person_id == person.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def mark_some_read(
    session: AsyncSession, person: Person, ids: Sequence[int], structure_id: int | None = None
) -> int:
    """Mark these notifications of the person (of one structure) read; how many were
    unread. Ids that are not the person's are ignored."""
    stmt = update(Notification).where(
        Notification.person_id == person.id,
        Notification.id.in_(ids),
        Notification.read_at.is_(None),
    )
    if structure_id is not None:
        stmt = stmt.where(Notification.structure_id == structure_id)
    result = await session.execute(stmt.values(read_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_read(session: AsyncSession, person: Person, url: str | None = None) -> None:
    """Mark the person's notifications read (only those pointing at ``url``, if given)."""
    query = select(Notification).where(
        Notification.person_id == person.id, Notification.read_at.is_(None)
    )
    if url is not None:
        query = query.where(Notification.url == url)
    now = utcnow()
    for notification in (await session.execute(query)).scalars():
        notification.read_at = now


async def open_one(
    session: AsyncSession, person: Person, notification_id: int
) -> Notification | None:
    """The person's notification ``notification_id``, marked read (None for anyone
    else's: it does not exist for them)."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.person_id != person.id:
        return None
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification
