"""``/api/v1/follows``: a local structure follows a remote (or local) actor."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response

from federation.models import Follow
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.services import follows
from instance.services.structures import acting_structure


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
        row = await follows.start_following(session, node.settings, structure, remote)
        return follow_json(handle, row), 202


@blueprint.get("/follows")
@document_querystring(FollowQuery)
@document_response(FollowList)
async def list_follows() -> dict[str, Any]:
    """What a structure follows, with the state of each follow."""
    node = current_node()
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor_id is not None
        rows = await follows.follows_of(session, [structure.actor_id])
        return {"items": [follow_json(structure.handle, row) for row in rows]}


@blueprint.delete("/follows")
@document_querystring(FollowCreate)
async def delete_follow() -> tuple[str, int]:
    """Stop following (``?actor=HANDLE&target=URL``); federates an Undo."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        target = request.args.get("target", "")
        await follows.stop_following(session, node.settings, structure, target)
    return "", 204
