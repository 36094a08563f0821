"""Update: a remote actor changed an object it owns, or itself.

An actor's own Update (profile, rotated keys) makes us refetch the actor from
its origin rather than trust the embedded copy. A listing's Update changes
the stored remote listing — only its author's, and only when newer.
"""

from __future__ import annotations

from federation.actor_doc import ACTOR_TYPES
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import MalformedObject, listing_from_ap, note_from_ap
from inbox.handlers.create import object_of
from inbox.listings import is_followed, upsert


async def handle(ctx: Context, act: Incoming) -> str | None:
    if act.object_id == act.actor or (act.object_type in ACTOR_TYPES):
        if act.object_id != act.actor:
            return "update of another actor"
        # Not again if the signature check of this very Update fetched it (a new key).
        await ctx.remote.actor(act.actor, refresh=True, fetched_since=act.received_at)
        return None
    obj = await object_of(ctx, act)
    if obj is None:
        return "update of nothing"
    data = listing_from_ap(obj)
    if data is None:
        if obj.get("type") != "Note":
            return "update of an object that is not a listing"
        from inbox.replies import update_note

        try:
            return await update_note(ctx, note_from_ap(obj, act.actor))
        except MalformedObject as exc:
            return str(exc)
    if data.author != act.actor:
        return "listing attributed to another actor"
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        author = await session.merge(author)
        if not await is_followed(session, author):
            return "listing from an actor nobody here follows"
        if await upsert(session, author, data) is None:
            return "update refused (deleted, or not its author's)"
    return None
