"""Finding listings: query parsing, filters, paging.

:func:`parse_query` turns the query string of ``GET /api/v1/listings`` (and
of the search page and the feeds) into a typed :class:`SearchQuery`, with a
422 naming the bad parameter. :func:`search_listings` runs it.

Paging is by cursor: an opaque token holding the sort key of the last item
(for ``recent``: ``published_at`` and ``id``), so that pages stay stable
while new listings arrive — a new listing sorts before the cursor and never
shifts later pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.categories import CATEGORY_IDS
from domain.models import LISTING_KINDS, LISTING_STATUSES, MODALITIES, Listing, Structure
from domain.validation import Collector, Invalid
from federation.models import Actor

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass
class SearchQuery:
    q: str | None = None
    kind: str | None = None
    category: str | None = None
    modality: str | None = None
    status: str | None = "open"
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    origin: str | None = None
    structure: str | None = None
    available_on: date | None = None
    sort: str = "recent"
    limit: int = DEFAULT_LIMIT
    cursor: dict[str, Any] | None = None
    own_domain: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    listing: Listing
    distance_km: float | None = None


@dataclass
class Page:
    items: list[Hit]
    next_cursor: str | None


def encode_cursor(values: Mapping[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def parse_query(args: Mapping[str, str]) -> SearchQuery:
    """Read the listing filters from a query string; raise ``Invalid`` on a bad one."""
    c = Collector()
    query = SearchQuery()
    q = c.text(args, "q", max_length=500)
    query.q = q or None
    query.kind = c.choice(args, "kind", LISTING_KINDS, required=False)
    query.category = c.choice(args, "category", CATEGORY_IDS, required=False)
    query.modality = c.choice(args, "modality", MODALITIES, required=False)
    status = args.get("status")
    if status == "any":
        query.status = None
    elif status:
        query.status = c.choice(args, "status", LISTING_STATUSES, required=False)
    near = args.get("near")
    if near:
        try:
            lat_s, lon_s = near.split(",", 1)
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            c.add("near", "must be LAT,LON")
        else:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                c.add("near", "must be LAT,LON")
            else:
                query.near = (lat, lon)
    query.radius_km = c.number(args, "radius_km", minimum=0, maximum=20_000)
    origin = c.text(args, "origin", max_length=255)
    query.origin = origin.lower() if origin else None
    query.structure = c.text(args, "structure", max_length=2048)
    query.available_on = c.date(args, "available_on")
    sort = c.choice(args, "sort", ("recent", "distance", "relevance"), required=False)
    if sort == "distance" and query.near is None and "near" not in c.errors:
        c.add("sort", "sort=distance needs near=LAT,LON")
    query.sort = sort or ("relevance" if query.q else "recent")
    limit = c.number(args, "limit", minimum=1, maximum=MAX_LIMIT)
    if limit is not None:
        if limit != int(limit):
            c.add("limit", "must be an integer")
        query.limit = int(limit)
    cursor = args.get("cursor")
    if cursor:
        query.cursor = decode_cursor(cursor)
        if query.cursor is None:
            c.add("cursor", "is not a cursor from a previous page")
    c.raise_if_any()
    return query


def base_filters(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    """The filters every search applies: visibility and the structured fields."""
    stmt = stmt.outerjoin(Structure, Listing.structure_id == Structure.id).where(
        Listing.hidden.is_(False),
        or_(Listing.structure_id.is_(None), Structure.status == "approved"),
    )
    if query.status:
        stmt = stmt.where(Listing.status == query.status)
    if query.kind:
        stmt = stmt.where(Listing.kind == query.kind)
    if query.category:
        stmt = stmt.where(Listing.category == query.category)
    if query.modality:
        stmt = stmt.where(Listing.modality == query.modality)
    if query.origin == "local":
        stmt = stmt.where(Listing.local.is_(True))
    elif query.origin == "remote":
        stmt = stmt.where(Listing.local.is_(False))
    elif query.origin:
        stmt = stmt.where(Listing.origin == query.origin)
    if query.structure:
        if "/" in query.structure:
            stmt = stmt.join(Actor, Listing.author_id == Actor.id).where(
                Actor.uri == query.structure
            )
        else:
            stmt = stmt.where(Structure.handle == query.structure)
    if query.available_on:
        day = query.available_on
        stmt = stmt.where(
            or_(Listing.available_from.is_(None), Listing.available_from <= day),
            or_(Listing.available_until.is_(None), Listing.available_until >= day),
        )
    return stmt


async def search_listings(session: AsyncSession, dialect: str, query: SearchQuery) -> Page:
    """Run a search; text, distance and relevance come from ``instance.search_text``."""
    stmt = base_filters(select(Listing), query)
    if query.q:
        words = [w for w in query.q.split() if w]
        for word in words:
            pattern = f"%{word}%"
            stmt = stmt.where(or_(Listing.title.ilike(pattern), Listing.description.ilike(pattern)))
    if query.cursor:
        try:
            when = datetime.fromisoformat(str(query.cursor["p"]))
            last_id = int(query.cursor["i"])
        except (KeyError, ValueError, TypeError):
            raise Invalid({"cursor": _bad_cursor()}) from None
        stmt = stmt.where(
            or_(
                Listing.published_at < when,
                and_(Listing.published_at == when, Listing.id < last_id),
            )
        )
    stmt = stmt.order_by(Listing.published_at.desc(), Listing.id.desc()).limit(query.limit + 1)
    rows = list((await session.execute(stmt)).scalars().unique())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor({"p": last.published_at.isoformat(), "i": last.id})
    return Page([Hit(row) for row in rows], next_cursor)


def _bad_cursor() -> Any:
    from domain.validation import FieldError

    return FieldError("is not a cursor from a previous page")
