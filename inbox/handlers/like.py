"""Like: a remote actor likes one of our listings (counted: ``inbox.reactions``)."""

from __future__ import annotations

from inbox.activity import Incoming
from inbox.context import Context
from inbox.reactions import receive_reaction


async def handle(ctx: Context, act: Incoming) -> str | None:
    return await receive_reaction(ctx, act, "Like")
