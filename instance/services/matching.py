"""Matching: finding the offers that answer each need (and the reverse), and telling them.

The matching worker takes the queue of ``domain.matches`` in batches (a loop of
``instance.workers``; ``drain`` in tests). For each queued listing:

1. a listing that is not open, hidden, or whose structure is not approved loses
   its matches;
2. otherwise its **candidates** come from the search index, never a scan: open
   listings of the other kind in the same category, of another author, within
   the box around its reach (or without a position), whose text shares at least
   one of its words (FTS5 on SQLite, ``tsvector`` on PostgreSQL), the
   :data:`CANDIDATES` best by text rank;
3. each candidate is scored by the pure ``domain.matching.score``; the
   :data:`KEEP` best fits are stored (one row per pair), stale pairs deleted;
4. a **new** pair notifies both structures when they are local (kind ``match``),
   once: a pair updated later (a better score, a new distance) is not told again;
5. the saved searches of other structures that the listing fits are told of it
   (``instance.services.saved_searches``), once each.

The worker commits each listing on its own, so a failure costs one listing
(left queued, retried on the next pass) and never the batch.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from config.database import Database, utcnow
from domain.matches import Match, MatchJob
from domain.matching import Side, score
from domain.models import Listing, Structure
from domain.notify import notify_structure
from domain.textsearch import stems_of, words
from instance.errors import NotFound
from instance.search import bounding_box
from instance.services.saved_searches import alert

log = logging.getLogger(__name__)

CANDIDATES = 200  # read from the index per listing, best text rank first
KEEP = 20  # matches kept per listing
MAX_WORDS = 12  # of the listing's words, to look candidates up with
BATCH = 50


def side_of(listing: Listing) -> Side:
    return Side(
        kind=listing.kind,
        category=listing.category,
        modality=listing.modality,
        author=str(listing.author_id),
        text=f"{listing.title}\n{listing.description}",
        status=listing.status,
        lat=listing.lat,
        lon=listing.lon,
        radius_km=listing.radius_km,
        available_from=listing.available_from,
        available_until=listing.available_until,
    )


def _matchable(listing: Listing | None) -> bool:
    if listing is None or listing.status != "open" or listing.hidden:
        return False
    return listing.structure is None or listing.structure.is_visible


def _visible_structure() -> ColumnElement[bool]:
    approved = select(Structure.id).where(Structure.is_visible)
    return or_(Listing.structure_id.is_(None), Listing.structure_id.in_(approved))


async def candidates(session: AsyncSession, dialect: str, listing: Listing) -> list[Listing]:
    """The listings that may fit ``listing``, from the indexes (at most CANDIDATES)."""
    folded = words(f"{listing.title} {listing.description}")
    unique = list(dict.fromkeys(folded))[:MAX_WORDS]
    if not unique:
        return []
    other = "need" if listing.kind == "offer" else "offer"
    stmt = select(Listing.id).where(
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
        stems = sorted({stem for word in unique for stem in stems_of(word)})
        match = " OR ".join(f'"{stem}"' for stem in stems)
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
    ids = list((await session.execute(stmt.order_by(rank).limit(CANDIDATES))).scalars())
    if not ids:
        return []
    rows = await session.execute(select(Listing).where(Listing.id.in_(ids)))
    return list(rows.scalars().unique())


async def _pg_any_word(session: AsyncSession, unique: list[str]) -> Any:
    """A tsquery matching any of the words, in French or English."""
    parts = []
    params: dict[str, str] = {}
    for i, word in enumerate(unique):
        parts.append(f"to_tsquery('french', :w{i}) || to_tsquery('english', :w{i})")
        params[f"w{i}"] = word
    value = (await session.execute(text(f"SELECT ({' || '.join(parts)})::text"), params)).scalar()
    return cast(literal(value or ""), TSQUERY)


async def match_listing(session: AsyncSession, dialect: str, listing_id: int) -> list[Match]:
    """Match one listing again: store its best fits, drop stale pairs, tell new ones."""
    listing = await session.get(Listing, listing_id)
    involving = or_(Match.need_id == listing_id, Match.offer_id == listing_id)
    if listing is None or not _matchable(listing):
        await session.execute(delete(Match).where(involving))
        return []
    await alert(session, dialect, listing)
    mine = side_of(listing)
    fits = []
    for other in await candidates(session, dialect, listing):
        if not _matchable(other):
            continue
        fit = score(mine, side_of(other))
        if fit is not None:
            fits.append((fit, other))
    fits.sort(key=lambda pair: (-pair[0].score, pair[1].id))
    fits = fits[:KEEP]
    existing = {
        (m.need_id, m.offer_id): m
        for m in (await session.execute(select(Match).where(involving))).scalars().unique()
    }
    kept: list[Match] = []
    now = utcnow()
    for fit, other in fits:
        need, offer = (listing, other) if listing.kind == "need" else (other, listing)
        row = existing.pop((need.id, offer.id), None)
        if row is None:
            row = Match(need_id=need.id, offer_id=offer.id, created_at=now)
            session.add(row)
            new = True
        else:
            new = False
        row.score, row.reasons, row.distance_km = fit.score, list(fit.reasons), fit.distance_km
        row.updated_at = now
        if new:
            await _tell(session, need, offer, fit.score)
        kept.append(row)
    for stale in existing.values():
        await session.delete(stale)
    return kept


async def _tell(session: AsyncSession, need: Listing, offer: Listing, value: float) -> None:
    """A new pair: each local structure is told of the other side's listing."""
    for mine, theirs in ((need, offer), (offer, need)):
        if mine.local and mine.structure_id is not None:
            await notify_structure(
                session,
                mine.structure_id,
                "match",
                {
                    "listing": mine.id,
                    "listing_title": mine.title,
                    "match": theirs.id,
                    "match_title": theirs.title,
                    "match_origin": theirs.origin,
                    "score": value,
                },
                url=f"/listings/{theirs.id}",
            )


