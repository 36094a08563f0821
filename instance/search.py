"""Finding listings: query parsing, filters, paging.

:func:`parse_query` turns the query string of ``GET /api/v1/listings`` (and
of the search page and the feeds) into a typed :class:`SearchQuery`, with a
422 naming the bad parameter. :func:`search_listings` runs it.

Paging is by cursor: an opaque token holding the sort key of the last item
(for ``recent``: ``published_at`` and ``id``), so that pages stay stable
while new listings arrive — a new listing sorts before the cursor and never
shifts later pages.

Anyone may search, so the cost of a search is bounded whatever is asked:

* the text query has at most 8 words, and only words of 3 letters or more
  match as prefixes (``domain.textsearch``);
* the full-text index is read once per search. On SQLite the matches are a
  subquery (``listings.id IN (SELECT rowid FROM listings_fts WHERE …)``), or,
  ranked by relevance, a join on ``+listings_fts.rowid``, which the FTS5
  table cannot use to be looked up listing by listing. Joined plainly, a
  planner without statistics (a node never runs ``ANALYZE``) walked the date
  index and ran the whole ``MATCH`` again for each listing it met — two
  minutes for 4 two-letter words at 100,000 listings. (A materialised CTE of
  ``(rowid, bm25)`` is as safe but ranks every match before the filters: up
  to twice the CPU of a text search with a category.)
* a search runs under ``listings.search_time_limit`` (2 s by default), which
  the database enforces (``config.database.bounded``), and stops in the
  database when its client goes away. Past the limit it is answered 422
  ``query_too_expensive`` (:class:`SearchTooExpensive`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defaultload

from config.database import StatementTimeout, bounded
from domain.categories import CATEGORY_IDS
from domain.models import LISTING_KINDS, LISTING_STATUSES, MODALITIES, Listing, Structure
from domain.places import MAX_QUERY as MAX_PLACE_QUERY
from domain.places import resolve as resolve_place
from domain.textsearch import MIN_PREFIX, fts5_query, is_prefix, query_words
from domain.validation import Collector, FieldError, Invalid
from federation.models import Actor, DomainPolicy, Follow
from instance.errors import ApiError

log = logging.getLogger(__name__)

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# Seconds; the setting ``listings.search_time_limit`` has the same default.
SEARCH_TIME_LIMIT = 2.0
TOO_EXPENSIVE = (
    "this search takes too long on this node: narrow it (longer or fewer words, a filter, a radius)"
)


class SearchTooExpensive(ApiError):
    """A search stopped at its time limit: 422 ``query_too_expensive``, naming ``q`` if given."""

    def __init__(self, query: SearchQuery) -> None:
        field = "q" if query.q else "query"
        super().__init__(
            422, TOO_EXPENSIVE, code="query_too_expensive", fields={field: TOO_EXPENSIVE}
        )


@dataclass
class SearchQuery:
    q: str | None = None
    kind: str | None = None
    category: str | None = None
    modality: str | None = None
    status: str | None = "open"
    near: tuple[float, float] | None = None
    near_commune: str | None = None  # near=COMMUNE, placed by search_listings
    radius_km: float | None = None
    origin: str | None = None
    structure: str | None = None
    available_on: date | None = None
    sort: str = "recent"
    limit: int = DEFAULT_LIMIT
    cursor: dict[str, Any] | None = None
    own_domain: str = ""
    timeline_of: int | None = None  # an actor id: only what it follows
    # Withdrawn listings are shown only to their structure's people and to moderators:
    # the ids of the structures whose withdrawn listings this search may return (by
    # default none), or None for all of them. Set by the API from who asks.
    withdrawn_of: tuple[int, ...] | None = ()
    ids: list[int] | None = None  # only these listings (does one listing fit a saved search?)
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
            if any(ch.isalpha() for ch in near) or near.strip().isdigit():
                query.near_commune = c.text(args, "near", max_length=MAX_PLACE_QUERY)
            else:
                c.add("near", "must be LAT,LON or a commune")
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
    if (
        sort == "distance"
        and query.near is None
        and not query.near_commune
        and "near" not in c.errors
    ):
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
        or_(Listing.structure_id.is_(None), Structure.is_visible),
        Listing.author_id.not_in(moderated),
        or_(Listing.local.is_(True), Listing.origin.not_in(silenced)),
    )
    if query.status:
        stmt = stmt.where(Listing.status == query.status)
    if query.status in (None, "withdrawn") and query.withdrawn_of is not None:
        stmt = stmt.where(
            or_(Listing.status != "withdrawn", Listing.structure_id.in_(query.withdrawn_of))
        )
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
    if query.ids is not None:
        stmt = stmt.where(Listing.id.in_(query.ids))
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


def bounding_box(
    lat: float, lon: float, radius_km: float, *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    """An index-friendly prefilter: the box around the circle of ``radius_km``.

    ``indexed=False`` writes it on ``lat + 0`` / ``lon + 0``, the same values
    that the (lat, lon) index cannot serve, so that SQLite's planner picks
    another index (see :data:`SQLITE_DENSE_BOX`).
    """
    lat_col: Any = Listing.lat if indexed else Listing.lat + 0
    lon_col: Any = Listing.lon if indexed else Listing.lon + 0
    dlat = radius_km / KM_PER_DEGREE
    conditions: list[ColumnElement[bool]] = [lat_col.between(lat - dlat, lat + dlat)]
    cos_lat = math.cos(math.radians(lat))
    if cos_lat > 0.01 and dlat < 80:
        dlon = radius_km / (KM_PER_DEGREE * cos_lat)
        if dlon < 180:
            low, high = lon - dlon, lon + dlon
            if low < -180 or high > 180:  # the box crosses the antimeridian
                conditions.append(
                    or_(
                        lon_col >= (low + 360 if low < -180 else low),
                        lon_col <= (high - 360 if high > 180 else high),
                    )
                )
            else:
                conditions.append(lon_col.between(low, high))
    return conditions


async def _text_match(
    session: AsyncSession, stmt: Select[Any], dialect: str, q: str, *, ranked: bool
) -> tuple[Select[Any], Any] | None:
    """Add the full-text condition for ``q``; return the statement and, when ``ranked``,
    a rank (lower is better). ``None`` when ``q`` has no searchable word."""
    if dialect == "sqlite":
        match = fts5_query(q)
        if match is None:
            return None
        fts = table("listings_fts", column("rowid"))
        matching = text("listings_fts MATCH :match").bindparams(match=match)
        if not ranked:
            return stmt.where(Listing.id.in_(select(fts.c.rowid).where(matching))), None
        # bm25() needs the MATCH in the same query. The unary + hides the rowid from the
        # FTS5 table's xBestIndex: it can no longer be the inner loop looked up row by
        # row (each lookup a whole MATCH), so its MATCH runs once, as the outer loop.
        stmt = stmt.join(fts, literal_column("+listings_fts.rowid") == Listing.id).where(matching)
        return stmt, literal_column("bm25(listings_fts, 10.0, 1.0)", type_=Float)
    words = query_words(q)
    if not words:
        return None
    tsquery = await _pg_tsquery(session, words)
    vector: ColumnElement[Any] = literal_column("listings.search_vector")
    stmt = stmt.where(vector.op("@@")(tsquery))
    return stmt, (-func.ts_rank(vector, tsquery) if ranked else None)


# A lexeme too short to be a prefix, in to_tsquery's text output: 'pa':*
_SHORT_PREFIX = re.compile(rf"'([^']{{1,{MIN_PREFIX - 1}}})':\*")


async def _pg_tsquery(session: AsyncSession, words: list[str]) -> Any:
    """Every word must match, under the French or the English configuration, as a prefix
    when it is long enough (``domain.textsearch.is_prefix``), as a whole word otherwise.

    The two configurations often give the same lexeme (« livraison »): then the
    query names it once, where ``'livraison':* | 'livraison':*`` made the GIN
    index collect the same prefix twice (``ts_rank`` ignores repeated lexemes,
    so ranks are unchanged). The word queries are computed first, in one round
    trip, so that the search sees a constant ``tsquery``: PostgreSQL then
    estimates its selectivity from the index statistics and does not call
    ``to_tsquery`` again for each row it ranks. A stem can be shorter than its
    word (« uns » → ``un``): the rule applies to the lexeme too.
    """
    columns = ", ".join(
        f"to_tsquery('french', :w{i})::text, to_tsquery('english', :w{i})::text"
        for i in range(len(words))
    )
    params = {f"w{i}": f"{word}:*" if is_prefix(word) else word for i, word in enumerate(words)}
    forms = (await session.execute(text(f"SELECT {columns}"), params)).one()
    tsquery: Any = None
    seen: set[tuple[str, str]] = set()
    for i in range(len(words)):
        french = _SHORT_PREFIX.sub(r"'\1'", forms[2 * i])
        english = _SHORT_PREFIX.sub(r"'\1'", forms[2 * i + 1])
        if (french, english) in seen:
            continue
        seen.add((french, english))
        either: Any = cast(literal(french), TSQUERY)
        if english != french:
            either = either.op("||")(cast(literal(english), TSQUERY))
        tsquery = either if tsquery is None else tsquery.op("&&")(either)
    return tsquery


def _after(sort_keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor in the order of ``sort_keys`` (column, descending)."""
    clauses = []
    for i, (expr, descending) in enumerate(sort_keys):
        equal = [sort_keys[j][0] == values[j] for j in range(i)]
        beyond = expr < values[i] if descending else expr > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


