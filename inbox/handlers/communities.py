"""Announces by community Groups (FEP-1b12) of their members' posts."""

from __future__ import annotations

from federation.models import Actor
from inbox.activity import Incoming
from inbox.processor import Context


async def handle_group_announce(ctx: Context, act: Incoming, announcer: Actor) -> str | bool | None:
    """Handle an Announce by a Group; False when the announcer is not a community."""
    return False
