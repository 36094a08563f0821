"""Create: a remote actor publishes an object.

A listing (``inbox.from_ap``) from an actor we follow is stored as a remote
listing. The object must be attributed to the activity's actor (Mastodon's
rule too), and an id that was deleted stays deleted (tombstones).
"""

from __future__ import annotations

from typing import Any

from inbox import exchanges
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import MalformedObject, listing_from_ap, note_from_ap
from inbox.listings import is_followed, upsert


async def object_of(ctx: Context, act: Incoming) -> dict[str, Any] | None:
    """The embedded object, or the object fetched from its origin when only an id came."""
    if act.object is not None:
        return act.object
    if act.object_id:
        return await ctx.remote.fetch(act.object_id)
    return None


async def handle(ctx: Context, act: Incoming) -> str | None:
    handled, note = await exchanges.route(ctx, act)
    if handled:
        return note
    obj = await object_of(ctx, act)
    if obj is None:
        return "create of nothing"
    data = listing_from_ap(obj)
    if data is None:
        from inbox.handlers.messages import handle_note

        try:
            received = note_from_ap(obj, act.actor)
        except MalformedObject as exc:
            return str(exc)
        return await handle_note(ctx, act, received)
    if data.author != act.actor:
        return "listing attributed to another actor"
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        # Only the author's columns are read (id, uri, domain): the copy just read is
        # enough, without merging it into this session (two more statements a listing).
        if not await is_followed(session, author):
            return "listing from an actor nobody here follows"
        if await upsert(session, author, data) is None:
            return "listing refused (deleted, or not its author's)"
    return None