async def run_queue(db: Database, transaction: Any, *, batch: int = BATCH) -> int:
    """Match the listings queued, oldest first, each in its own transaction."""
    async with db.session() as session:
        jobs = list(
            (
                await session.execute(
                    select(MatchJob.listing_id, MatchJob.queued_at)
                    .order_by(MatchJob.queued_at)
                    .limit(batch)
                )
            ).all()
        )
    done = 0
    for listing_id, queued_at in jobs:
        try:
            async with transaction() as session:
                await match_listing(session, db.dialect, listing_id)
                await session.execute(
                    delete(MatchJob).where(
                        MatchJob.listing_id == listing_id, MatchJob.queued_at == queued_at
                    )
                )
        except Exception:
            # One listing's failure must not stall the queue: it goes to the back.
            log.exception("matching listing %s failed; queued again", listing_id)
            async with db.session() as session:
                await session.execute(
                    update(MatchJob)
                    .where(MatchJob.listing_id == listing_id)
                    .values(queued_at=utcnow())
                )
            continue
        done += 1
    return done


def shown(listing: Listing) -> bool:
    """Whether a listing on the other side of a match may be shown (open and visible)."""
    return _matchable(listing)


async def matches_of(session: AsyncSession, listing: Listing) -> list[tuple[Match, Listing]]:
    """The stored matches of ``listing`` with the listing on the other side, best first;
    only open, visible listings are shown."""
    rows = await session.execute(
        select(Match)
        .where(or_(Match.need_id == listing.id, Match.offer_id == listing.id))
        .order_by(Match.score.desc(), Match.id)
    )
    pairs = [(m, m.other(listing.id)) for m in rows.scalars().unique()]
    return [(m, other) for m, other in pairs if shown(other)]


async def visible_listing(session: AsyncSession, listing_id: int) -> Listing:
    """A listing whose matches may be read: not hidden, not withdrawn, of an approved
    structure (``NotFound`` otherwise)."""
    listing = await session.get(Listing, listing_id)
    if listing is None or listing.hidden or listing.status == "withdrawn":
        raise NotFound("no such listing")
    if listing.structure is not None and not listing.structure.is_visible:
        raise NotFound("no such listing")
    return listing


async def structure_matches(
    session: AsyncSession,
    structure: Structure,
    limit: int,
    before: int | None = None,
    *,
    public: bool = False,
) -> tuple[list[tuple[Match, Listing]], int | None]:
    """The matches of the structure's open listings, newest first, with ids below
    ``before``: each with the structure's own listing, only those whose other side may
    be shown; and the id to page on from when there are more (else None).

    ``public`` (anyone but the structure's people, e.g. on its page): only the matches
    whose own listing is shown to everyone as well (not hidden by the moderators)."""
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
    if before is not None:
        stmt = stmt.where(Match.id < before)
    found = list((await session.execute(stmt)).scalars().unique())
    items = []
    for match in found[:limit]:
        mine = match.need if match.need.structure_id == structure.id else match.offer
        if shown(match.other(mine.id)) and (not public or shown(mine)):
            items.append((match, mine))
    return items, found[limit - 1].id if len(found) > limit else None
