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

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.matches import SavedSearch, SavedSearchHit
from domain.models import Listing, Person, Structure
from domain.notify import notify_structure
from domain.validation import FieldError, Invalid
from instance.errors import ApiError, NotFound
from instance.search import SearchQuery, near_commune, parse_query, search_listings
from instance.services.structures import is_member

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


async def create(session: AsyncSession, structure: Structure, name: Any, raw: Any) -> SavedSearch:
    """Save a search for ``structure`` (``Invalid`` on a bad name or query; 409 past
    :data:`MAX_PER_STRUCTURE`)."""
    errors: dict[str, FieldError] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = FieldError("must be 1 to 200 characters")
    try:
        query = await checked_query(session, raw)
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
    return saved


async def saved_searches_of(session: AsyncSession, structure: Structure) -> list[SavedSearch]:
    """A structure's saved searches, oldest first."""
    rows = await session.execute(
        select(SavedSearch).where(SavedSearch.structure_id == structure.id).order_by(SavedSearch.id)
    )
    return list(rows.scalars())


async def delete(session: AsyncSession, person: Person, saved_id: int) -> None:
    """Forget a saved search: a member of its structure only (404 for anyone else)."""
    saved = await session.get(SavedSearch, saved_id)
    if saved is None or not await is_member(session, person, saved.structure_id):
        raise NotFound("no such saved search")
    await session.delete(saved)


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
