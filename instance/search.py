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
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.categories import CATEGORY_IDS
from domain.models import LISTING_KINDS, LISTING_STATUSES, MODALITIES, Listing, Structure
from domain.textsearch import fts5_query, query_words
from domain.validation import Collector, FieldError, Invalid
from federation.models import Actor, DomainPolicy, Follow

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
    timeline_of: int | None = None  # an actor id: only what it follows
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
    moderated = select(Actor.id).where(Actor.moderation != "")
    silenced = select(DomainPolicy.domain).where(DomainPolicy.policy.in_(("silence", "block")))
    stmt = stmt.outerjoin(Structure, Listing.structure_id == Structure.id).where(
        Listing.hidden.is_(False),
        or_(Listing.structure_id.is_(None), Structure.status == "approved"),
        Listing.author_id.not_in(moderated),
        or_(Listing.local.is_(True), Listing.origin.not_in(silenced)),
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
    if query.timeline_of is not None:
        followed = select(Follow.followed_id).where(
            Follow.follower_id == query.timeline_of, Follow.state == "accepted"
        )
        territories = select(Actor.domain).where(
            Actor.id.in_(followed), Actor.is_territory.is_(True)
        )
        stmt = stmt.where(or_(Listing.author_id.in_(followed), Listing.origin.in_(territories)))
    if query.available_on:
        day = query.available_on
        stmt = stmt.where(
            or_(Listing.available_from.is_(None), Listing.available_from <= day),
            or_(Listing.available_until.is_(None), Listing.available_until >= day),
        )
    return stmt


EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.195


def distance_expr(lat: float, lon: float) -> ColumnElement[float]:
    """Great-circle distance in km from (lat, lon) to a listing (haversine, in SQL)."""
    dlat = func.radians(Listing.lat - lat) / 2
    dlon = func.radians(Listing.lon - lon) / 2
    a = func.pow(func.sin(dlat), 2) + math.cos(math.radians(lat)) * func.cos(
        func.radians(Listing.lat)
    ) * func.pow(func.sin(dlon), 2)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def bounding_box(lat: float, lon: float, radius_km: float) -> list[ColumnElement[bool]]:
    """An index-friendly prefilter: the box around the circle of ``radius_km``."""
    dlat = radius_km / KM_PER_DEGREE
    conditions: list[ColumnElement[bool]] = [Listing.lat.between(lat - dlat, lat + dlat)]
    cos_lat = math.cos(math.radians(lat))
    if cos_lat > 0.01 and dlat < 80:
        dlon = radius_km / (KM_PER_DEGREE * cos_lat)
        if dlon < 180:
            low, high = lon - dlon, lon + dlon
            if low < -180 or high > 180:  # the box crosses the antimeridian
                conditions.append(
                    or_(
                        Listing.lon >= (low + 360 if low < -180 else low),
                        Listing.lon <= (high - 360 if high > 180 else high),
                    )
                )
            else:
                conditions.append(Listing.lon.between(low, high))
    return conditions


def _text_match(stmt: Select[Any], dialect: str, q: str) -> tuple[Select[Any], Any] | None:
    """Add the full-text condition for ``q``; return the statement and a rank (lower is better)."""
    if dialect == "sqlite":
        match = fts5_query(q)
        if match is None:
            return None
        fts = table("listings_fts", column("rowid"))
        stmt = stmt.join(fts, fts.c.rowid == Listing.id).where(
            text("listings_fts MATCH :match").bindparams(match=match)
        )
        return stmt, literal_column("bm25(listings_fts, 10.0, 1.0)", type_=Float)
    words = query_words(q)
    if not words:
        return None
    # Every word must match, under the French or the English configuration, as a prefix.
    tsquery: Any = None
    for word in words:
        either = func.to_tsquery("french", f"{word}:*").op("||")(
            func.to_tsquery("english", f"{word}:*")
        )
        tsquery = either if tsquery is None else tsquery.op("&&")(either)
    vector: ColumnElement[Any] = literal_column("listings.search_vector")
    stmt = stmt.where(vector.op("@@")(tsquery))
    return stmt, -func.ts_rank(vector, tsquery)


def _after(sort_keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor in the order of ``sort_keys`` (column, descending)."""
    clauses = []
    for i, (expr, descending) in enumerate(sort_keys):
        equal = [sort_keys[j][0] == values[j] for j in range(i)]
        beyond = expr < values[i] if descending else expr > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


async def search_listings(session: AsyncSession, dialect: str, query: SearchQuery) -> Page:
    """Run a search: filters, full text, distance, sort and cursor paging."""
    distance: ColumnElement[float] | None = None
    columns: list[Any] = [Listing]
    if query.near is not None:
        distance = distance_expr(*query.near).label("distance_km")
        columns.append(distance)
    rank: Any = None
    stmt = base_filters(select(*columns), query)
    if query.q:
        found = _text_match(stmt, dialect, query.q)
        if found is None:
            return Page([], None)
        stmt, rank = found
    if query.near is not None and query.radius_km is not None:
        lat, lon = query.near
        stmt = stmt.where(*bounding_box(lat, lon, query.radius_km))
        stmt = stmt.where(distance_expr(lat, lon) <= query.radius_km)

    sort_keys: list[tuple[Any, bool]]
    if query.sort == "distance" and query.near is not None:
        stmt = stmt.where(Listing.lat.is_not(None), Listing.lon.is_not(None))
        sort_keys = [(distance_expr(*query.near), False), (Listing.id, False)]
    elif query.sort == "relevance" and rank is not None:
        sort_keys = [(rank, False), (Listing.id, True)]
    else:
        sort_keys = [(Listing.published_at, True), (Listing.id, True)]
    if query.cursor:
        values = _cursor_values(query, len(sort_keys))
        stmt = stmt.where(_after(sort_keys, values))
    order = [expr.desc() if descending else expr.asc() for expr, descending in sort_keys]
    ranked = stmt.add_columns(*(expr.label(f"k{i}") for i, (expr, _) in enumerate(sort_keys)))
    rows = (await session.execute(ranked.order_by(*order).limit(query.limit + 1))).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    hits = []
    for row in rows:
        listing = row[0]
        km = (
            float(row.distance_km) if distance is not None and row.distance_km is not None else None
        )
        hits.append(Hit(listing, km))
    next_cursor = None
    if more and rows:
        last = rows[-1]
        keys = [getattr(last, f"k{i}") for i in range(len(sort_keys))]
        next_cursor = encode_cursor(
            {"s": query.sort, "k": [k.isoformat() if isinstance(k, datetime) else k for k in keys]}
        )
    return Page(hits, next_cursor)


def _cursor_values(query: SearchQuery, count: int) -> list[Any]:
    assert query.cursor is not None
    keys = query.cursor.get("k")
    if query.cursor.get("s") != query.sort or not isinstance(keys, list) or len(keys) != count:
        raise Invalid({"cursor": FieldError("is not a cursor from a previous page")})
    try:
        if query.sort == "distance" or query.sort == "relevance":
            return [float(keys[0]), int(keys[1])]
        return [datetime.fromisoformat(str(keys[0])), int(keys[1])]
    except (TypeError, ValueError):
        raise Invalid({"cursor": FieldError("is not a cursor from a previous page")}) from None
