"""The dashboard's figures kept per day (``instance.services.stats_cells``): after every
kind of change, before and after the worker's refresh, they equal counts made here from
the rows themselves, for every grouping and a period."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from domain import listing_states, structure_states
from domain.figures import StatsDay, StatsDirty
from domain.matches import Match
from domain.models import Listing, Structure
from instance.services.stats import GROUPS, Period, territory_figures
from instance.services.stats_cells import refresh
from instance.services.stats_flows import needs_answered
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # triggers and day expressions per dialect

DAY0 = datetime(2026, 3, 30, 22, 30, tzinfo=UTC)  # crosses a day and a month in UTC


def _listing(n: int, structure: Structure | None, **fields: Any) -> Listing:
    values: dict[str, Any] = {
        "ap_id": f"https://a.test/listings/x{n}",
        "origin": "a.test",
        "local": True,
        "kind": "offer" if n % 3 else "need",
        "title": f"Annonce {n}",
        "category": ("materials", "food", "vehicles")[n % 3],
        "modality": "donation",
        "commune": ("Pau", "Lescar", "")[n % 3],
        "published_at": DAY0 + timedelta(hours=7 * n),
        **fields,
    }
    if structure is not None:
        values.update(structure_id=structure.id, author_id=structure.actor_id)
    return Listing(**values)


def _expected(rows: dict[str, list[Any]], own: str, period: Period) -> dict[str, Any]:
    """The figures of the module docstring of ``instance.services.stats``, counted here."""

    def inside(moment: datetime | None) -> bool:
        if moment is None:
            return False
        day = moment.astimezone(UTC).date()
        start, end = period.start or date.min, period.end or date.max
        return start <= day <= end

    visible = {s.id: s for s in rows["structures"] if s.status == "approved"}
    local = [x for x in rows["listings"] if x.local and not x.hidden and x.structure_id in visible]
    local_ids = {x.id for x in local}
    remote = [x for x in rows["listings"] if not x.local and not x.hidden]
    structures = [s for s in visible.values() if inside(s.decided_at)]
    local = [x for x in local if inside(x.published_at)]
    remote = [x for x in remote if inside(x.published_at)]

    def listing_figures(items: list[Listing]) -> dict[str, int]:
        return {
            "offers": sum(x.kind == "offer" for x in items),
            "needs": sum(x.kind == "need" for x in items),
            "open": sum(x.status == "open" for x in items),
        }

    groups: dict[str, Any] = {}
    keyers: dict[str, tuple[Any, Any]] = {
        "category": (lambda x: x.category, None),
        "commune": (lambda x: x.commune, lambda s: s.commune),
        "kind": (lambda x: visible[x.structure_id].kind, lambda s: s.kind),
        "month": (
            lambda x: x.published_at.astimezone(UTC).strftime("%Y-%m"),
            lambda s: s.decided_at.astimezone(UTC).strftime("%Y-%m"),
        ),
    }
    for name, (listing_key, structure_key) in keyers.items():
        by_listing: dict[str, list[Listing]] = defaultdict(list)
        for x in local:
            by_listing[listing_key(x)].append(x)
        by_structure: dict[str, int] = defaultdict(int)
        for s in structures if structure_key else []:
            by_structure[structure_key(s)] += 1
        groups[name] = [
            {"key": k, "structures": by_structure.get(k, 0),
             "listings": listing_figures(by_listing.get(k, []))}
            for k in sorted({*by_listing, *by_structure}, key=str)
        ]  # fmt: skip
    by_origin: dict[str, list[Listing]] = defaultdict(list)
    for x in local + remote:
        by_origin[x.origin].append(x)
    groups["origin"] = [
        {"key": k, "listings": listing_figures(v)}
        for k, v in sorted(by_origin.items(), key=lambda kv: (kv[0] != own, kv[0]))
    ]
    matches = [
        m
        for m in rows["matches"]
        if (m.need_id in local_ids or m.offer_id in local_ids) and inside(m.created_at)
    ]
    totals = {
        "structures": len(structures),
        "listings": listing_figures(local),
        "matches": len(matches),
    }
    delays = []  # needs answered: hours from each matched need to its first match
    for x in local:
        firsts = [m.created_at for m in rows["matches"] if m.need_id == x.id]
        if x.kind == "need" and firsts:
            delays.append(max(0.0, (min(firsts) - x.published_at).total_seconds() / 3600))
    median = round(statistics.median(delays), 1) if delays else None
    return {"totals": totals, "groups": groups, "answered": (len(delays), median)}


async def _check(node: TestNode, *, refreshed: bool) -> None:
    db, dialect = node.node.db, node.node.db.dialect
    if refreshed:
        async with node.node.transaction() as session:
            while await refresh(session, dialect, max_days=2):
                pass
    async with db.session() as session:
        rows = {
            "structures": list(await session.scalars(select(Structure))),
            "listings": list((await session.scalars(select(Listing))).unique()),
            "matches": list((await session.scalars(select(Match))).unique()),
        }
        dirty = await session.scalar(select(func.count(StatsDirty.id)))
        for period in (Period(), Period(date(2026, 3, 31), date(2026, 4, 2))):
            body, groups = await territory_figures(session, dialect, "a.test", period, [*GROUPS])
            want = _expected(rows, "a.test", period)
            got = {k: body[k] for k in want["totals"]}
            assert got == want["totals"], (refreshed, period)
            for name in GROUPS:
                assert groups[name] == want["groups"][name], (refreshed, period, name)
            answered = await needs_answered(session, period, body["listings"]["needs"])
            assert (answered.answered, answered.median_hours) == want["answered"], period
    if refreshed:
        assert dirty == 0
    else:
        assert dirty  # the days to recompute were listed by the triggers


async def test_figures_follow_every_change_before_and_after_the_refresh(
    node: TestNode,
) -> None:
    atelier = await node.structure("atelier", kind="association", commune="Pau")
    garage = await node.structure("garage", kind="business", commune="Lescar")
    await node.structure("attente", approved=False)
    steps: list[tuple[str, Any]] = []

    async def step(name: str, change: Any) -> None:
        async with node.node.transaction() as session:
            await change(session)
        steps.append((name, change))
        await _check(node, refreshed=False)
        await _check(node, refreshed=True)

    async def publish(session: Any) -> None:
        for n in range(12):
            session.add(_listing(n, atelier if n % 2 else garage))
        for n in range(12, 16):  # a peer's listings
            session.add(_listing(n, None, local=False, origin="b.test", author_id=atelier.actor_id))

    async def match(session: Any) -> None:
        ids = list(await session.scalars(select(Listing.id).order_by(Listing.id)))
        for need, offer, hours in (
            (ids[0], ids[1], 0),
            (ids[3], ids[14], 30),
            (ids[12], ids[13], 50),
        ):
            created = DAY0 + timedelta(hours=hours)
            session.add(Match(need_id=need, offer_id=offer, score=1.0, created_at=created))

    async def close_and_hide(session: Any) -> None:
        first, second = (
            await session.scalars(select(Listing).order_by(Listing.id).limit(2))
        ).unique()
        listing_states.transition(first, "withdrawn")
        second.hidden = True

    async def edit(session: Any) -> None:
        await session.execute(
            update(Listing).where(Listing.id % 4 == 1).values(category="food", commune="Orthez")
        )
        moved = await session.scalar(select(Listing).where(Listing.title == "Annonce 5"))
        moved.published_at = DAY0 - timedelta(days=40)  # to another month and day

    async def suspend(session: Any) -> None:
        row = await session.get(Structure, atelier.id)
        structure_states.transition(row, "suspended")

    async def rekind(session: Any) -> None:
        row = await session.get(Structure, garage.id)
        row.kind = "public"
        row.decided_at = DAY0 + timedelta(days=2)

    async def remove(session: Any) -> None:
        await session.execute(delete(Listing).where(Listing.title == "Annonce 3"))
        await session.execute(delete(Match).where(Match.score == 1.0).where(Match.id == 3))

    async def reinstate(session: Any) -> None:
        row = await session.get(Structure, atelier.id)
        structure_states.transition(row, "approved")

    for name, change in (
        ("publish", publish), ("match", match), ("close and hide", close_and_hide),
        ("edit", edit), ("suspend", suspend), ("rekind", rekind), ("remove", remove),
        ("reinstate", reinstate),
    ):  # fmt: skip
        await step(name, change)
    async with node.node.db.session() as session:
        stored = await session.scalar(select(func.count()).select_from(StatsDay))
    assert stored  # the figures are read from stored days, not recounted
