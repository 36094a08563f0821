"""``GET /api/v1/notifications`` and ``POST /api/v1/notifications/read``.

Notifications are kept per person (``domain.notify``); those that concern a
structure carry it, so ``?actor=HANDLE`` lists what one of your structures was
told (a member's own copies: each member reads and marks them for themselves).
Without ``actor``, all of the person's notifications. Newest first, paged by an
opaque cursor; ``type`` is the kind (``match``, ``message``, ``follow_request``,
``structure_approved``…), ``subject`` what the event recorded, with ``url``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Membership, Person, Structure
from domain.social import Notification
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.paging import id_cursor, page_limit
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.search import MAX_LIMIT, encode_cursor

MAX_IDS = 500


class NotificationOut(BaseModel):
    id: int
    type: str
    created_at: str
    read: bool
    subject: dict[str, Any]


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next: str | None


class NotificationQuery(BaseModel):
    actor: str | None = Field(default=None, description="a structure you act for")
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class MarkRead(BaseModel):
    actor: str | None = None
    ids: list[int]


class MarkedRead(BaseModel):
    read: int


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "type": notification.kind,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
        "subject": {**(notification.data or {}), "url": notification.url},
    }


async def _member_structure(session: AsyncSession, person: Person, handle: Any) -> int | None:
    """The id of the structure ``handle`` if ``person`` is one of its people (any status:
    a rejected structure's people read why)."""
    if handle is None:
        return None
    if not isinstance(handle, str) or not handle:
        raise ApiError(422, "some fields are invalid", fields={"actor": "must be a handle"})
    found = await session.execute(
        select(Structure.id)
        .join(Membership, Membership.structure_id == Structure.id)
        .where(Structure.handle == handle, Membership.person_id == person.id)
    )
    structure_id = found.scalar_one_or_none()
    if structure_id is None:
        raise ApiError(403, "you do not act for this structure")
    return int(structure_id)


@blueprint.get("/notifications")
@document_querystring(NotificationQuery)
@document_response(NotificationPage)
async def list_notifications() -> dict[str, Any]:
    """Your notifications (or those of one of your structures), newest first, paged."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    before = id_cursor(request.args.get("cursor"))
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure_id = await _member_structure(session, person, request.args.get("actor"))
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
        following = encode_cursor({"id": rows[limit - 1].id}) if len(rows) > limit else None
        return {"items": [notification_json(n) for n in rows[:limit]], "next": following}


@blueprint.post("/notifications/read")
@document_request(MarkRead)
@document_response(MarkedRead)
async def mark_notifications_read() -> dict[str, Any]:
    """Mark some of your notifications read; ids that are not yours are ignored."""
    node = current_node()
    data = await json_body()
    ids = data.get("ids")
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)
    ):
        raise ApiError(
            422,
            "some fields are invalid",
            fields={"ids": f"must be a list of at most {MAX_IDS} notification ids"},
        )
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure_id = await _member_structure(session, person, data.get("actor"))
        stmt = update(Notification).where(
            Notification.person_id == person.id,
            Notification.id.in_(ids),
            Notification.read_at.is_(None),
        )
        if structure_id is not None:
            stmt = stmt.where(Notification.structure_id == structure_id)
        result = await session.execute(stmt.values(read_at=utcnow()))
        return {"read": int(result.rowcount or 0)}  # type: ignore[attr-defined]
