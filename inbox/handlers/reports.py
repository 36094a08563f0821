"""Incoming reports (Flag) for the moderation queue."""

from __future__ import annotations

from inbox.activity import Incoming
from inbox.processor import Context


async def receive_flag(ctx: Context, act: Incoming) -> str | None:
    return "reports are not stored yet"
