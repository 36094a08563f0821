"""``GET /api/v1/places``: French communes for autocomplete, from the shipped gazetteer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_response

from domain.places import MAX_QUERY, MAX_SUGGESTIONS, Place, suggest
from instance.api.blueprint import blueprint
from instance.errors import ApiError
from instance.node import current_node


class PlaceQueryArgs(BaseModel):
    q: str = Field(description="the start of a commune's name or postcode: Pau, saint jean, 640")
    limit: int = Field(default=10, ge=1, le=MAX_SUGGESTIONS)


class PlaceOut(BaseModel):
    name: str
    code: str = Field(description="INSEE code")
    postcodes: list[str]
    department: str
    lat: float | None
    lon: float | None
    label: str = Field(description="the name with its department: Pau (64)")


class PlaceList(BaseModel):
    items: list[PlaceOut]


def place_json(place: Place) -> dict[str, Any]:
    return {
        "name": place.name,
        "code": place.code,
        "postcodes": place.postcode_list,
        "department": place.department,
        "lat": place.lat,
        "lon": place.lon,
        "label": place.label,
    }


@blueprint.get("/places")
@document_querystring(PlaceQueryArgs)
@document_response(PlaceList)
async def list_places() -> dict[str, Any]:
    """Communes whose name or postcode starts with ``q`` (accents and case folded),
    best first: exact names, then by population. No token needed; no network used."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY:
        raise ApiError(422, "some fields are invalid", fields={"q": "is too long"})
    raw_limit = request.args.get("limit", "10")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_SUGGESTIONS:
        raise ApiError(
            422, "some fields are invalid", fields={"limit": f"must be 1 to {MAX_SUGGESTIONS}"}
        )
    async with current_node().db.read() as session:
        found = await suggest(session, q, int(raw_limit))
        return {"items": [place_json(p) for p in found]}
