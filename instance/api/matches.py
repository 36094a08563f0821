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
from quart_schema import document_querystring, document_response
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.matches import Match
from domain.models import Listing, Structure
from instance.api import blueprint
from instance.api.follows import acting_structure
from instance.api.listings import listing_json, withdrawn_readable
from instance.api.paging import id_cursor, page_limit
from instance.api.schemas import ListingOut
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.search import MAX_LIMIT, encode_cursor
from instance.services.matching import matches_of, shown


class MatchOut(BaseModel):
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


def match_json(match: Match, mine: Listing) -> dict[str, Any]:
    other = match.other(mine.id)
    return {
        "listing": listing_json(other, match.distance_km),
        "score": match.score,
        "reasons": list(match.reasons),
        "distance_km": None if match.distance_km is None else round(match.distance_km, 3),
    }


async def _visible_listing(session: AsyncSession, listing_id: int) -> Listing:
    listing = await session.get(Listing, listing_id)
    if listing is None or listing.hidden or listing.status == "withdrawn":
        raise ApiError(404, "no such listing")
    if listing.structure is not None and not listing.structure.is_visible:
        raise ApiError(404, "no such listing")
    return listing


@blueprint.get("/listings/<int:listing_id>/matches")
@document_response(MatchList)
async def listing_matches(listing_id: int) -> dict[str, Any]:
    """The open listings of the other kind that fit this one, best first."""
    node = current_node()
    await withdrawn_readable(node)  # a bad token is refused (401)
    async with node.db.read() as session:
        listing = await _visible_listing(session, listing_id)
        pairs = await matches_of(session, listing)
        return {"items": [match_json(m, listing) for m, _other in pairs]}


@blueprint.get("/matches")
@document_querystring(MatchesQuery)
@document_response(StructureMatchPage)
async def structure_matches() -> dict[str, Any]:
    """The matches of a structure's open listings, newest first, paged (members only)."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    last = id_cursor(request.args.get("cursor"))
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure: Structure = await acting_structure(session, person, request.args.get("actor"))
        need = aliased(Listing)
        offer = aliased(Listing)
        own = or_(
            and_(need.structure_id == structure.id, need.status == "open"),
            and_(offer.structure_id == structure.id, offer.status == "open"),
        )
        stmt = (
            select(Match)
            .join(need, Match.need_id == need.id)
            .join(offer, Match.offer_id == offer.id)
            .where(own)
            .order_by(Match.id.desc())
            .limit(limit + 1)
        )
        if last is not None:
            stmt = stmt.where(Match.id < last)
        found = list((await session.execute(stmt)).scalars().unique())
        items = []
        for match in found[:limit]:
            mine = match.need if match.need.structure_id == structure.id else match.offer
            if not shown(match.other(mine.id)):
                continue
            items.append({**match_json(match, mine), "for": listing_json(mine)})
        more = len(found) > limit
        return {
            "items": items,
            "next": encode_cursor({"id": found[limit - 1].id}) if more else None,
        }
