"""Announce: an actor we follow shares an object (the territory of a peer boosting a listing).

The embedded object, if any, is not trusted: the object is fetched from its
own origin (signed GET) and must be attributed to an actor of that origin.
Announced listings are stored like created ones; we never re-announce them.
"""

from __future__ import annotations

from sqlalchemy import select

from domain.models import Listing
from federation.keys import host_of
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import listing_from_ap
from inbox.listings import is_followed, upsert


async def handle(ctx: Context, act: Incoming) -> str | None:
    uri = act.object_id
    if not uri:
        return "announce of nothing"
    if host_of(uri) == ctx.settings.instance.domain.lower():
        # A boost of a listing of ours: counted (``inbox.reactions``), never stored.
        from inbox.reactions import receive_reaction

        counted = await receive_reaction(ctx, act, "Announce")
        return "announce of one of our own objects" if counted else None
    announcer = await ctx.remote.actor(act.actor)
    async with ctx.db.session() as session:
        announcer = await session.merge(announcer)
        if not await is_followed(session, announcer):
            return "announce from an actor nobody here follows"
        known = await session.scalar(select(Listing.id).where(Listing.ap_id == uri))
        if known is not None:
            return None
    from inbox.handlers.communities import handle_group_announce

    group_note = await handle_group_announce(ctx, act, announcer)
    if group_note is not False:
        return group_note if isinstance(group_note, str) else None
    obj = await ctx.remote.fetch(uri)
    data = listing_from_ap(obj)
    if data is None:
        return "announce of an object that is not a listing"
    if host_of(data.author) != host_of(uri):
        return "announced listing attributed to another server"
    author = await ctx.remote.actor(data.author)
    async with ctx.transaction() as session:
        author = await session.merge(author)
        if await upsert(session, author, data) is None:
            return "announced listing refused (deleted, or not its author's)"
    return None
