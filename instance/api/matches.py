"""Matches: ``GET /api/v1/listings/{id}/matches`` and ``GET /api/v1/matches?actor=HANDLE``.

What the matching worker stored (``instance.services.matching``): the open
listings of the other kind that fit, with their score and reasons. A listing's
matches are public like the listing; a structure's matches need a token of one
of its members. Only open, visible listings are shown on the other side.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response, tag

from domain.matches import Match
from domain.models import Listing, Structure
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.listings import listing_json, withdrawn_readable
from instance.api.paging import id_cursor, page_limit
from instance.api.schemas import ListingOut
from instance.api_errors import ApiError, Forbidden
from instance.auth import api_person
from instance.node import current_node
from instance.search import MAX_LIMIT, encode_cursor
from instance.services import introductions, matching
from instance.services.structures import acting_structure


class MatchOut(BaseModel):
    id: int = Field(description="the match (for an introduction)")
    listing: ListingOut = Field(description="the listing on the other side")
    score: float = Field(ge=0, le=1)
    reasons: list[str] = Field(
        description="category:ID, words:W1,W2, distance:12km (or unknown), modality:OFFER>NEED"
    )
    distance_km: float | None


class MatchList(BaseModel):
    items: list[MatchOut]


class StructureMatchOut(MatchOut):
    for_: ListingOut = Field(alias="for", description="the structure's own listing")


class StructureMatchPage(BaseModel):
    items: list[StructureMatchOut]
    next: str | None


class MatchesQuery(BaseModel):
    actor: str
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class TerritoryMatchOut(BaseModel):
    id: int
    need: ListingOut
    offer: ListingOut
    score: float = Field(ge=0, le=1)
    reasons: list[str]
    distance_km: float | None
    created_at: str
    introduced_at: str | None = Field(description="when an animator introduced the two sides")


class TerritoryMatchPage(BaseModel):
    items: list[TerritoryMatchOut]
    next: str | None


class TerritoryMatchesQuery(BaseModel):
    category: str | None = None
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class IntroduceIn(BaseModel):
    actor: str | None = Field(
        default=None,
        description="who writes: the territory's handle (the default) or a structure "
        "the person acts for",
    )
    message: str | None = Field(default=None, description="the text; a short default names both")


class IntroductionOut(BaseModel):
    match: int
    conversation: int
    message: str = Field(description="the message's id (its URI)")


def match_json(match: Match, mine: Listing) -> dict[str, Any]:
    other = match.other(mine.id)
    return {
        "id": match.id,
        "listing": listing_json(other, match.distance_km),
        "score": match.score,
        "reasons": list(match.reasons),
        "distance_km": None if match.distance_km is None else round(match.distance_km, 3),
    }


@blueprint.get("/listings/<int:listing_id>/matches")
@document_response(MatchList)
async def listing_matches(listing_id: int) -> dict[str, Any]:
    """The open listings of the other kind that fit this one, best first."""
    node = current_node()
    await withdrawn_readable(node)  # a bad token is refused (401)
    async with node.db.read() as session:
        listing = await matching.visible_listing(session, listing_id)
        pairs = await matching.matches_of(session, listing)
        return {"items": [match_json(m, listing) for m, _other in pairs]}


@blueprint.get("/matches")
@document_querystring(MatchesQuery)
@document_response(StructureMatchPage)
async def structure_matches() -> dict[str, Any]:
    """The matches of a structure's open listings, newest first, paged (members only)."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    last = id_cursor(request.args.get("cursor"))
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure: Structure = await acting_structure(session, person, request.args.get("actor"))
        pairs, more = await matching.structure_matches(session, structure, limit, last)
        return {
            "items": [
                {**match_json(match, mine), "for": listing_json(mine)} for match, mine in pairs
            ],
            "next": encode_cursor({"id": more}) if more is not None else None,
        }


def _iso(when: Any) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


@blueprint.get("/territory/matches")
@tag(["matches"])
@document_querystring(TerritoryMatchesQuery)
@document_response(TerritoryMatchPage)
async def territory_matches() -> dict[str, Any]:
    """Every match of the territory whose two listings are open, newest first, paged
    (animators, moderators and administrators)."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    last = id_cursor(request.args.get("cursor"))
    category = request.args.get("category") or None
    async with node.db.read() as session:
        person = await api_person(session)
        if not introductions.may_see_territory_matches(person):
            raise Forbidden("only the territory's animators, moderators and administrators")
        items, more = await introductions.territory_matches(session, limit, last, category)
        return {
            "items": [
                {
                    "id": m.id,
                    "need": listing_json(m.need, m.distance_km),
                    "offer": listing_json(m.offer, m.distance_km),
                    "score": m.score,
                    "reasons": list(m.reasons),
                    "distance_km": None if m.distance_km is None else round(m.distance_km, 3),
                    "created_at": _iso(m.created_at),
                    "introduced_at": _iso(m.introduced_at),
                }
                for m in items
            ],
            "next": encode_cursor({"id": more}) if more is not None else None,
        }


@blueprint.post("/matches/<int:match_id>/introduce")
@document_request(IntroduceIn)
@document_response(IntroductionOut, 201)
async def introduce(match_id: int) -> tuple[dict[str, Any], int]:
    """« Mettre en relation »: one message to both structures of a match, in one
    conversation (animators, moderators and administrators). 409 when already done."""
    node = current_node()
    body = await json_body()
    actor, message = body.get("actor"), body.get("message")
    if actor is not None and not isinstance(actor, str):
        raise ApiError(422, "some fields are invalid", fields={"actor": "must be a string"})
    if message is not None and not isinstance(message, str):
        raise ApiError(422, "some fields are invalid", fields={"message": "must be a string"})
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        if not introductions.may_see_territory_matches(person):
            raise Forbidden("only the territory's animators, moderators and administrators")
        sender = await introductions.sender_for(session, person, actor)
        done = await introductions.introduce(
            session, node.settings, person, match_id, sender, message
        )
        answer = {
            "match": done.match.id,
            "conversation": done.conversation_id,
            "message": done.message.ap_id,
        }
    return answer, 201
