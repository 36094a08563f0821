"""``/territoire``: the territory's dashboard, for a council meeting as for a visitor.

The figures of ``GET /api/v1/stats`` (``instance.services.stats``), for a period
(``from``/``to``), with bar charts drawn on the server as SVG — readable without
JavaScript, printable, each with its figures as a table too — by category, by
month, by structure kind, and what each peered territory brings; the structures by kind
and commune; what flows with each peered territory (``instance.services.stats_flows``);
how many needs found an offer, and how fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from quart import render_template, request

from instance.i18n import gettext as _
from instance.node import current_node
from instance.services.stats import Period, territory_figures
from instance.services.stats_flows import needs_answered, peer_flows
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer
from instance.web.labels import category_label, structure_kind_label

BAR_HEIGHT = 22
CHART_WIDTH = 560
LABEL_WIDTH = 210


def _day(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2999:
        errors[name] = _("Give a date as YYYY-MM-DD.")
        return None
    return day


@dataclass(frozen=True)
class Bar:
    """One row of a chart: its label, its two counts and their widths in pixels."""

    label: str
    y: int
    offers: int
    needs: int
    offers_width: float
    needs_width: float


@dataclass(frozen=True)
class BarChart:
    """Geometry of a two-series horizontal bar chart (offers, needs) for the template."""

    bars: list[Bar]
    height: int
    width: int
    label_width: int
    bar_height: int


def bar_chart(rows: list[tuple[str, int, int]]) -> BarChart:
    """Geometry of a two-series horizontal bar chart (offers, needs) for the template."""
    top = max([offers + needs for _label, offers, needs in rows] or [1]) or 1
    scale = (CHART_WIDTH - LABEL_WIDTH - 50) / top
    bars = [
        Bar(
            label=label,
            y=i * (BAR_HEIGHT + 8),
            offers=offers,
            needs=needs,
            offers_width=round(offers * scale, 1),
            needs_width=round(needs * scale, 1),
        )
        for i, (label, offers, needs) in enumerate(rows)
    ]
    return BarChart(
        bars=bars,
        height=max(1, len(rows)) * (BAR_HEIGHT + 8),
        width=CHART_WIDTH,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
    )


def _rows(groups: list[dict[str, Any]], label: Any) -> list[tuple[str, int, int]]:
    return [
        (label(g["key"]), int(g["listings"]["offers"]), int(g["listings"]["needs"])) for g in groups
    ]


TOP_COMMUNES = 15


def _structures(
    groups: list[dict[str, Any]], label: Any, top: int | None = None
) -> list[tuple[str, int]]:
    """Structures per group, the largest first; past ``top`` rows, the rest in one."""
    rows = [(label(g["key"]), int(g["structures"])) for g in groups if g["structures"]]
    rows.sort(key=lambda row: (-row[1], row[0]))
    if top is not None and len(rows) > top:
        rows = [*rows[:top], (_("Other communes"), sum(n for _label, n in rows[top:]))]
    return rows


@blueprint.get("/territoire")
async def territory_dashboard() -> tuple[str, int] | str:
    node = current_node()
    errors: dict[str, str] = {}
    period = Period(_day("from", errors), _day("to", errors))
    own = node.settings.instance.domain.lower()
    dialect = node.db.dialect
    async with node.db.read() as session:
        await load_viewer(session)
        totals, by = await territory_figures(
            session, dialect, own, period, ["category", "month", "kind", "origin", "commune"]
        )
        received = {
            g["key"]: g["listings"]["offers"] + g["listings"]["needs"] for g in by["origin"]
        }
        flows = await peer_flows(session, dialect, period, received)
        answered = await needs_answered(session, period, totals["listings"]["needs"])
    charts = {
        "category": bar_chart(_rows(by["category"], category_label)),
        "month": bar_chart(_rows(by["month"], str)),
        "kind": bar_chart(_rows(by["kind"], structure_kind_label)),
        "origin": bar_chart(
            _rows(by["origin"], lambda key: _("This territory") if key == own else key)
        ),
    }
    page = await render_template(
        "territory.html",
        totals=totals,
        groups=by,
        charts=charts,
        errors=errors,
        values={"from": request.args.get("from", ""), "to": request.args.get("to", "")},
        own_domain=own,
        structures={
            "kind": _structures(by["kind"], structure_kind_label),
            "commune": _structures(
                by["commune"], lambda key: key or _("No commune given"), TOP_COMMUNES
            ),
        },
        flows=flows,
        answered=answered,
    )
    return (page, 422) if errors else page
