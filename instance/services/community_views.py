"""What the community pages show: members, followers, the list as a person sees it,
and the communities of other nodes that a person's structures follow.

The use cases themselves are ``instance.services.communities``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Membership, Person, Structure
from domain.social import Community, CommunityMember
from federation.models import Actor, Follow
from instance.services.communities import all_communities


async def members(session: AsyncSession, community: Community) -> list[Actor]:
    rows = await session.execute(
        select(Actor)
        .join(CommunityMember, CommunityMember.actor_id == Actor.id)
        .where(CommunityMember.community_id == community.id)
        .order_by(Actor.name, Actor.handle)
    )
    return list(rows.scalars().unique())


async def followers(session: AsyncSession, community: Community) -> list[Actor]:
    """Actors following the community's Group (accepted follows), local or remote."""
    rows = await session.execute(
        select(Actor)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id == community.actor_id, Follow.state == "accepted")
        .order_by(Actor.domain, Actor.handle)
    )
    return list(rows.scalars().unique())


@dataclass(frozen=True)
class Overview:
    """The list of communities as a person sees it."""

    local: list[Community]
    counts: dict[int, int]  # members, by community id
    remote: list[Actor]  # communities of other nodes the person's structures follow
    joined: set[int]  # communities one of the person's structures is a member of


async def overview(session: AsyncSession, person: Person | None) -> Overview:
    local = await all_communities(session)
    rows = await session.execute(
        select(CommunityMember.community_id, func.count()).group_by(CommunityMember.community_id)
    )
    counts = {community_id: int(count) for community_id, count in rows.all()}
    actor_ids = await _actor_ids(session, person) if person else []
    if not actor_ids:
        return Overview(local, counts, [], set())
    remote = await session.execute(
        select(Actor)
        .join(Follow, Follow.followed_id == Actor.id)
        .where(Follow.follower_id.in_(actor_ids), Actor.type == "Group", Actor.local.is_(False))
        .order_by(Actor.name, Actor.handle)
    )
    joined = await session.execute(
        select(CommunityMember.community_id).where(CommunityMember.actor_id.in_(actor_ids))
    )
    return Overview(local, counts, list(remote.scalars().unique()), {i for (i,) in joined.all()})


async def _actor_ids(session: AsyncSession, person: Person) -> list[int]:
    """The actors of the approved structures ``person`` acts for."""
    rows = await session.execute(
        select(Structure.actor_id)
        .join(Membership, Membership.structure_id == Structure.id)
        .where(
            Membership.person_id == person.id,
            Structure.status == "approved",
            Structure.actor_id.is_not(None),
        )
    )
    return [actor_id for (actor_id,) in rows.all() if actor_id is not None]


async def remote_group(session: AsyncSession, address: str) -> Actor | None:
    """The community of another node at ``name@host`` that this node knows."""
    name, _sep, host = address.partition("@")
    return await session.scalar(
        select(Actor).where(
            Actor.handle == name,
            Actor.domain == host.lower(),
            Actor.type == "Group",
            Actor.local.is_(False),
        )
    )


async def follow_states(
    session: AsyncSession, group: Actor, actor_ids: list[int | None]
) -> dict[int, str]:
    """The state of each of these actors' follow of ``group``, by follower id."""
    rows = await session.execute(
        select(Follow).where(Follow.followed_id == group.id, Follow.follower_id.in_(actor_ids))
    )
    return {row.follower_id: row.state for row in rows.scalars()}
