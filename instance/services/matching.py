"""Matching: finding the offers that answer each need (and the reverse), and telling them.

The matching worker takes the queue of ``domain.matches`` in batches (a loop of
``instance.workers``; ``drain`` in tests). For each queued listing:

1. a listing that is not open, hidden, or whose structure is not approved loses
   its matches;
2. otherwise its **candidates** come from the search index, never a scan: open
   listings of the other kind in the same category, of another author, within
   the box around its reach (or without a position), whose text shares at least
   one of its words (FTS5 on SQLite, ``tsvector`` on PostgreSQL), the
   :data:`CANDIDATES` best by text rank, read in the same statement with what the
   score needs. The bounds:

   * the words looked up are the listing's first :data:`MAX_WORDS` distinct words
     (title first) that are **not common**: a word held by more than
     :data:`COMMON_WORD` listings of the index (« disponible », « projet ») would
     make the index read a large share of all listings for a word that says little
     of what is offered. Common words still count in the score; they only do not
     bring candidates. A listing whose words are all common looks candidates up by
     its first :data:`FALLBACK_WORDS` words. On SQLite the index counts each word's
     listings, up to the bound, in the same statement for all the words; on
     PostgreSQL the common words are the planner's statistics of the index column
     (``pg_stats.most_common_elems``, read again every :data:`STATS_SECONDS`), so a
     node that never ran ``ANALYZE`` (autovacuum does) has none. Below
     :data:`COMMON_WORD` listings no word is common: small nodes look every word up;
   * of the listings that share a looked-up word, the :data:`CANDIDATES` best by
     text rank (``bm25`` with the title weighted 10, ``ts_rank``) are scored;
3. each candidate is scored by the pure ``domain.matching.score``; the
   :data:`KEEP` best fits are stored by one grouped upsert (one row per pair),
   stale pairs deleted by one statement;
4. a **new** pair notifies both structures when they are local (kind ``match``),
   once: a pair updated later (a better score, a new distance) is not told again.
   The notifications of one listing are written together (one read of the
   structures' members, one grouped insert);
5. the saved searches of other structures that the listing fits are told of it
   (``instance.services.saved_searches``), once each.

The worker reads and scores (:func:`find`) in a read-only session, outside the write
transaction (on SQLite, without the process's writer slot, so the inbox keeps storing
meanwhile), then writes (:func:`store`) and commits each listing on its own, so a failure
costs one listing (left queued, retried on the next pass) and never the batch. A change
to the listing in between queues it again (the job is removed only if it is still the
one read), so the next pass sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Row, Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, raiseload

from config.database import Database, utcnow
from domain.matches import Match, MatchJob
from domain.matching import Fit, score
from domain.models import Listing, Structure
from domain.notify import notify_structures
from instance.errors import NotFound
from instance.services.match_candidates import candidates, side_of
from instance.services.saved_searches import alert

log = logging.getLogger(__name__)

KEEP = 20  # matches kept per listing
BATCH = 50


def _matchable(listing: Listing | None) -> bool:
    if listing is None or listing.status != "open" or listing.hidden:
        return False
    return listing.structure is None or listing.structure.is_visible


async def _target(session: AsyncSession, listing_id: int) -> Listing | None:
    """The listing to match, with its structure (none of the actors and keys behind)."""
    stmt = (
        select(Listing)
        .where(Listing.id == listing_id)
        .options(raiseload(Listing.author), joinedload(Listing.structure).raiseload("*"))
    )
    return (await session.execute(stmt)).scalars().first()


@dataclass
class Found:
    """What matching one listing found, before anything is written: its best fits, or
    ``listing`` None when it is gone or not matchable (its pairs are then deleted)."""

    listing_id: int
    listing: Listing | None = None
    fits: list[tuple[Fit, Row[Any]]] = field(default_factory=list)


async def find(session: AsyncSession, dialect: str, listing_id: int) -> Found:
    """Read the listing and its candidates and score them (reads only: the worker runs
    it outside the write transaction, so the inbox is not kept waiting meanwhile)."""
    listing = await _target(session, listing_id)
    if listing is None or not _matchable(listing):
        return Found(listing_id)
    mine = side_of(listing)
    fits = []
    for other in await candidates(session, dialect, listing):
        fit = score(mine, side_of(other))
        if fit is not None:
            fits.append((fit, other))
    fits.sort(key=lambda pair: (-pair[0].score, pair[1].id))
    return Found(listing_id, listing, fits[:KEEP])


async def store(session: AsyncSession, dialect: str, found: Found) -> list[tuple[int, int]]:
    """Write what :func:`find` found: the fits upserted, stale pairs deleted, new pairs
    and saved searches told. The (need, offer) pairs kept, best first."""
    involving = or_(Match.need_id == found.listing_id, Match.offer_id == found.listing_id)
    listing = found.listing
    if listing is None:
        await session.execute(delete(Match).where(involving))
        return []
    await alert(session, dialect, listing)
    existing = {
        (need_id, offer_id): match_id
        for match_id, need_id, offer_id in (
            await session.execute(select(Match.id, Match.need_id, Match.offer_id).where(involving))
        ).all()
    }
    now = utcnow()
    rows: list[dict[str, Any]] = []
    told: list[tuple[int, str, dict[str, object], str]] = []
    for fit, other in found.fits:
        need, offer = (listing, other) if listing.kind == "need" else (other, listing)
        pair = (need.id, offer.id)
        rows.append(
            {
                "need_id": need.id,
                "offer_id": offer.id,
                "score": fit.score,
                "reasons": list(fit.reasons),
                "distance_km": fit.distance_km,
                "created_at": now,
                "updated_at": now,
            }
        )
        if existing.pop(pair, None) is None:
            told += _told(need, offer, fit.score)
    if rows:
        await session.execute(_upsert(dialect, rows))
    if existing:
        await session.execute(delete(Match).where(Match.id.in_(list(existing.values()))))
    await notify_structures(session, told)
    return [(row["need_id"], row["offer_id"]) for row in rows]


async def match_listing(
    session: AsyncSession, dialect: str, listing_id: int
) -> list[tuple[int, int]]:
    """Match one listing again in one session (:func:`find`, then :func:`store`)."""
    return await store(session, dialect, await find(session, dialect, listing_id))


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """One statement for every pair: new ones inserted, known ones updated (a pair
    another worker stored meanwhile is updated too)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(cast(Table, Match.__table__)).values(rows)
    fresh = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["need_id", "offer_id"],
        set_={
            "score": fresh.score,
            "reasons": fresh.reasons,
            "distance_km": fresh.distance_km,
            "updated_at": fresh.updated_at,
        },
    )


def _told(
    need: Listing | Row[Any], offer: Listing | Row[Any], value: float
) -> list[tuple[int, str, dict[str, object], str]]:
    """A new pair: each local structure is told of the other side's listing."""
    told: list[tuple[int, str, dict[str, object], str]] = []
    for mine, theirs in ((need, offer), (offer, need)):
        if mine.local and mine.structure_id is not None:
            data: dict[str, object] = {
                "listing": mine.id,
                "listing_title": mine.title,
                "match": theirs.id,
                "match_title": theirs.title,
                "match_origin": theirs.origin,
                "score": value,
            }
            told.append((mine.structure_id, "match", data, f"/listings/{theirs.id}"))
    return told


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
            async with db.read() as reading:  # on SQLite, without the writer's slot
                found = await find(reading, db.dialect, listing_id)
            async with transaction() as session:
                await store(session, db.dialect, found)
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
