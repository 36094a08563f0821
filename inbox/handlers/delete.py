"""Delete: a remote actor deleted an object it owns, or itself.

The object's id is recorded as a tombstone, so a Create that arrives late
(or is replayed) cannot bring it back. An actor deleting itself loses its
follows and its listings here.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from config.database import utcnow
from domain.models import Listing
from federation.models import Actor, Follow, Tombstone
from inbox.activity import Incoming
from inbox.listings import remove
from inbox.processor import Context


async def handle(ctx: Context, act: Incoming) -> str | None:
    if not act.object_id:
        return "delete of nothing"
    async with ctx.transaction() as session:
        if act.object_id == act.actor:
            actor = (
                await session.execute(select(Actor).where(Actor.uri == act.actor))
            ).scalar_one_or_none()
            if actor is None or actor.local:
                return "delete of an unknown actor"
            actor.deleted_at = utcnow()
            await session.execute(
                delete(Follow).where(
                    or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id)
                )
            )
            await session.execute(delete(Listing).where(Listing.author_id == actor.id))
            if await session.get(Tombstone, actor.uri) is None:
                session.add(Tombstone(uri=actor.uri, actor_uri=actor.uri))
            return None
        removed = await remove(session, act.actor, act.object_id)
        from inbox.handlers.messages import remove_note

        if not removed and not await remove_note(session, act.actor, act.object_id):
            return None  # nothing known yet; the tombstone keeps it from arriving later
    return None
