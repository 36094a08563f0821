"""Delete: a remote actor deleted an object it owns, or itself.

Only the verified signer's own things go: itself (its follows and listings
here with it), its listings, messages and posts. The id is recorded as a
tombstone in its name, so a Create of it that arrives late (or is replayed)
cannot bring it back; a Delete of another actor's object, or of another
actor, changes nothing and records nothing (``inbox.listings.remove``).
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from config.database import utcnow
from domain.models import Listing
from federation.models import Actor, Follow, Tombstone
from inbox.activity import Incoming
from inbox.context import Context
from inbox.listings import remove


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
        other = await session.scalar(select(Actor.id).where(Actor.uri == act.object_id))
        if other is not None:
            return "delete of another actor"  # an actor deletes only itself
        removed = await remove(session, act.actor, act.object_id)
        from inbox.handlers.messages import remove_note

        if not removed and not await remove_note(session, act.actor, act.object_id):
            return None  # nothing known yet; the tombstone keeps it from arriving later
    return None
