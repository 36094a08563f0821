"""What the dashboard adds to ``GET /api/v1/stats``: what flows with each peered territory,
and how many needs found an offer, and how fast.

* **Per peered territory** (an accepted peering either way): the listings received from it
  (its visible listings here, by publication date — ``group_by=origin``), the listings
  sent to it (this territory's visible listings published since the day it followed this
  territory: peered territories receive every public listing), and the exchanges done
  across the border (one of this territory's structures with one of its actors).
* **Needs answered**: of this territory's visible needs published in the period, those an
  offer was found for (a match, ``domain.matching``), and the median time from the need's
  publication to its first match.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from actors.local import territory_actor
from domain.exchanges import Exchange
from domain.matches import Match
from domain.models import Listing, Structure
from domain.structure_states import VISIBLE
from federation.models import Actor, Follow
from instance.services.stats import Period
from instance.services.stats_cells import listings_per_day


@dataclass(frozen=True)
class PeerFlow:
    host: str
    name: str
    received: int
    sent: int
    exchanges: int


@dataclass(frozen=True)
class NeedsAnswered:
    needs: int
    answered: int
    median_hours: float | None


async def peer_flows(
    session: AsyncSession, dialect: str, period: Period, received: dict[str, int]
) -> list[PeerFlow]:
    """One row per peered territory, by name. ``received``: visible listings by origin."""
    territory = await territory_actor(session)
    rows = await session.scalars(
        select(Follow).where(
            Follow.state == "accepted",
            or_(Follow.follower_id == territory.id, Follow.followed_id == territory.id),
        )
    )
    peers: dict[str, tuple[Actor, date | None]] = {}
    for follow in rows.unique():
        other = follow.followed if follow.follower_id == territory.id else follow.follower
        if other.local or not other.is_territory:
            continue
        host = other.domain.lower()
        since = peers.get(host, (other, None))[1]
        if follow.followed_id == territory.id:  # it follows us: our listings go to it
            since = follow.created_at.date()
        peers[host] = (other, since)
    # Read once for every peer: the listings of each day since the earliest peering, and
    # the exchanges done by the other side's host.
    starts = {
        host: max(since, period.start) if period.start else since
        for host, (_actor, since) in peers.items()
        if since is not None
    }
    per_day: dict[str, int] = {}
    if starts:
        per_day = await listings_per_day(session, dialect, min(starts.values()), period.end)
    exchanges = await _exchanges_by_host(session, period) if peers else {}
    flows = []
    for host, (actor, _since) in peers.items():
        sent = 0
        if host in starts:
            first = starts[host].isoformat()
            sent = sum(count for day, count in per_day.items() if day >= first)
        flows.append(
            PeerFlow(
                host=host,
                name=actor.name or host,
                received=received.get(host, 0),
                sent=sent,
                exchanges=exchanges.get(host, 0),
            )
        )
    return sorted(flows, key=lambda f: (f.name.lower(), f.host))


_PROPOSER, _RESPONDER = aliased(Actor), aliased(Actor)


async def _exchanges_by_host(session: AsyncSession, period: Period) -> dict[str, int]:
    """Exchanges done between one of this territory's actors and another host's, by that
    host (lower case)."""
    other = func.lower(case((_PROPOSER.local.is_(True), _RESPONDER.domain), else_=_PROPOSER.domain))
    rows = await session.execute(
        select(other, func.count(Exchange.id))
        .join(_PROPOSER, _PROPOSER.id == Exchange.proposer_id)
        .join(_RESPONDER, _RESPONDER.id == Exchange.responder_id)
        .where(
            Exchange.state == "done",
            or_(_PROPOSER.local.is_(True), _RESPONDER.local.is_(True)),
            *period.bound(Exchange.done_at),
        )
        .group_by(other)
    )
    return {str(host): int(count) for host, count in rows.all()}


async def needs_answered(session: AsyncSession, period: Period, needs: int) -> NeedsAnswered:
    """Of this territory's ``needs`` visible needs of the period (the dashboard's total),
    those matched, and the median delay to their first match."""
    # One statement: each need's first match (the matches, grouped by need along their
    # unique (need_id, offer_id) index), its listing looked up by id, the delay computed
    # by the database, so that only one number per need comes back. The listings are
    # named by primary key: a plain ``id IN (…)`` with the other conditions let SQLite
    # read them through the structures' index, every listing of every structure.
    first = (
        select(Match.need_id.label("need_id"), func.min(Match.created_at).label("at"))
        .group_by(Match.need_id)
        .subquery()
    )
    if session.get_bind().dialect.name == "sqlite":
        delay = (func.julianday(first.c.at) - func.julianday(Listing.published_at)) * 24
    else:
        delay = func.extract("epoch", first.c.at - Listing.published_at) / 3600
    rows = await session.scalars(
        select(delay)
        .select_from(first)
        .join(Listing, Listing.id == first.c.need_id)
        .join(Structure, Structure.id == Listing.structure_id)
        .where(
            Listing.local.is_(True),
            Listing.hidden.is_(False),
            Listing.kind == "need",
            Structure.status == VISIBLE,
            *period.bound(Listing.published_at),
        )
    )
    delays = [max(0.0, float(hours)) for hours in rows]
    return NeedsAnswered(
        needs=needs,
        answered=len(delays),
        median_hours=round(statistics.median(delays), 1) if delays else None,
    )
