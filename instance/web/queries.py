"""Reads of the community pages, pending their move into ``instance.services``.

Everything else that was here lives in the services now (``structures``, ``people``,
``follows``, ``peering``, ``reports``, ``stats``). The community reads below, and the
names re-exported from the services, are used by ``instance.web.communities``,
``messages``, ``notifications`` and ``timeline``, which are being moved to
``instance.services`` separately; this module goes once they no longer import it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.social import Community, CommunityMember, Post
from domain.visibility import post_shown
from federation.models import Actor, Follow
from instance.services.follows import follows_of as follows_of
from instance.services.people import mark_notifications_read as mark_notifications_read
from instance.services.structures import person_actor_ids as person_actor_ids


async def community_members(session: AsyncSession, community: Community) -> list[Actor]:
    rows = await session.execute(
        select(Actor)
        .join(CommunityMember, CommunityMember.actor_id == Actor.id)
        .where(CommunityMember.community_id == community.id)
        .order_by(Actor.name, Actor.handle)
    )
    return list(rows.scalars().unique())


async def member_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(CommunityMember.community_id, func.count()).group_by(CommunityMember.community_id)
    )
    return {community_id: int(count) for community_id, count in rows.all()}


async def community_followers(session: AsyncSession, community: Community) -> list[Actor]:
    """Actors following the community's Group (accepted follows), local or remote."""
    rows = await session.execute(
        select(Actor)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id == community.actor_id, Follow.state == "accepted")
        .order_by(Actor.domain, Actor.handle)
    )
    return list(rows.scalars().unique())


async def followed_remote_groups(session: AsyncSession, actor_ids: list[int]) -> list[Actor]:
    """Communities of other nodes that these actors follow (any state)."""
    if not actor_ids:
        return []
    rows = await session.execute(
        select(Actor)
        .join(Follow, Follow.followed_id == Actor.id)
        .where(
            Follow.follower_id.in_(actor_ids),
            Actor.type == "Group",
            Actor.local.is_(False),
        )
        .order_by(Actor.name, Actor.handle)
    )
    return list(rows.scalars().unique())


async def group_posts(session: AsyncSession, group_id: int, limit: int = 100) -> list[Post]:
    """Visible posts of a community, pinned ones first, then newest first."""
    rows = await session.execute(
        select(Post)
        .where(Post.group_id == group_id, post_shown())
        .order_by(Post.pinned.desc(), Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return list(rows.scalars().unique())
