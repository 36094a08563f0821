"""``/api/v1/listings/{id}/replies``: public replies under a listing, and answering them.

The use cases are ``instance.services.replies``; this module reads requests and
writes the JSON of INTERFACE.md: ``{"items": [{"id", "author", "content"
(sanitised HTML), "published", "in_reply_to"}], "next"}``, oldest first. An
item's ``in_reply_to`` is the id of the reply it answers, or null when it
answers the listing itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request

from domain.replies import Reply
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.paging import page_limit, time_cursor
from instance.auth import api_person
from instance.node import current_node
from instance.search import encode_cursor
from instance.services import replies as replying


class RepliesQuery(BaseModel):
    limit: int | None = None
    cursor: str | None = None


class ReplyCreate(BaseModel):
    from_: str = Field(alias="from", description="Handle of the listing's structure")
    content: str = Field(max_length=replying.ANSWER_MAX)
    in_reply_to: int | None = Field(default=None, description="Id of the reply it answers")


def reply_json(reply: Reply, parents: dict[str, int]) -> dict[str, Any]:
    return {
        "id": reply.id,
        "ap_id": reply.ap_id,
        "author": reply.author.uri,
        "author_name": reply.author.name or reply.author.handle,
        "content": reply.content_html,
        "published": reply.published_at.isoformat(),
        "in_reply_to": parents.get(reply.in_reply_to),
    }


@blueprint.get("/listings/<int:listing_id>/replies")
@document_querystring(RepliesQuery)
async def list_replies(listing_id: int) -> dict[str, Any]:
    """Public replies to the listing, from here and the fediverse, oldest first, paged."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    after = time_cursor(request.args.get("cursor"), "published")
    async with node.db.read() as session:
        await api_person(session, required=False)
        listing = await replying.shown_listing(session, listing_id)
        rows, more = await replying.replies_page(session, listing, limit=limit, after=after)
        parents = await replying.parent_ids(session, rows)
        items = [reply_json(r, parents) for r in rows]
    following = None
    if more and items:
        following = encode_cursor({"published": items[-1]["published"], "id": items[-1]["id"]})
    return {"items": items, "next": following}


@blueprint.post("/listings/<int:listing_id>/replies")
@document_request(ReplyCreate)
async def create_reply(listing_id: int) -> tuple[dict[str, Any], int]:
    """Answer publicly under the listing; the answer federates as a reply mentioning
    the author it answers."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        reply = await replying.answer(session, node.settings, person, listing_id, data)
        parents = await replying.parent_ids(session, [reply])
        return reply_json(reply, parents), 201
