"""Notes that are not listings: direct messages and community posts come here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.activity import Incoming
from inbox.processor import Context


async def handle_note(ctx: Context, act: Incoming, obj: dict[str, Any]) -> str | None:
    """Store a direct message or a community post; ignore other notes."""
    return "a note that is not a listing"


async def remove_note(session: AsyncSession, author_uri: str, uri: str) -> bool:
    """Delete a stored message or post of ``author_uri``; False when none."""
    return False
