"""The candidates of a listing for matching: from the search index, bounded.

``instance.services.matching`` scores what :func:`candidates` returns; its docstring
says which listings are candidates and the bounds (:data:`CANDIDATES`,
:data:`MAX_WORDS`, :data:`COMMON_WORD`, :data:`FALLBACK_WORDS`). One statement reads
the candidates with every column the score and the notifications need; before it, one
statement tells which of the listing's words are common.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    and_,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from domain.matching import Side
from domain.models import Listing, Structure
from domain.textsearch import stems_of, words
from instance.search import bounding_box

CANDIDATES = 200  # read from the index per listing, best text rank first
MAX_WORDS = 12  # of the listing's words that are not common, to look candidates up with
COMMON_WORD = 5_000  # a word held by more listings than this is common: it brings none
FALLBACK_WORDS = 2  # looked up when every word of the listing is common
STATS_SECONDS = 600.0  # PostgreSQL: how long the index's common words are kept in memory

# What scoring and telling need of a candidate, read with it in one statement.
COLUMNS = (
    Listing.id, Listing.kind, Listing.category, Listing.modality, Listing.author_id,
    Listing.title, Listing.description, Listing.status, Listing.lat, Listing.lon,
    Listing.radius_km, Listing.available_from, Listing.available_until, Listing.local,
    Listing.structure_id, Listing.origin, Listing.fold_title, Listing.fold_body,
)  # fmt: skip
FOLDED_MAX = 20_000  # the stored folded description stops there (``Listing.fold_body``)


def side_of(listing: Listing | Row[Any]) -> Side:
    """The listing as the score sees it. A candidate's text is its stored folded form:
    the score folds its text first, so its words are the same, without folding 200
    texts again (unless the folded description was cut at FOLDED_MAX)."""
    text = f"{listing.title}\n{listing.description}"
    if isinstance(listing, Row) and len(listing.fold_body) < FOLDED_MAX:
        text = f"{listing.fold_title}\n{listing.fold_body}"
    return Side(
        kind=listing.kind,
        category=listing.category,
        modality=listing.modality,
        author=str(listing.author_id),
        text=text,
        status=listing.status,
        lat=listing.lat,
        lon=listing.lon,
        radius_km=listing.radius_km,
        available_from=listing.available_from,
        available_until=listing.available_until,
    )


def _visible_structure() -> ColumnElement[bool]:
    approved = select(Structure.id).where(Structure.is_visible)
    return or_(Listing.structure_id.is_(None), Listing.structure_id.in_(approved))


async def candidates(session: AsyncSession, dialect: str, listing: Listing) -> list[Row[Any]]:
    """The listings that may fit ``listing``, from the indexes (at most CANDIDATES), as
    rows of :data:`COLUMNS`, best text rank first."""
    unique = list(dict.fromkeys(words(f"{listing.title} {listing.description}")))
    if not unique:
        return []
    other = "need" if listing.kind == "offer" else "offer"
    stmt = select(*COLUMNS).where(
        Listing.kind == other,
        Listing.category == listing.category,
        Listing.status == "open",
        Listing.hidden.is_(False),
        Listing.author_id != listing.author_id,
        _visible_structure(),
    )
    if listing.lat is not None and listing.lon is not None:
        reach = side_of(listing).reach_km
        box = and_(*bounding_box(listing.lat, listing.lon, reach))
        stmt = stmt.where(or_(Listing.lat.is_(None), box))
    rank: Any
    if dialect == "sqlite":
        looked_up = await _sqlite_words(session, unique)
        match = " OR ".join(_fts_any(word) for word in looked_up)
        fts = table("listings_fts", column("rowid"))
        stmt = stmt.join(fts, fts.c.rowid == Listing.id).where(
            text("listings_fts MATCH :match").bindparams(match=match)
        )
        rank = literal_column("bm25(listings_fts, 10.0, 1.0)", type_=Float)
    else:
        query = await _pg_any_word(session, unique)
        vector: ColumnElement[Any] = literal_column("listings.search_vector")
        stmt = stmt.where(vector.op("@@")(query))
        rank = -func.ts_rank(vector, query)
    found = await session.execute(stmt.order_by(rank).limit(CANDIDATES))
    return list(cast(Sequence[Row[Any]], found.all()))


def _fts_any(word: str) -> str:
    """An FTS5 expression matching any stem of one folded word."""
    return " OR ".join(f'"{stem}"' for stem in stems_of(word))


def _uncommon(unique: list[str], common: set[str]) -> list[str]:
    """The first MAX_WORDS words not common, or the first FALLBACK_WORDS if all are."""
    kept = [word for word in unique if word not in common][:MAX_WORDS]
    return kept or unique[:FALLBACK_WORDS]


# SQLite: the words found common, per database, until when (counting a common word reads
# COMMON_WORD postings, and common words are, by definition, those that come back).
_sqlite_common: dict[str, dict[str, float]] = {}
KNOWN_COMMON = 20_000  # words remembered per database at most


async def _sqlite_words(session: AsyncSession, unique: list[str]) -> list[str]:
    """The words to look candidates up with. The index counts the listings of each word
    not known to be common, up to COMMON_WORD + 1, all in one statement; a word found
    common is remembered STATS_SECONDS."""
    considered = unique[: 2 * MAX_WORDS]
    now = time.monotonic()
    known = _sqlite_common.setdefault(str(session.get_bind().engine.url), {})
    common = {word for word in considered if known.get(word, 0.0) > now}
    counted = [word for word in considered if word not in common]
    if counted:
        bounded = (
            "(SELECT count(*) FROM (SELECT 1 FROM listings_fts WHERE listings_fts MATCH :w{i}"
            " LIMIT :cap))"
        )
        sql = "SELECT " + ", ".join(bounded.format(i=i) for i in range(len(counted)))
        params: dict[str, Any] = {f"w{i}": _fts_any(word) for i, word in enumerate(counted)}
        params["cap"] = COMMON_WORD + 1
        counts = (await session.execute(text(sql), params)).one()
        found = {word for word, n in zip(counted, counts, strict=True) if n > COMMON_WORD}
        if len(known) + len(found) > KNOWN_COMMON:
            known.clear()
        known.update(dict.fromkeys(found, now + STATS_SECONDS))
        common |= found
    return _uncommon(considered, common)


_LEXEME = re.compile(r"'((?:[^']|'')*)'")
_pg_common: dict[str, tuple[float, frozenset[str]]] = {}  # database → (read at, lexemes)


async def _pg_common_lexemes(session: AsyncSession) -> frozenset[str]:
    """The lexemes of the search index held by more than COMMON_WORD listings, from the
    planner's statistics (kept STATS_SECONDS in memory)."""
    key = str(session.get_bind().engine.url)
    read_at, lexemes = _pg_common.get(key, (0.0, frozenset()))
    if time.monotonic() - read_at < STATS_SECONDS:
        return lexemes
    row = (
        await session.execute(
            text(
                "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples"
                " FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname"
                " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename"
                " WHERE s.schemaname = current_schema() AND s.tablename = 'listings'"
                " AND s.attname = 'search_vector'"
            )
        )
    ).first()
    found: frozenset[str] = frozenset()
    if row is not None and row[0] and row[1] and row[2]:
        rows = float(row[2])
        found = frozenset(
            lexeme
            for lexeme, share in zip(row[0], row[1], strict=False)
            if share * rows > COMMON_WORD
        )
    _pg_common[key] = (time.monotonic(), found)
    return found


async def _pg_any_word(session: AsyncSession, unique: list[str]) -> Any:
    """A tsquery matching any of the words looked up, in French or English."""
    considered = unique[: 2 * MAX_WORDS]
    parts = [
        f"(to_tsquery('french', :w{i}) || to_tsquery('english', :w{i}))::text"
        for i in range(len(considered))
    ]
    params = {f"w{i}": word for i, word in enumerate(considered)}
    queries = dict(
        zip(
            considered,
            (await session.execute(text(f"SELECT {', '.join(parts)}"), params)).one(),
            strict=True,
        )
    )
    common_lexemes = await _pg_common_lexemes(session)
    common = {
        word
        for word, query in queries.items()
        if any(lexeme in common_lexemes for lexeme in _LEXEME.findall(query or ""))
    }
    value = " | ".join(f"( {queries[w]} )" for w in _uncommon(considered, common) if queries[w])
    return sql_cast(literal(value), TSQUERY)
