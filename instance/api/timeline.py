"""``/api/v1/timeline``: what a structure receives from what it follows.

Listings of the actors it follows, and every listing of the territories it
follows (a peered territory announces all of its node's listings), newest
first, with the paging of ``/api/v1/listings``. Each item says its ``type``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import request
from quart_schema import document_querystring

from instance.api import blueprint
from instance.api.follows import acting_structure
from instance.api.listings import listing_json
from instance.auth import api_person
from instance.node import current_node
from instance.search import parse_query, search_listings


class TimelineQuery(BaseModel):
    actor: str
    limit: int | None = None
    cursor: str | None = None


@blueprint.get("/timeline")
@document_querystring(TimelineQuery)
async def timeline() -> dict[str, Any]:
    """Listings (and, with communities, posts) from what the structure follows, newest first."""
    node = current_node()
    args = {k: v for k, v in request.args.items() if k in ("limit", "cursor")}
    query = parse_query(args)
    query.sort = "recent"
    query.status = None
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        query.timeline_of = structure.actor.id
        page = await search_listings(session, node.db.dialect, query)
        items = [{"type": "listing", **listing_json(hit.listing)} for hit in page.items]
    return {"items": items, "next": page.next_cursor}
