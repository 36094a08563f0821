"""Finding listings: running a search within its bounds.

:func:`parse_query` (``instance.search_query``) turns the query string of
``GET /api/v1/listings`` (and of the search page and the feeds) into a typed
:class:`SearchQuery`, with a 422 naming the bad parameter; the conditions it
makes are in ``instance.search_filters``. :func:`search_listings` runs it. The
names of both modules are importable from here.

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

import logging
import re
from datetime import datetime
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
from domain.models import Listing
from domain.people import shown_structure
from domain.places import resolve as resolve_place
from domain.textsearch import MIN_PREFIX, fts5_query, is_prefix, query_words
from domain.validation import FieldError, Invalid
from federation.models import Actor
from instance.errors import ApiError
from instance.search_filters import (
    EARTH_RADIUS_KM,
    KM_PER_DEGREE,
    RANKED_CANDIDATES,
    base_filters,
    best_candidates,
    bounding_box,
    distance_expr,
    many_matches,
)
from instance.search_query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Hit,
    Page,
    SearchQuery,
    decode_cursor,
    encode_cursor,
    parse_query,
)

__all__ = [  # with the names of search_query and search_filters, for their users
    "DEFAULT_LIMIT",
    "EARTH_RADIUS_KM",
    "KM_PER_DEGREE",
    "MAX_LIMIT",
    "RANKED_CANDIDATES",
    "SEARCH_TIME_LIMIT",
    "Hit",
    "Page",
    "SearchQuery",
    "SearchTooExpensive",
    "base_filters",
    "best_candidates",
    "bounding_box",
    "decode_cursor",
    "distance_expr",
    "encode_cursor",
    "near_commune",
    "parse_query",
    "search_listings",
]

log = logging.getLogger(__name__)

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


async def _text_match(
    session: AsyncSession, stmt: Select[Any], dialect: str, q: str, *, ranked: bool
) -> tuple[Select[Any], Any, bool] | None:
    """Add the full-text condition for ``q``; return the statement, when ``ranked`` a
    rank (lower is better), and whether to rank only the best candidates (PostgreSQL,
    ``instance.search_filters.many_matches``). ``None`` when ``q`` has no searchable word."""
    if dialect == "sqlite":
        match = fts5_query(q)
        if match is None:
            return None
        fts = table("listings_fts", column("rowid"))
        matching = text("listings_fts MATCH :match").bindparams(match=match)
        if not ranked:
            return stmt.where(Listing.id.in_(select(fts.c.rowid).where(matching))), None, False
        # bm25() needs the MATCH in the same query. The unary + hides the rowid from the
        # FTS5 table's xBestIndex: it can no longer be the inner loop looked up row by
        # row (each lookup a whole MATCH), so its MATCH runs once, as the outer loop.
        stmt = stmt.join(fts, literal_column("+listings_fts.rowid") == Listing.id).where(matching)
        return stmt, literal_column("bm25(listings_fts, 10.0, 1.0)", type_=Float), False
    words = query_words(q)
    if not words:
        return None
    tsquery = await _pg_tsquery(session, words)
    vector: ColumnElement[Any] = literal_column("listings.search_vector")
    matches: ColumnElement[bool] = vector.op("@@")(tsquery)
    if not ranked:
        return stmt.where(matches), None, False
    best = await many_matches(session, matches)
    return stmt.where(matches), -func.ts_rank(vector, tsquery), best


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
    listing_id: Any = Listing.id
    stmt = base_filters(select(Listing.id), query)
    if query.q:
        ranked = query.sort == "relevance"
        found = await _text_match(session, stmt, dialect, query.q, ranked=ranked)
        if found is None:
            return Page([], None)
        stmt, rank, best_only = found
        if best_only:
            best = best_candidates(stmt, query, rank)  # the radius applied within
            stmt, rank, listing_id = select(best.c.id), best.c.rank, best.c.id

    sort_keys: list[tuple[Any, bool]]
    if query.sort == "distance" and query.near is not None:
        stmt = stmt.where(Listing.lat.is_not(None), Listing.lon.is_not(None))
        sort_keys = [(distance_expr(*query.near), False), (Listing.id, False)]
    elif query.sort == "relevance" and rank is not None:
        sort_keys = [(rank, False), (listing_id, True)]
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
    elif query.near is not None and query.radius_km is not None and listing_id is Listing.id:
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
    found = await session.execute(
        select(*columns)
        .where(Listing.id.in_(ids))
        .options(
            defaultload(Listing.author).lazyload(Actor.keys),
            *shown_structure(defaultload(Listing.structure)),
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
