"""``GET /api/v1/structures``: the directory of local and known remote structures;
``PATCH /api/v1/structures/{handle}``: its own people edit a structure's profile."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response

from domain.categories import CATEGORY_IDS
from domain.models import STRUCTURE_KINDS
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.listings import withdrawn_readable
from instance.api.paging import BAD_CURSOR, page_limit
from instance.auth import api_person
from instance.errors import ApiError
from instance.ids import parse_id
from instance.node import current_node
from instance.search import decode_cursor, encode_cursor
from instance.services import profiles
from instance.services.directory import MAX_LIMIT, list_structures


class StructureEntry(BaseModel):
    handle: str = Field(description="name here, name@host for another server's")
    id: str = Field(description="the actor's id")
    name: str
    kind: str
    commune: str
    lat: float | None
    lon: float | None
    origin: str = Field(description="the domain it comes from")
    listings: int = Field(description="open listings known here")
    url: str = Field(description="its page on this node")


class StructurePage(BaseModel):
    items: list[StructureEntry]
    next: str | None


class StructureQuery(BaseModel):
    q: str | None = None
    kind: str | None = None
    commune: str | None = None
    origin: str | None = Field(default=None, description="local, remote, or a domain")
    category: str | None = Field(
        default=None, description="those with an open listing of this category"
    )
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "some fields are invalid", fields={field: message})


@blueprint.get("/structures")
@document_querystring(StructureQuery)
@document_response(StructurePage)
async def directory() -> dict[str, Any]:
    """Approved structures of this territory and structures of other servers known here,
    by name. No token needed."""
    node = current_node()
    args = request.args
    kind = args.get("kind") or None
    if kind is not None and kind not in STRUCTURE_KINDS:
        raise _invalid("kind", "must be one of " + ", ".join(STRUCTURE_KINDS))
    category = args.get("category") or None
    if category is not None and category not in CATEGORY_IDS:
        raise _invalid("category", "must be one of " + ", ".join(CATEGORY_IDS))
    limit = page_limit(args.get("limit"))
    after = None
    if args.get("cursor"):
        cursor = decode_cursor(args["cursor"])
        name, last = (cursor or {}).get("name"), parse_id((cursor or {}).get("id"))
        if not isinstance(name, str) or last is None:
            raise _invalid("cursor", BAD_CURSOR)
        after = (name, last)
    for field in ("q", "commune", "origin"):
        if len(args.get(field, "")) > 200:
            raise _invalid(field, "is too long")
    await withdrawn_readable(node)  # a bad token is refused (401)
    own = node.settings.instance.domain.lower()
    async with node.db.read() as session:
        entries, following = await list_structures(
            session,
            own,
            q=args.get("q") or None,
            kind=kind,
            commune=args.get("commune") or None,
            origin=(args.get("origin") or "").lower() or None,
            category=category,
            limit=limit,
            after=after,
        )
    return {
        "items": [e.as_json() for e in entries],
        "next": encode_cursor({"name": following[0], "id": following[1]}) if following else None,
    }


class ProfilePatch(BaseModel):
    name: str | None = None
    kind: str | None = Field(default=None, description="business, association, public, other")
    description: str | None = Field(default=None, description="plain text")
    website: str | None = Field(default=None, description="http(s) URL, or empty")
    commune: str | None = Field(
        default=None, description="placed from the gazetteer unless lat and lon are given"
    )
    lat: float | None = None
    lon: float | None = None
    contact_email: str | None = Field(default=None, description="public, optional")
    contact_phone: str | None = Field(default=None, description="public, optional")
    accepts_messages: bool | None = Field(
        default=None, description="whether other structures may send it messages"
    )


class ProfileOut(BaseModel):
    handle: str
    status: str
    name: str
    kind: str
    description: str
    website: str
    commune: str
    lat: float | None
    lon: float | None
    placed: str
    contact_email: str
    contact_phone: str
    accepts_messages: bool
    logo: str | None = Field(description="the logo's URL on this node, if any")


@blueprint.patch("/structures/<handle>")
@document_request(ProfilePatch)
@document_response(ProfileOut)
async def patch_structure(handle: str) -> dict[str, Any]:
    """Edit a structure's profile (its own people only, 403 for anyone else); the fields
    left out do not change. Once approved, followers receive an ``Update`` of its actor."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await profiles.editable_structure(session, person, handle)
        await profiles.update_profile(session, node, person, structure, data)
        logo = None
        if structure.logo_updated_at is not None:
            version = int(structure.logo_updated_at.timestamp())
            logo = node.urls.logo(structure.handle, version)
        return {
            "handle": structure.handle,
            "status": structure.status,
            **{
                name: getattr(structure, name)
                for name in (
                    "name",
                    "kind",
                    "description",
                    "website",
                    "commune",
                    "lat",
                    "lon",
                    "placed",
                    "contact_email",
                    "contact_phone",
                    "accepts_messages",
                )
            },
            "logo": logo,
        }
