"""Stored matches between offers and needs, and the queue of listings to match.

A listing that is published, edited, received from another node, closed or
hidden is queued (:func:`queue_matching`, in the same transaction as the
change); the matching worker (``instance.services.matching``) takes the queue in
batches, so a burst of listings from a peer never slows the inbox. A pair is
stored once (:class:`Match`, unique on need and offer) with its score and
reasons, updated when either side changes, and deleted when either closes (or
with either listing: the foreign keys cascade).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    delete,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from config.wake import Queue, wake_after_commit
from domain.models import Listing


class Match(Base):
    """An offer that fits a need (``domain.matching.score``)."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("need_id", "offer_id"),
        Index("ix_matches_offer_id", "offer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    distance_km: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When an animator introduced the two structures to each other (one message to both)
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    need: Mapped[Listing] = relationship(foreign_keys=[need_id], lazy="joined")
    offer: Mapped[Listing] = relationship(foreign_keys=[offer_id], lazy="joined")

    def other(self, listing_id: int) -> Listing:
        """The listing on the other side of the pair from ``listing_id``."""
        return self.offer if listing_id == self.need_id else self.need


class SavedSearch(Base):
    """A search a structure saved: it is told of each new listing that fits it."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # The query string of GET /api/v1/listings, as a flat object of strings
    query: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedSearchHit(Base):
    """A listing a saved search was told of (once)."""

    __tablename__ = "saved_search_hits"

    saved_search_id: Mapped[int] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True
    )
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatchJob(Base):
    """A listing waiting to be matched (again)."""

    __tablename__ = "match_jobs"

    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


async def queue_matching(session: AsyncSession, listing_id: int) -> None:
    """Queue ``listing_id`` for the matching worker (once, however often it changes).

    A listing already queued gets a new ``queued_at``: the worker removes a job only
    if it is still the one it read, so a change made while it was matching is
    matched again.
    """
    # One upsert: read then written, the job could be removed meanwhile by a worker of
    # another process (the UPDATE then matched no row and the whole change failed).
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(cast(Table, MatchJob.__table__)).values(listing_id=listing_id, queued_at=now)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["listing_id"], set_={"queued_at": now})
    )
    wake_after_commit(session, Queue.MATCHING)


async def prune_closed(session: AsyncSession) -> int:
    """Delete the matches of listings that closed in bulk (expiry of remote listings)."""
    closed = select(Listing.id).where(or_(Listing.status != "open", Listing.hidden.is_(True)))
    result = await session.execute(
        delete(Match).where(or_(Match.need_id.in_(closed), Match.offer_id.in_(closed)))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
