"""Who receives an activity: from followers and named actors to inboxes.

Remote recipients are reduced to delivery inboxes — the shared inbox of
their server when they have one — so that one POST reaches every follower on
a server (Mastodon and most servers publish ``endpoints.sharedInbox``).
Domains refused by policy are dropped here.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.models import Actor, Follow
from federation.policy import permitted


async def follower_actors(session: AsyncSession, actor_id: int) -> list[Actor]:
    """The accepted remote followers of a local actor."""
    result = await session.execute(
        select(Actor)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id == actor_id, Follow.state == "accepted", Actor.local.is_(False))
    )
    return list(result.scalars())


async def inboxes_for(
    session: AsyncSession,
    actors: Iterable[Actor],
    *,
    mode: str,
) -> list[str]:
    """Delivery inboxes of remote, live actors whose domains policy allows."""
    remote = [a for a in actors if not a.local and a.deleted_at is None and a.inbox_url]
    allowed = await permitted(session, {a.domain for a in remote}, mode)
    inboxes: dict[str, None] = {}
    for actor in remote:
        if actor.domain in allowed:
            inboxes.setdefault(actor.delivery_inbox, None)
    return list(inboxes)
