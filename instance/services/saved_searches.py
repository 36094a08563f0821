"""Saved searches: a structure keeps a search and is told of each new listing that fits it.

A saved search holds the query string of ``GET /api/v1/listings`` (validated by
``instance.search.parse_query`` when saved). When the matching worker takes a
listing that is open (published here or received from a neighbour), every saved
search of another structure whose cheap filters (kind, category, modality) admit
it is run against that one listing by the search itself (``SearchQuery.ids``), so
a saved search means exactly what the same search means; a fit is told once
(``SavedSearchHit``) with a notification ``saved_search``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.matches import SavedSearch, SavedSearchHit
from domain.models import Listing, Structure
from domain.notify import notify_structure
from domain.validation import FieldError, Invalid
from instance.search import SearchQuery, near_commune, parse_query, search_listings

MAX_PER_STRUCTURE = 50
QUERY_KEYS = (
    "q", "kind", "category", "modality", "near", "radius_km", "origin", "structure",
    "available_on",
)  # fmt: skip


async def checked_query(session: AsyncSession, raw: Any) -> dict[str, str]:
    """The query of a saved search as strings, validated like a search (``Invalid``);
    a commune in ``near`` must be one the gazetteer places."""
    if not isinstance(raw, Mapping):
        raise Invalid({"query": FieldError("must be an object of listing filters")})
    unknown = sorted(set(raw) - set(QUERY_KEYS))
    if unknown:
        raise Invalid(
            {"query": FieldError("unknown filters: %(names)s", {"names": ", ".join(unknown)})}
        )
    query: dict[str, str] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid({f"query.{key}": FieldError("must be text")})
        query[key] = str(value)
    try:
        parsed = parse_query(query)
        if parsed.near_commune:
            await near_commune(session, parsed.near_commune)
    except Invalid as exc:
        raise Invalid({f"query.{k}": v for k, v in exc.errors.items()}) from None
    return query


def _admits(saved: SavedSearch, listing: Listing) -> bool:
    """The cheap filters, before asking the database."""
    query = saved.query or {}
    return all(
        not query.get(name) or query[name] == getattr(listing, name)
        for name in ("kind", "category", "modality")
    )


async def alert(session: AsyncSession, dialect: str, listing: Listing) -> int:
    """Tell the saved searches that ``listing`` fits and were not told of it yet."""
    if listing.status != "open" or listing.hidden:
        return 0
    told = select(SavedSearchHit.saved_search_id).where(SavedSearchHit.listing_id == listing.id)
    stmt = (
        select(SavedSearch)
        .join(Structure, SavedSearch.structure_id == Structure.id)
        .where(Structure.is_visible, SavedSearch.id.not_in(told))
    )
    if listing.structure_id is not None:  # never told of its own listings
        stmt = stmt.where(SavedSearch.structure_id != listing.structure_id)
    candidates = await session.execute(stmt)
    count = 0
    for saved in candidates.scalars():
        if not _admits(saved, listing):
            continue
        query: SearchQuery = parse_query(saved.query or {})
        query.ids, query.limit, query.cursor = [listing.id], 1, None
        if query.sort == "distance" and query.near is None and not query.near_commune:
            query.sort = "recent"
        try:
            page = await search_listings(session, dialect, query)
        except Invalid:
            continue  # a commune that no longer resolves: nothing fits
        if not page.items:
            continue
        session.add(SavedSearchHit(saved_search_id=saved.id, listing_id=listing.id))
        await notify_structure(
            session,
            saved.structure_id,
            "saved_search",
            {
                "saved_search": saved.id,
                "name": saved.name,
                "listing": listing.id,
                "listing_title": listing.title,
                "origin": listing.origin,
            },
            url=f"/listings/{listing.id}",
        )
        count += 1
    return count
