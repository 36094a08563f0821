"""``/api/v1/timeline``: what a structure receives from what it follows.

Items, newest first, each with its ``type``:

* ``listing`` — listings of the actors it follows, and every listing of the
  territories it follows (a peered territory announces all of its node's);
* ``post`` — posts in the communities it follows or is a member of, and the public
  posts of the accounts it follows (a Mastodon account: ``community`` null);
* ``announcement`` — such a post that the community's animators pinned.

Paging is by cursor over (published, type, id), like ``/api/v1/listings``, so
pages stay stable while new items arrive (``instance.services.timeline``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import request
from quart_schema import document_querystring

from domain.models import Listing
from instance.api.blueprint import blueprint
from instance.api.communities import post_json
from instance.api.listings import listing_json
from instance.auth import api_person
from instance.node import current_node
from instance.search import parse_query
from instance.services import timeline as timelines
from instance.services.structures import acting_structure
from instance.services.timeline import Item


class TimelineQuery(BaseModel):
    actor: str
    limit: int | None = None
    cursor: str | None = None


def item_json(item: Item) -> dict[str, Any]:
    if isinstance(item.row, Listing):
        return {"type": item.kind, **listing_json(item.row)}
    answer = {"type": item.kind, **post_json(item.row)}
    if item.row.group_id == item.row.author_id:
        answer["community"] = None  # a followed account's own post, in no community
    return answer


@blueprint.get("/timeline")
@document_querystring(TimelineQuery)
async def timeline() -> dict[str, Any]:
    """Listings, community posts and announcements from what the structure follows."""
    node = current_node()
    query = parse_query({k: v for k, v in request.args.items() if k == "limit"})
    cursor = timelines.parse_cursor(request.args.get("cursor"))
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        items, next_cursor = await timelines.page(session, structure.actor, query.limit, cursor)
        return {"items": [item_json(i) for i in items], "next": next_cursor}
