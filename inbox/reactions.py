"""``Like`` and ``Announce`` of our listings: counted, without keeping who.

A reaction is a :class:`~domain.replies.Reaction` row: a keyed hash (the node's
secret) of (actor, type, listing), so that the same actor liking twice counts
once and nobody reading the database learns who liked what; a hash of the
activity's id, which an ``Undo`` naming only that id finds; and the sending
server. A server sends at most :data:`PER_DOMAIN_PER_HOUR` counted reactions
in a sliding hour; past that (a forged flood from throwaway accounts of one
domain) a reaction is dropped — the inbox item ends ``ignored`` with the
reason, logged — as the inbox bounds ``Flag``s (``inbox.handlers.reports``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from sqlalchemy import delete, func, or_, select

from config.database import utcnow
from domain.models import Listing
from domain.replies import Reaction
from federation.keys import host_of
from federation.models import Actor
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import UndoData

log = logging.getLogger(__name__)

PER_DOMAIN_PER_HOUR = 60
KINDS = {"Like": "like", "Announce": "announce"}


def _digest(ctx: Context, *parts: str) -> str:
    key = ctx.settings.web.secret_key.encode() or b"entraide"
    message = "\x00".join(parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def receive_reaction(ctx: Context, act: Incoming, kind: str) -> str | None:
    """Count a ``Like`` or an ``Announce`` (``kind``) of one of our shown listings."""
    uri = act.object_id
    if not uri or host_of(uri) != ctx.settings.instance.domain.lower():
        return f"{kind.lower()} of nothing of ours"
    origin = host_of(act.actor)
    async with ctx.transaction() as session:
        listing = await session.scalar(
            select(Listing).where(Listing.ap_id == uri, Listing.local.is_(True))
        )
        if listing is None or listing.hidden or listing.status == "withdrawn":
            return f"{kind.lower()} of nothing of ours"
        moderation = await session.scalar(select(Actor.moderation).where(Actor.uri == act.actor))
        if moderation:
            return f"{kind.lower()} from a {moderation} actor"
        digest = _digest(ctx, act.actor, kind, listing.ap_id)
        if await session.get(Reaction, digest) is not None:
            return None  # counted already
        since = utcnow() - timedelta(hours=1)
        recent = await session.scalar(
            select(func.count())
            .select_from(Reaction)
            .where(Reaction.origin == origin, Reaction.created_at > since)
        )
        if (recent or 0) >= PER_DOMAIN_PER_HOUR:
            reason = f"{kind.lower()} dropped: {recent} from {origin} in the last hour"
            log.info("%s %s from %s: %s", kind, act.id, act.actor, reason)
            return reason
        session.add(
            Reaction(
                digest=digest,
                activity_digest=_digest(ctx, act.id),
                listing_id=listing.id,
                kind=KINDS[kind],
                origin=origin,
            )
        )
    return None


async def undo_reaction(ctx: Context, undo: UndoData) -> bool:
    """Take back a counted reaction (by the Like's id, or by what it liked); False when
    the Undo names none."""
    conditions = []
    if undo.object_id:
        conditions.append(Reaction.activity_digest == _digest(ctx, undo.object_id))
    if undo.object_type in KINDS and undo.announced:
        conditions.append(
            Reaction.digest == _digest(ctx, undo.actor, undo.object_type, undo.announced)
        )
    if not conditions:
        return False
    async with ctx.transaction() as session:
        result = await session.execute(delete(Reaction).where(or_(*conditions)))
        return bool(result.rowcount)  # type: ignore[attr-defined]
