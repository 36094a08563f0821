"""``/api/v1/saved-searches``: a structure saves a search and is told of new listings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Response, request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy import func, select

from domain.matches import SavedSearch
from domain.models import Membership
from domain.validation import FieldError, Invalid
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.follows import acting_structure
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.services.saved_searches import MAX_PER_STRUCTURE, checked_query


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
        name = data.get("name")
        errors: dict[str, FieldError] = {}
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            errors["name"] = FieldError("must be 1 to 200 characters")
        try:
            query = await checked_query(session, data.get("query"))
        except Invalid as exc:
            errors.update(exc.errors)
        if errors:
            raise Invalid(errors)
        count = await session.scalar(
            select(func.count())
            .select_from(SavedSearch)
            .where(SavedSearch.structure_id == structure.id)
        )
        if (count or 0) >= MAX_PER_STRUCTURE:
            raise ApiError(409, f"a structure keeps at most {MAX_PER_STRUCTURE} saved searches")
        assert isinstance(name, str)
        saved = SavedSearch(structure_id=structure.id, name=name.strip(), query=query)
        session.add(saved)
        await session.flush()
        return saved_json(saved, structure.handle), 201


@blueprint.get("/saved-searches")
@document_querystring(SavedSearchQuery)
@document_response(SavedSearchList)
async def list_saved_searches() -> dict[str, Any]:
    """A structure's saved searches (its members only)."""
    node = current_node()
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        rows = await session.execute(
            select(SavedSearch)
            .where(SavedSearch.structure_id == structure.id)
            .order_by(SavedSearch.id)
        )
        return {"items": [saved_json(s, structure.handle) for s in rows.scalars()]}


@blueprint.delete("/saved-searches/<int:saved_id>")
async def delete_saved_search(saved_id: int) -> Response:
    """Forget a saved search (a member of its structure)."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        saved = await session.get(SavedSearch, saved_id)
        member = saved is not None and await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.structure_id == saved.structure_id,
                Membership.person_id == person.id,
            )
        )
        if saved is None or not member:
            raise ApiError(404, "no such saved search")
        await session.delete(saved)
    return Response("", status=204)
