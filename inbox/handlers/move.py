"""Move: a remote actor moved to a new account (a structure changing territory).

Accepted only when ``object`` is the sender and the target lists the sender
in ``alsoKnownAs`` (Mastodon's rule). Local actors that followed the old
account follow the new one.
"""

from __future__ import annotations

from sqlalchemy import select

from federation.models import Actor, Follow
from inbox.activity import Incoming
from inbox.context import Context
from outbox.follows import follow, unfollow


async def handle(ctx: Context, act: Incoming) -> str | None:
    if act.object_id != act.actor or not act.target:
        return "move of another actor"
    target = await ctx.remote.actor(act.target, refresh=True)
    document = target.document or {}
    aliases = document.get("alsoKnownAs") or []
    aliases = aliases if isinstance(aliases, list) else [aliases]
    if act.actor not in aliases:
        return "the target does not claim the old account (alsoKnownAs)"
    async with ctx.transaction() as session:
        old = (
            await session.execute(select(Actor).where(Actor.uri == act.actor))
        ).scalar_one_or_none()
        if old is None:
            return "move of an unknown actor"
        old.moved_to = target.uri
        target = await session.merge(target)
        rows = await session.execute(
            select(Follow)
            .join(Actor, Follow.follower_id == Actor.id)
            .where(Follow.followed_id == old.id, Actor.local.is_(True))
        )
        for row in list(rows.scalars()):
            follower = row.follower
            await unfollow(session, ctx.settings, row)
            await follow(session, ctx.settings, follower, target)
    return None
