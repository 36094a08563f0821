"""The territory's public figures (``GET /api/v1/stats``, the dashboard).

What an elected official can read, and nothing private: this territory's own
**approved** structures (by approval date), its own **visible** listings (by
publication date: offers, needs, and how many are still open), the matches its
listings took part in, the exchanges its structures completed (declared value
in euros, CO2e avoided), and the accepted peerings. Listings received from
peers count only under ``group_by=origin``, one group per territory.

``from`` and ``to`` (ISO dates, inclusive) bound each figure by its own date;
``group_by`` (``month``, ``category``, ``commune``, ``kind`` — the structures'
kind —, ``origin``) adds ``groups``, each with the same figures that apply.
Never counted: people, e-mails, messages, pending, rejected or suspended
structures, hidden listings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from domain.exchanges import Exchange
from domain.impact import exchange_totals
from domain.matches import Match
from domain.models import Listing, Structure
from domain.social import Community, Report
from federation.models import Actor, DomainHealth, Follow
from instance.services.peering import list_peerings

GROUPS = ("month", "category", "commune", "kind", "origin")


@dataclass
class Period:
    start: date | None = None
    end: date | None = None

    def bound(self, column: Any) -> list[ColumnElement[bool]]:
        conditions = []
        if self.start is not None:
            conditions.append(column >= datetime.combine(self.start, time.min, UTC))
        if self.end is not None:
            conditions.append(
                column < datetime.combine(self.end + timedelta(days=1), time.min, UTC)
            )
        return conditions


@dataclass
class Figures:
    structures: int = 0
    offers: int = 0
    needs: int = 0
    open: int = 0
    matches: int = 0
    exchanges_done: int = 0
    value_eur: float = 0.0
    co2e_kg: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "structures": self.structures,
            "listings": {"offers": self.offers, "needs": self.needs, "open": self.open},
            "matches": self.matches,
            "exchanges": {
                "done": self.exchanges_done,
                "value_eur": round(self.value_eur, 2),
                "co2e_kg": round(self.co2e_kg, 1),
            },
            **self.extra,
        }


def _month(dialect: str, column: Any) -> Any:
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _visible_local_listings() -> list[ColumnElement[bool]]:
    approved = select(Structure.id).where(Structure.is_visible)
    return [Listing.local.is_(True), Listing.hidden.is_(False), Listing.structure_id.in_(approved)]


async def _listing_counts(
    session: AsyncSession, conditions: list[ColumnElement[bool]], key: Any | None
) -> dict[Any, Figures]:
    columns = [
        func.sum(case((Listing.kind == "offer", 1), else_=0)),
        func.sum(case((Listing.kind == "need", 1), else_=0)),
        func.sum(case((Listing.status == "open", 1), else_=0)),
    ]
    stmt = select(*([key] if key is not None else []), *columns).where(*conditions)
    if key is not None:
        stmt = stmt.group_by(key)
    out: dict[Any, Figures] = {}
    for row in (await session.execute(stmt)).all():
        group = row[0] if key is not None else None
        offers, needs, still_open = row[-3:]
        out[group] = Figures(
            offers=int(offers or 0), needs=int(needs or 0), open=int(still_open or 0)
        )
    return out


async def territory_stats(
    session: AsyncSession, dialect: str, own_domain: str, period: Period, group_by: str | None
) -> dict[str, Any]:
    """The figures of ``GET /api/v1/stats`` (see the module docstring)."""
    structures_q = select(func.count(Structure.id)).where(
        Structure.is_visible, *period.bound(Structure.decided_at)
    )
    listing_conditions = [*_visible_local_listings(), *period.bound(Listing.published_at)]
    total = (await _listing_counts(session, listing_conditions, None)).get(None, Figures())
    total.structures = int(await session.scalar(structures_q) or 0)
    local_ids = select(Listing.id).where(*_visible_local_listings())
    total.matches = int(
        await session.scalar(
            select(func.count(Match.id)).where(
                or_(Match.need_id.in_(local_ids), Match.offer_id.in_(local_ids)),
                *period.bound(Match.created_at),
            )
        )
        or 0
    )
    await _add_exchanges(session, total, period)
    territory = select(Actor.id).where(Actor.local.is_(True), Actor.is_territory.is_(True))
    peers = await session.scalar(
        select(func.count(func.distinct(Follow.followed_id))).where(
            Follow.follower_id.in_(territory),
            Follow.state == "accepted",
            Follow.followed_id.in_(select(Actor.id).where(Actor.is_territory.is_(True))),
        )
    )
    body = total.as_json()
    body["peers"] = int(peers or 0)
    if group_by:
        body["groups"] = await _groups(session, dialect, own_domain, period, group_by)
    return body


async def _add_exchanges(session: AsyncSession, figures: Figures, period: Period) -> None:
    """Exchanges done that this territory's structures took part in (each once)."""
    local = select(Actor.id).where(Actor.local.is_(True))
    totals = await exchange_totals(
        session,
        or_(Exchange.proposer_id.in_(local), Exchange.responder_id.in_(local)),
        *period.bound(Exchange.done_at),
    )
    figures.exchanges_done = totals.done
    figures.value_eur = float(totals.value_eur)
    figures.co2e_kg = totals.co2e_kg


