"""``/api/v1/saved-searches``: a structure saves a search and is told of new listings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Response, request
from quart_schema import document_querystring, document_request, document_response

from domain.matches import SavedSearch
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.auth import api_person
from instance.node import current_node
from instance.services import saved_searches
from instance.services.structures import acting_structure


class SavedSearchCreate(BaseModel):
    actor: str = Field(description="handle of a structure you act for")
    name: str = Field(max_length=200)
    query: dict[str, str] = Field(
        description="listing filters as in GET /api/v1/listings: q, kind, category, modality, "
        "near, radius_km, origin, structure, available_on"
    )


class SavedSearchOut(BaseModel):
    id: int
    actor: str
    name: str
    query: dict[str, str]
    created_at: str


class SavedSearchList(BaseModel):
    items: list[SavedSearchOut]


class SavedSearchQuery(BaseModel):
    actor: str


def saved_json(saved: SavedSearch, handle: str) -> dict[str, Any]:
    return {
        "id": saved.id,
        "actor": handle,
        "name": saved.name,
        "query": dict(saved.query or {}),
        "created_at": saved.created_at.isoformat(),
    }


@blueprint.post("/saved-searches")
@document_request(SavedSearchCreate)
@document_response(SavedSearchOut, 201)
async def create_saved_search() -> tuple[dict[str, Any], int]:
    """Save a search for a structure: new listings that fit it, local or federated, notify it."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, data.get("actor"))
        saved = await saved_searches.create(session, structure, data.get("name"), data.get("query"))
        return saved_json(saved, structure.handle), 201


@blueprint.get("/saved-searches")
@document_querystring(SavedSearchQuery)
@document_response(SavedSearchList)
async def list_saved_searches() -> dict[str, Any]:
    """A structure's saved searches (its members only)."""
    node = current_node()
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        rows = await saved_searches.saved_searches_of(session, structure)
        return {"items": [saved_json(s, structure.handle) for s in rows]}


@blueprint.delete("/saved-searches/<int:saved_id>")
async def delete_saved_search(saved_id: int) -> Response:
    """Forget a saved search (a member of its structure)."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        await saved_searches.delete(session, person, saved_id)
    return Response("", status=204)
