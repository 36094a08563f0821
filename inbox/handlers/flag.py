"""Flag: another server reports content or an actor of ours to our moderators."""

from __future__ import annotations

from inbox.activity import Incoming
from inbox.context import Context


async def handle(ctx: Context, act: Incoming) -> str | None:
    from inbox.handlers.reports import receive_flag

    return await receive_flag(ctx, act)
