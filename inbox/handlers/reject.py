"""Reject(Follow): a remote actor refused a local actor's follow, or removed an accepted one."""

from __future__ import annotations

from federation.follow_states import transition
from inbox import exchanges
from inbox.activity import Incoming
from inbox.context import Context
from inbox.handlers.accept import find_our_follow


async def handle(ctx: Context, act: Incoming) -> str | None:
    handled, note = await exchanges.route(ctx, act)
    if handled:
        return note
    async with ctx.transaction() as session:
        row = await find_our_follow(session, act)
        if row is None:
            return "reject of an unknown follow"
        if row.state == "accepted":
            # Rejecting an accepted follow is how a follower is removed (Mastodon does so).
            await session.delete(row)
        elif row.state == "pending":
            transition(row, "rejected")
    return None