async def _groups(
    session: AsyncSession, dialect: str, own_domain: str, period: Period, group_by: str
) -> list[dict[str, Any]]:
    bounded = period.bound(Listing.published_at)
    if group_by == "origin":
        visible_remote = and_(Listing.local.is_(False), Listing.hidden.is_(False))
        conditions = [or_(and_(*_visible_local_listings()), visible_remote), *bounded]
        counts = await _listing_counts(session, conditions, Listing.origin)
        ordered = sorted(counts.items(), key=lambda kv: (kv[0] != own_domain, kv[0]))
        groups = []
        for origin, figures in ordered:
            body = figures.as_json()
            del body["structures"], body["matches"], body["exchanges"]  # listings only
            groups.append({"key": origin, **body})
        return groups
    conditions = [*_visible_local_listings(), *bounded]
    structure_counts: dict[Any, int] = {}
    if group_by == "month":
        key = _month(dialect, Listing.published_at)
        structure_key: Any = _month(dialect, Structure.decided_at)
    elif group_by == "category":
        key, structure_key = Listing.category, None
    elif group_by == "commune":
        key, structure_key = Listing.commune, Structure.commune
    else:  # kind: the structures' kind
        key, structure_key = Structure.kind, Structure.kind
        conditions.append(Structure.id == Listing.structure_id)
    counts = await _listing_counts(session, conditions, key)
    if structure_key is not None:
        rows = await session.execute(
            select(structure_key, func.count(Structure.id))
            .where(Structure.is_visible, *period.bound(Structure.decided_at))
            .group_by(structure_key)
        )
        structure_counts = {k: int(n) for k, n in rows.all()}
    keys = sorted({*counts, *structure_counts} - {None}, key=str)
    groups = []
    for group in keys:
        figures = counts.get(group, Figures())
        figures.structures = structure_counts.get(group, 0)
        body = figures.as_json()
        del body["matches"], body["exchanges"]  # not split by group
        groups.append({"key": group, **body})
    return groups


async def instance_counts(session: AsyncSession) -> dict[str, int]:
    """Figures an elected official can read: structures, listings, peers."""
    structures = await session.scalar(
        select(func.count()).select_from(Structure).where(Structure.is_visible)
    )
    # Two counts rather than one GROUP BY: each is answered from an index of its own
    # rows (migration 0011), which both databases count several times faster.
    by_origin: dict[bool, int] = {}
    for local in (True, False):
        by_origin[local] = int(
            await session.scalar(
                select(func.count()).where(
                    Listing.status == "open", Listing.hidden.is_(False), Listing.local.is_(local)
                )
            )
            or 0
        )
    territory = await territory_actor(session)
    peer_ids = select(Actor.id).where(Actor.is_territory.is_(True), Actor.local.is_(False))
    peers = await session.scalar(
        select(func.count(func.distinct(Follow.followed_id))).where(
            Follow.follower_id == territory.id,
            Follow.state == "accepted",
            Follow.followed_id.in_(peer_ids),
        )
    )
    return {
        "structures": int(structures or 0),
        "listings": sum(by_origin.values()),
        "local_listings": by_origin.get(True, 0),
        "remote_listings": by_origin.get(False, 0),
        "peers": int(peers or 0),
    }


async def open_counts(session: AsyncSession) -> dict[str, int]:
    """Figures of the administration hub."""
    pending = await session.scalar(
        select(func.count(Structure.id)).where(Structure.status == "pending")
    )
    reports = await session.scalar(select(func.count(Report.id)).where(Report.state == "open"))
    failing = await session.scalar(
        select(func.count(DomainHealth.domain)).where(DomainHealth.failures > 0)
    )
    peer_requests = [
        p
        for p in await list_peerings(session)
        if p.direction == "incoming" and p.state == "pending"
    ]
    communities = await session.scalar(select(func.count(Community.id)))
    return {
        "pending": int(pending or 0),
        "reports": int(reports or 0),
        "failing": int(failing or 0),
        "peer_requests": len(peer_requests),
        "communities": int(communities or 0),
    }