# Sorting by distance looks in growing circles first: when a circle already
# holds a full page, those are the nearest listings and the rest of the table
# need not be measured. The last step is the whole requested area.
NEAREST_RADII_KM = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
# On SQLite, a radius search sorted by date walks the date index when the box
# around the circle holds at least this many listings (a page is then found
# after a few rows), and reads the box through the position index otherwise.
SQLITE_DENSE_BOX = 2_000


def _within(lat: float, lon: float, radius_km: float, *, indexed: bool = True) -> list[Any]:
    """Listings within ``radius_km``: the bounding box, then the exact distance."""
    box = bounding_box(lat, lon, radius_km, indexed=indexed)
    return [*box, distance_expr(lat, lon) <= radius_km]


async def _box_is_dense(session: AsyncSession, lat: float, lon: float, radius_km: float) -> bool:
    """Whether the box around the circle holds ``SQLITE_DENSE_BOX`` listings or more.

    Counted on the (lat, lon) index alone, and stopped at the threshold.
    """
    inside = select(Listing.id).where(*bounding_box(lat, lon, radius_km)).limit(SQLITE_DENSE_BOX)
    found = await session.scalar(select(func.count()).select_from(inside.subquery()))
    return int(found or 0) >= SQLITE_DENSE_BOX


async def near_commune(session: AsyncSession, text: str) -> tuple[float, float]:
    """The position of the commune ``near=`` names (``domain.places``), or a 422."""
    resolution = await resolve_place(session, text)
    place = resolution.place
    if place is not None and place.lat is not None and place.lon is not None:
        return place.lat, place.lon
    if resolution.ambiguous:
        names = ", ".join(p.label for p in resolution.candidates[:5])
        raise Invalid({"near": FieldError("names several communes: %(names)s", {"names": names})})
    raise Invalid({"near": FieldError("is not a known commune (or give LAT,LON)")})


