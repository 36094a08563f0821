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

The listings, structures and matches are not counted per view: they are kept per day and
group (``domain.figures``, ``instance.services.stats_cells``), and a view sums the days of
its period. Exchanges done, a few per day, are summed from their own table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from domain.exchanges import Exchange
from domain.impact import exchange_totals
from domain.models import Listing, Structure
from domain.social import Community, Report
from federation.models import Actor, DomainHealth, Follow
from instance.services.peering import list_peerings
from instance.services.stats_cells import Cell, read_cells

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


def _figures(cell: Cell) -> Figures:
    return Figures(
        structures=cell.structures,
        offers=cell.offers,
        needs=cell.needs,
        open=cell.open,
        matches=cell.matches,
    )


async def territory_stats(
    session: AsyncSession, dialect: str, own_domain: str, period: Period, group_by: str | None
) -> dict[str, Any]:
    """The figures of ``GET /api/v1/stats`` (see the module docstring)."""
    body, groups = await territory_figures(
        session, dialect, own_domain, period, [group_by] if group_by else []
    )
    if group_by:
        body["groups"] = groups[group_by]
    return body


async def territory_figures(
    session: AsyncSession, dialect: str, own_domain: str, period: Period, group_by: list[str]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The totals and the groups of each of ``group_by``, read once from the figures kept
    per day (``instance.services.stats_cells``)."""
    cells, months = await read_cells(
        session, dialect, period.start, period.end, [g for g in group_by if g != "month"],
        months="month" in group_by,
    )  # fmt: skip
    total = _figures(cells.get(("total", ""), Cell()))
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
    groups = {}
    for name in group_by:
        if name == "month":
            found = {key: cell for key, cell in months.items()}
        else:
            found = {key: cell for (dim, key), cell in cells.items() if dim == name}
        groups[name] = _groups(found, name, own_domain)
    return body, groups


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


def _groups(cells: dict[str, Cell], group_by: str, own_domain: str) -> list[dict[str, Any]]:
    """One group per key holding listings (or, but for categories and origins, structures):
    listings only by origin, structures and listings otherwise."""
    if group_by == "origin":
        keys = sorted(
            (k for k, c in cells.items() if c.listings), key=lambda k: (k != own_domain, k)
        )
    else:
        keys = sorted((k for k, c in cells.items() if c.listings or c.structures), key=str)
    groups = []
    for key in keys:
        body = _figures(cells[key]).as_json()
        del body["matches"], body["exchanges"]  # not split by group
        if group_by == "origin":
            del body["structures"]  # listings only
        groups.append({"key": key, **body})
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
