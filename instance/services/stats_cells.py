"""The dashboard's figures per day and group (``domain.figures``): computed, stored, read.

:func:`raw_cells` counts days from the listings, structures and matches themselves;
:func:`refresh` (the worker) stores the days the triggers listed in ``stats_dirty``;
:func:`read_cells` sums the stored days of a period and counts the days still listed
from scratch, in the same read: a figure always equals an independent count, and a view
costs a few hundred rows whatever the number of listings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, false, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.figures import StatsDay, StatsDirty
from domain.matches import Match
from domain.models import Listing, Structure
from domain.structure_states import VISIBLE

DAY_BATCH = 31  # days recomputed per transaction of the worker
ID_CHUNK = 500
PG_LOCK = 0x57A75  # one refresher at a time across worker processes (PostgreSQL)

Key = tuple[str, str]  # (dim, key)


@dataclass
class Cell:
    listings: int = 0
    offers: int = 0
    needs: int = 0
    open: int = 0
    structures: int = 0
    matches: int = 0

    def add(self, other: Cell) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def day_of(dialect: str, column: Any) -> Any:
    """``YYYY-MM-DD`` of a UTC timestamp column, as the triggers of ``0022_stats`` write it."""
    if dialect == "sqlite":
        return func.date(column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _ranges(days: Iterable[str]) -> list[tuple[datetime, datetime]]:
    """Consecutive days merged into ``[start, end)`` UTC ranges."""
    out: list[tuple[datetime, datetime]] = []
    for day in sorted({date.fromisoformat(d) for d in days}):
        start = datetime.combine(day, time.min, UTC)
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], start + timedelta(days=1))
        else:
            out.append((start, start + timedelta(days=1)))
    return out


def _within(column: Any, days: Iterable[str]) -> ColumnElement[bool]:
    return or_(false(), *[and_(column >= a, column < b) for a, b in _ranges(days)])


def _listing_sums() -> list[Any]:
    return [
        func.count(Listing.id),
        func.sum(case((Listing.kind == "offer", 1), else_=0)),
        func.sum(case((Listing.kind == "need", 1), else_=0)),
        func.sum(case((Listing.status == "open", 1), else_=0)),
    ]


def _listing_cell(row: Any) -> Cell:
    count, offers, needs, still_open = row[-4:]
    return Cell(int(count or 0), int(offers or 0), int(needs or 0), int(still_open or 0))


async def raw_cells(
    session: AsyncSession, dialect: str, days: Iterable[str]
) -> dict[tuple[str, str, str], Cell]:
    """``(day, dim, key) → Cell`` of ``days`` counted from scratch (see ``domain.figures``)."""
    days = set(days)
    cells: dict[tuple[str, str, str], Cell] = defaultdict(Cell)
    if not days:
        return cells
    published = day_of(dialect, Listing.published_at)
    # Driven by the publication dates (their index), by structure: joining the structures
    # first would read every listing of the period once per structure on SQLite.
    local = (
        await session.execute(
            select(
                published,
                Listing.category,
                Listing.commune,
                Listing.origin,
                Listing.structure_id,
                *_listing_sums(),
            )
            .where(
                Listing.local.is_(True),
                Listing.hidden.is_(False),
                Listing.structure_id.is_not(None),
                _within(Listing.published_at, days),
            )
            .group_by(
                published, Listing.category, Listing.commune, Listing.origin, Listing.structure_id
            )
        )
    ).all()
    kinds = await _visible_kinds(session, {row[4] for row in local})
    for row in local:
        day, category, commune, origin, structure_id = row[:5]
        if structure_id not in kinds:
            continue  # pending, rejected or suspended
        for dim, key in (
            ("total", ""), ("category", category), ("commune", commune),
            ("kind", kinds[structure_id]), ("origin", origin),
        ):  # fmt: skip
            cells[(day, dim, key)].add(_listing_cell(row))
    remote = await session.execute(
        select(published, Listing.origin, *_listing_sums())
        .where(
            Listing.local.is_(False),
            Listing.hidden.is_(False),
            _within(Listing.published_at, days),
        )
        .group_by(published, Listing.origin)
    )
    for row in remote.all():
        cells[(row[0], "origin", row[1])].add(_listing_cell(row))
    decided = day_of(dialect, Structure.decided_at)
    structures = await session.execute(
        select(decided, Structure.kind, Structure.commune, func.count(Structure.id))
        .where(Structure.status == VISIBLE, _within(Structure.decided_at, days))
        .group_by(decided, Structure.kind, Structure.commune)
    )
    for day, kind, commune, count in structures.all():
        for dim, key in (("total", ""), ("kind", kind), ("commune", commune)):
            cells[(day, dim, key)].structures += int(count)
    made = day_of(dialect, Match.created_at)

    def visible_local(listing_id: Any) -> Any:
        return (
            select(Listing.id)
            .join(Structure, Structure.id == Listing.structure_id)
            .where(
                Listing.id == listing_id,
                Listing.local.is_(True),
                Listing.hidden.is_(False),
                Structure.status == VISIBLE,
            )
            .exists()
        )

    matches = await session.execute(
        select(made, func.count(Match.id))
        .where(
            _within(Match.created_at, days),
            or_(visible_local(Match.need_id), visible_local(Match.offer_id)),
        )
        .group_by(made)
    )
    for day, count in matches.all():
        cells[(day, "total", "")].matches += int(count)
    return cells


async def _visible_kinds(session: AsyncSession, ids: set[Any]) -> dict[int, str]:
    """The kind of each of these structures that is visible (approved)."""
    found: dict[int, str] = {}
    ordered = sorted(i for i in ids if i is not None)
    for start in range(0, len(ordered), ID_CHUNK * 4):
        rows = await session.execute(
            select(Structure.id, Structure.kind).where(
                Structure.id.in_(ordered[start : start + ID_CHUNK * 4]),
                Structure.status == VISIBLE,
            )
        )
        found.update({int(i): str(k) for i, k in rows.all()})
    return found


async def refresh(session: AsyncSession, dialect: str, max_days: int = DAY_BATCH) -> int:
    """Store up to ``max_days`` days listed in ``stats_dirty``; the number of days done.

    The log rows are read before the days are counted and only those rows are deleted:
    a change committed meanwhile left rows of its own, so its days are counted again.
    """
    if dialect != "sqlite":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PG_LOCK}
        )
        if not locked:
            return 0
    days = list(
        await session.scalars(
            select(StatsDirty.day).distinct().order_by(StatsDirty.day).limit(max_days)
        )
    )
    if not days:
        return 0
    ids = list(await session.scalars(select(StatsDirty.id).where(StatsDirty.day.in_(days))))
    cells = await raw_cells(session, dialect, days)
    await session.execute(delete(StatsDay).where(StatsDay.day.in_(days)))
    rows = [
        {"day": day, "dim": dim, "key": key, **vars(cell)}
        for (day, dim, key), cell in cells.items()
    ]
    if rows:
        await session.execute(insert(StatsDay), rows)
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        await session.execute(delete(StatsDirty).where(StatsDirty.id.in_(chunk)))
    return len(days)


def _bounds(start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    out = []
    if start is not None:
        out.append(StatsDay.day >= start.isoformat())
    if end is not None:
        out.append(StatsDay.day <= end.isoformat())
    return out


def _in_period(day: str, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start.isoformat()) and (end is None or day <= end.isoformat())


async def read_cells(
    session: AsyncSession,
    dialect: str,
    start: date | None,
    end: date | None,
    dims: Iterable[str],
    months: bool = False,
) -> tuple[dict[Key, Cell], dict[str, Cell]]:
    """The period's figures per ``(dim, key)``, and per month (``YYYY-MM``) if asked."""
    dims = sorted({"total", *dims})
    dirty = await _dirty_days(session, start, end)
    sums = [func.sum(getattr(StatsDay, f.name)) for f in fields(Cell)]
    stored = [*_bounds(start, end), StatsDay.day.not_in(sorted(dirty))]
    by_key: dict[Key, Cell] = defaultdict(Cell)
    rows = await session.execute(
        select(StatsDay.dim, StatsDay.key, *sums)
        .where(StatsDay.dim.in_(dims), *stored)
        .group_by(StatsDay.dim, StatsDay.key)
    )
    for dim, key, *values in rows.all():
        by_key[(dim, key)].add(Cell(*(int(v or 0) for v in values)))
    by_month: dict[str, Cell] = defaultdict(Cell)
    if months:
        month = func.substr(StatsDay.day, 1, 7)
        rows = await session.execute(
            select(month, *sums).where(StatsDay.dim == "total", *stored).group_by(month)
        )
        for key, *values in rows.all():
            by_month[key].add(Cell(*(int(v or 0) for v in values)))
    for (day, dim, key), cell in (await raw_cells(session, dialect, dirty)).items():
        if dim in dims:
            by_key[(dim, key)].add(cell)
        if months and dim == "total":
            by_month[day[:7]].add(cell)
    return by_key, by_month


async def _dirty_days(session: AsyncSession, start: date | None, end: date | None) -> set[str]:
    """The days of the period still listed in ``stats_dirty``."""
    days = await session.scalars(select(StatsDirty.day).distinct())
    return {day for day in days if _in_period(day, start, end)}


async def listings_per_day(
    session: AsyncSession, dialect: str, start: date | None, end: date | None
) -> dict[str, int]:
    """The visible local listings published on each day of the period (``total``), as
    :func:`read_cells` counts them: stored days, and the days still listed from scratch."""
    dirty = await _dirty_days(session, start, end)
    per_day: dict[str, int] = defaultdict(int)
    rows = await session.execute(
        select(StatsDay.day, StatsDay.listings).where(
            StatsDay.dim == "total", *_bounds(start, end), StatsDay.day.not_in(sorted(dirty))
        )
    )
    for day, count in rows.all():
        per_day[day] += int(count or 0)
    for (day, dim, _key), cell in (await raw_cells(session, dialect, dirty)).items():
        if dim == "total":
            per_day[day] += cell.listings
    return dict(per_day)
