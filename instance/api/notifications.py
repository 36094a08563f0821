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

from domain.social import Notification
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.paging import id_cursor, page_limit
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.search import MAX_LIMIT, encode_cursor
from instance.services import notifications as notices

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


@blueprint.get("/notifications")
@document_querystring(NotificationQuery)
@document_response(NotificationPage)
async def list_notifications() -> dict[str, Any]:
    """Your notifications (or those of one of your structures), newest first, paged."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    before = id_cursor(request.args.get("cursor"))
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure_id = await notices.member_structure(session, person, request.args.get("actor"))
        rows, more = await notices.page(
            session, person, structure_id=structure_id, before=before, limit=limit
        )
        following = encode_cursor({"id": rows[-1].id}) if more else None
        return {"items": [notification_json(n) for n in rows], "next": following}


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
        structure_id = await notices.member_structure(session, person, data.get("actor"))
        return {"read": await notices.mark_some_read(session, person, ids, structure_id)}
