"""``GET /api/v1/stats``: the territory's public figures (see ``instance.services.stats``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring

from instance.api.blueprint import blueprint
from instance.api.listings import withdrawn_readable
from instance.errors import ApiError
from instance.node import current_node
from instance.services.stats import GROUPS, Period, territory_stats


class StatsQuery(BaseModel):
    from_: str | None = Field(default=None, alias="from", description="ISO date, inclusive")
    to: str | None = Field(default=None, description="ISO date, inclusive")
    group_by: str | None = Field(default=None, description=" | ".join(GROUPS))


def _day(name: str) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            422, "some fields are invalid", fields={name: "must be a date (YYYY-MM-DD)"}
        ) from None
    if not 1900 <= day.year <= 2999:  # the dates the node stores (domain.validation)
        raise ApiError(422, "some fields are invalid", fields={name: "is out of range"})
    return day


@blueprint.get("/stats")
@document_querystring(StatsQuery)
async def stats() -> dict[str, Any]:
    """Structures, listings, matches, exchanges and peers of this territory. No token needed."""
    node = current_node()
    period = Period(_day("from"), _day("to"))
    if period.start and period.end and period.start > period.end:
        raise ApiError(422, "some fields are invalid", fields={"to": "must not be before from"})
    group_by = request.args.get("group_by") or None
    if group_by is not None and group_by not in GROUPS:
        raise ApiError(
            422,
            "some fields are invalid",
            fields={"group_by": "must be one of " + ", ".join(GROUPS)},
        )
    await withdrawn_readable(node)  # a bad token is refused (401)
    async with node.db.read() as session:
        return await territory_stats(
            session, node.db.dialect, node.settings.instance.domain.lower(), period, group_by
        )
