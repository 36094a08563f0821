"""A listing's ``replies`` collection and the replies written here, for other servers.

``/listings/<id>/replies`` is an ``OrderedCollection`` (``totalItems``,
``first``) whose ``OrderedCollectionPage``s (``?page=N``: ``partOf``,
``orderedItems``, ``next``) list the ids of the shown replies, oldest first,
as Mastodon lists a status's replies. ``/replies/<uuid>`` is a reply written
here: its ``Note`` for ActivityPub clients, the listing's page for browsers,
410 once it is gone or hidden.
"""

from __future__ import annotations

from typing import Any

from quart import redirect, request
from sqlalchemy import select

from domain.replies import Reply
from federation.vocab import AS_CONTEXT
from instance.ap.blueprint import ap_response, blueprint
from instance.errors import ApiError
from instance.negotiation import wants_activity_json
from instance.node import current_node
from instance.services import replies as replying
from outbox.to_ap import tombstone
from outbox.to_ap.actors import collection_page, ordered_collection
from outbox.to_ap.replies import reply_note

PAGE_SIZE = 50
MAX_PAGE = 10_000


def _page_number() -> int | None:
    raw = request.args.get("page")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(422, "some fields are invalid", fields={"page": "must be 1 to 10000"})
    return int(raw)


@blueprint.get("/listings/<int:listing_id>/replies")
async def replies_collection(listing_id: int) -> Any:
    node = current_node()
    page = _page_number()
    async with node.db.read() as session:
        listing = await replying.shown_listing(session, listing_id)
        uri = f"{listing.ap_id}/replies"
        if page is None:
            total = await replying.count_replies(session, listing)
            return ap_response(ordered_collection(uri, total, first=f"{uri}?page=1"))
        rows, more = await replying.replies_page(
            session, listing, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        items = [r.ap_id for r in rows]
    next_page = f"{uri}?page={page + 1}" if more else None
    return ap_response(collection_page(f"{uri}?page={page}", uri, items, next_page))


@blueprint.get("/replies/<reply_id>")
async def reply_document(reply_id: str) -> Any:
    node = current_node()
    uri = f"{node.settings.base_url}/replies/{reply_id}"
    async with node.db.read() as session:
        reply = await replying.local_reply(session, uri)
        if reply is None:
            raise ApiError(404, "no such reply")
        shown = await session.scalar(
            select(Reply.id).where(Reply.id == reply.id, replying.reply_shown())
        )
        if shown is None or reply.listing.hidden:
            return ap_response(tombstone(uri, "Note"), 410)
        if not wants_activity_json():
            return redirect(f"/listings/{reply.listing_id}#reply-{reply.id}")
        parent = await session.scalar(select(Reply).where(Reply.ap_id == reply.in_reply_to))
        note = reply_note(reply, parent.author if parent is not None else None)
    return ap_response({"@context": AS_CONTEXT, **note})