async def search_listings(
    session: AsyncSession,
    dialect: str,
    query: SearchQuery,
    *,
    time_limit: float = SEARCH_TIME_LIMIT,
) -> Page:
    """Run a search within ``time_limit`` seconds; raise :class:`SearchTooExpensive` past it.

    The database stops the search at the limit, and as soon as the caller is
    cancelled (its client went away): see ``config.database.bounded``.
    """
    try:
        return await bounded(session, time_limit, lambda: _search(session, dialect, query))
    except StatementTimeout:
        log.warning(
            "search stopped at its time limit (%g s): q=%r sort=%s",
            time_limit,
            (query.q or "")[:100],
            query.sort,
        )
        raise SearchTooExpensive(query) from None


async def _search(session: AsyncSession, dialect: str, query: SearchQuery) -> Page:
    """Filters, full text, distance, sort and cursor paging.

    Two steps: the first finds the ids and sort keys of one page (plus one row,
    to know whether there is more), reading only narrow columns; the second
    loads those listings with their structure and author. Sorting a page of
    ids costs little, where sorting every candidate row with all its columns
    and joined actors cost most of a search.
    """
    if query.near is None and query.near_commune:
        query.near = await near_commune(session, query.near_commune)
    rank: Any = None
    stmt = base_filters(select(Listing.id), query)
    if query.q:
        ranked = query.sort == "relevance"
        found = await _text_match(session, stmt, dialect, query.q, ranked=ranked)
        if found is None:
            return Page([], None)
        stmt, rank = found

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
    keyed = (
        stmt.add_columns(*(expr.label(f"k{i}") for i, (expr, _) in enumerate(sort_keys)))
        .order_by(*order)
        .limit(query.limit + 1)
    )

    rows: list[Any]
    if query.near is not None and query.sort == "distance":
        rows = await _nearest(session, keyed, query, expand=not query.q)
    elif query.near is not None and query.radius_km is not None:
        lat, lon = query.near
        indexed = True
        if dialect == "sqlite" and not query.q:
            indexed = not await _box_is_dense(session, lat, lon, query.radius_km)
        within = _within(lat, lon, query.radius_km, indexed=indexed)
        rows = list((await session.execute(keyed.where(*within))).all())
    else:
        rows = list((await session.execute(keyed)).all())

    more = len(rows) > query.limit
    rows = rows[: query.limit]
    hits = await _load(session, [row[0] for row in rows], query)
    next_cursor = None
    if more and rows:
        last = rows[-1]
        keys = [getattr(last, f"k{i}") for i in range(len(sort_keys))]
        next_cursor = encode_cursor(
            {"s": query.sort, "k": [k.isoformat() if isinstance(k, datetime) else k for k in keys]}
        )
    return Page(hits, next_cursor)


