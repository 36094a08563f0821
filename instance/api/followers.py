"""``/api/v1/structures/{handle}/followers``: who follows a structure, and the answers to
follow requests when it approves its followers by hand (``instance.services.follows``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_response

from instance.api.blueprint import blueprint
from instance.auth import api_person
from instance.errors import ApiError
from instance.ids import parse_id
from instance.node import current_node
from instance.services import follows as followers

MAX_LIMIT = 100


class FollowerOut(BaseModel):
    id: int = Field(description="The follow's id, used to accept or reject it")
    actor: str = Field(description="ActivityPub id of the follower")
    handle: str
    domain: str
    name: str
    url: str = Field(description="The follower's profile page (else its id)")
    local: bool = Field(description="Whether the follower is on this node")
    state: Literal["pending", "accepted", "rejected"] = Field(
        description="`rejected` only in the answer to a reject: the follow is then deleted"
    )
    since: datetime = Field(description="When the follow was asked")


class FollowerList(BaseModel):
    items: list[FollowerOut]
    next: str | None = Field(description="Cursor of the next page, null on the last one")


class FollowerQuery(BaseModel):
    state: Literal["pending", "accepted"] | None = Field(
        default=None, description="Only the requests waiting for an answer, or the followers"
    )
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def follower_json(follower: followers.Follower) -> dict[str, Any]:
    return {
        "id": follower.id,
        "actor": follower.actor,
        "handle": follower.handle,
        "domain": follower.domain,
        "name": follower.name,
        "url": follower.url,
        "local": follower.local,
        "state": follower.state,
        "since": follower.since.isoformat(),
    }


def _query() -> tuple[followers.State | None, int, int | None]:
    args = request.args
    errors: dict[str, str] = {}
    asked = args.get("state") or None
    state = next((s for s in followers.STATES if s == asked), None)
    if asked is not None and state is None:
        errors["state"] = "must be pending or accepted"
    limit = 20
    if "limit" in args:
        try:
            limit = int(args["limit"])
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            errors["limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
    before = None
    if args.get("cursor"):
        cursor = args["cursor"]
        before = parse_id(cursor)
        if before is None:
            errors["cursor"] = "is not a cursor from a previous page"
    if errors:
        raise ApiError(422, "some fields are invalid", fields=errors)
    return state, limit, before


@blueprint.get("/structures/<handle>/followers")
@document_querystring(FollowerQuery)
@document_response(FollowerList)
async def list_followers(handle: str) -> dict[str, Any]:
    """A structure's followers and follow requests, newest first (its people only)."""
    async with current_node().db.read() as session:
        person = await api_person(session)
        assert person is not None
        state, limit, before = _query()
        structure = await followers.managed_structure(session, person, handle)
        items = await followers.followers_of(
            session, structure, state, limit=limit + 1, before=before
        )
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": [follower_json(f) for f in items],
        "next": str(items[-1].id) if more else None,
    }


async def _answer(handle: str, follow_id: int, how: followers.Answer) -> dict[str, Any]:
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await followers.managed_structure(session, person, handle)
        follower = await followers.answer(session, node.settings, structure, follow_id, how)
    return follower_json(follower)


# ``<string:handle>``, not ``<handle>``: quart-schema turns rules into OpenAPI paths with
# the pattern ``<(?:[^:]*:)?([^>]+)>``, which reads ``<handle>/followers/<int:follow_id>``
# as one variable when the first one has no converter.
@blueprint.post("/structures/<string:handle>/followers/<int:follow_id>/accept")
@document_response(FollowerOut)
async def accept_follower(handle: str, follow_id: int) -> dict[str, Any]:
    """Accept a follow request: an ``Accept(Follow)`` goes to the follower, who then
    receives the structure's listings."""
    return await _answer(handle, follow_id, "accept")


@blueprint.post("/structures/<string:handle>/followers/<int:follow_id>/reject")
@document_response(FollowerOut)
async def reject_follower(handle: str, follow_id: int) -> dict[str, Any]:
    """Refuse a follow request, or remove a follower: a ``Reject(Follow)`` goes to it and
    the follow is deleted."""
    return await _answer(handle, follow_id, "reject")
