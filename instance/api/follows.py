"""``/api/v1/follows``: a local structure follows a remote (or local) actor."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person, Structure
from domain.people import can_act_for
from federation.models import Actor, Follow
from instance.api import blueprint, json_body
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from outbox.follows import follow, unfollow


class FollowCreate(BaseModel):
    actor: str = Field(description="Handle of the local structure that follows")
    target: str = Field(description="acct:HANDLE@HOST or the actor's URL")


class FollowOut(BaseModel):
    actor: str
    target: str
    target_handle: str
    target_domain: str
    state: str


class FollowList(BaseModel):
    items: list[FollowOut]


class FollowQuery(BaseModel):
    actor: str


async def acting_structure(session: AsyncSession, person: Person, handle: Any) -> Structure:
    """The approved structure ``handle`` that ``person`` acts for (403/422 otherwise).

    Acting for a structure — reading its messages, timeline and follows, writing,
    following, reporting or posting in its name — needs membership of it. No role
    stands in for it: moderators and administrators act through the moderation
    endpoints, never as a structure they are not a member of.
    """
    if not isinstance(handle, str) or not handle:
        raise ApiError(422, "some fields are invalid", fields={"actor": "is required"})
    structure = (
        await session.execute(select(Structure).where(Structure.handle == handle))
    ).scalar_one_or_none()
    if structure is None:
        raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
    if not can_act_for(person, structure):
        raise ApiError(403, "you do not act for this structure")
    if structure.status == "suspended":
        raise ApiError(403, "this structure is suspended by the moderators")
    if not structure.is_visible or structure.actor is None:
        raise ApiError(403, "this structure is awaiting approval by an administrator")
    return structure


def follow_json(handle: str, row: Follow) -> dict[str, Any]:
    return {
        "actor": handle,
        "target": row.followed.uri,
        "target_handle": row.followed.handle,
        "target_domain": row.followed.domain,
        "state": row.state,
    }


@blueprint.post("/follows")
@document_request(FollowCreate)
@document_response(FollowOut, 202)
async def create_follow() -> tuple[dict[str, Any], int]:
    """Follow an actor of any server; ``state`` is ``pending`` until it accepts."""
    node = current_node()
    data = await json_body()
    target = data.get("target")
    if not isinstance(target, str) or not target.strip():
        raise ApiError(422, "some fields are invalid", fields={"target": "is required"})
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, data.get("actor"))
        handle = structure.handle
    remote = await node.remote.resolve(target.strip())
    async with node.transaction() as session:
        structure = await acting_structure(session, person, handle)
        assert structure.actor is not None
        if remote.uri == structure.actor.uri:
            raise ApiError(422, "some fields are invalid", fields={"target": "is yourself"})
        if remote.local:
            # A local actor named by its URL: read as it is now, and a suspended structure
            # is not there to follow (as it is not by its name).
            local = await session.get(Actor, remote.id)
            if local is None or local.suspended_at is not None:
                raise ApiError(422, "some fields are invalid", fields={"target": "unknown actor"})
        followed = await session.merge(remote)
        row = await follow(session, node.settings, structure.actor, followed)
        return follow_json(handle, row), 202


@blueprint.get("/follows")
@document_querystring(FollowQuery)
@document_response(FollowList)
async def list_follows() -> dict[str, Any]:
    """What a structure follows, with the state of each follow."""
    node = current_node()
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        rows = await session.execute(
            select(Follow)
            .where(Follow.follower_id == structure.actor.id)
            .order_by(Follow.id.desc())
        )
        return {"items": [follow_json(structure.handle, row) for row in rows.scalars()]}


@blueprint.delete("/follows")
@document_querystring(FollowCreate)
async def delete_follow() -> tuple[str, int]:
    """Stop following (``?actor=HANDLE&target=URL``); federates an Undo."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        target = request.args.get("target", "")
        row = (
            await session.execute(
                select(Follow)
                .join(Actor, Follow.followed_id == Actor.id)
                .where(Follow.follower_id == structure.actor.id, Actor.uri == target)
            )
        ).scalar_one_or_none()
        if row is None:
            raise ApiError(404, "this structure does not follow that actor")
        await unfollow(session, node.settings, row)
    return "", 204