async def _nearest(
    session: AsyncSession, keyed: Select[Any], query: SearchQuery, *, expand: bool
) -> list[Any]:
    """A page sorted by distance, looking in growing circles (``NEAREST_RADII_KM``).

    Not with ``expand=False`` (a text search: the text index then leads, and
    each circle would read all its matches again).
    """
    assert query.near is not None
    lat, lon = query.near
    wanted = query.limit + 1
    for radius in NEAREST_RADII_KM if expand else ():
        if query.radius_km is not None and radius >= query.radius_km:
            break
        rows = list((await session.execute(keyed.where(*_within(lat, lon, radius)))).all())
        if len(rows) >= wanted:
            return rows
    if query.radius_km is not None:
        keyed = keyed.where(*_within(lat, lon, query.radius_km))
    return list((await session.execute(keyed)).all())


async def _load(session: AsyncSession, ids: list[int], query: SearchQuery) -> list[Hit]:
    """The listings of ``ids``, in that order, with their distance when ``near`` is set."""
    if not ids:
        return []
    columns: list[Any] = [Listing]
    if query.near is not None:
        columns.append(distance_expr(*query.near).label("distance_km"))
    # Actor keys and structure memberships (eager by default) are for signing and for
    # administration, not for showing listings: not loading them saves two queries.
    structure = defaultload(Listing.structure)
    found = await session.execute(
        select(*columns)
        .where(Listing.id.in_(ids))
        .options(
            defaultload(Listing.author).lazyload(Actor.keys),
            structure.lazyload(Structure.memberships),
            structure.defaultload(Structure.actor).lazyload(Actor.keys),
        )
    )
    by_id = {row[0].id: row for row in found.all()}
    hits = []
    for listing_id in ids:
        row = by_id.get(listing_id)
        if row is None:  # deleted between the two steps
            continue
        km = row.distance_km if query.near is not None else None
        hits.append(Hit(row[0], None if km is None else float(km)))
    return hits


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
