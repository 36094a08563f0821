"""Reads (and two small writes) the pages need that the back end does not offer as functions.

Everything here is a query over the existing tables, shaped for a page:
unread counts for the header, a community's followers, the communities of
other nodes a person's structures follow, the health of each remote domain,
what a report points at. The use cases themselves (sending, following,
moderating) stay in ``outbox``, ``instance.services.moderation`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing, Membership, Person, Structure
from domain.social import (
    Community,
    CommunityMember,
    Message,
    Notification,
    Participant,
    Post,
    Report,
)
from domain.visibility import post_shown
from federation.models import Actor, Delivery, DomainHealth, DomainPolicy, Follow


async def person_actor_ids(session: AsyncSession, person: Person) -> list[int]:
    """The actors of the approved structures ``person`` acts for."""
    rows = await session.execute(
        select(Structure.actor_id)
        .join(Membership, Membership.structure_id == Structure.id)
        .where(
            Membership.person_id == person.id,
            Structure.is_visible,
            Structure.actor_id.is_not(None),
        )
    )
    return [actor_id for (actor_id,) in rows.all() if actor_id is not None]


async def unread_messages(session: AsyncSession, person: Person) -> int:
    """Messages written to the person's structures since each last read its thread."""
    actor_ids = await person_actor_ids(session, person)
    if not actor_ids:
        return 0
    count = await session.scalar(
        select(func.count(func.distinct(Message.id)))
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(
            Participant.actor_id.in_(actor_ids),
            Message.author_id.not_in(actor_ids),
            (Participant.last_read_at.is_(None))
            | (Message.published_at > Participant.last_read_at),
        )
    )
    return int(count or 0)


async def unread_notifications(session: AsyncSession, person: Person) -> int:
    count = await session.scalar(
        select(func.count(Notification.id)).where(
            Notification.person_id == person.id, Notification.read_at.is_(None)
        )
    )
    return int(count or 0)


async def mark_notifications_read(
    session: AsyncSession, person: Person, url: str | None = None
) -> None:
    """Mark the person's notifications read (only those pointing at ``url``, if given)."""
    query = select(Notification).where(
        Notification.person_id == person.id, Notification.read_at.is_(None)
    )
    if url is not None:
        query = query.where(Notification.url == url)
    now = utcnow()
    for notification in (await session.execute(query)).scalars():
        notification.read_at = now


# --- communities -------------------------------------------------------------------


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


async def follows_of(session: AsyncSession, actor_ids: list[int]) -> list[Follow]:
    """What these actors follow, newest first."""
    if not actor_ids:
        return []
    rows = await session.execute(
        select(Follow).where(Follow.follower_id.in_(actor_ids)).order_by(Follow.id.desc())
    )
    return list(rows.scalars().unique())


# --- federation health --------------------------------------------------------------


@dataclass(frozen=True)
class DomainRow:
    """One remote domain as the federation page shows it."""

    domain: str
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failures: int
    unavailable_since: datetime | None
    queued: int
    policy: str
    reason: str

    @property
    def state(self) -> str:
        """``unavailable``, ``failing``, ``ok`` or ``unknown`` (no delivery yet)."""
        if self.unavailable_since is not None:
            return "unavailable"
        if self.failures:
            return "failing"
        if self.last_success_at is not None:
            return "ok"
        return "unknown"


async def domain_rows(session: AsyncSession) -> list[DomainRow]:
    """Every remote domain we deliver to or hold a policy for, failing ones first."""
    health = {h.domain: h for h in (await session.execute(select(DomainHealth))).scalars()}
    policies = {p.domain: p for p in (await session.execute(select(DomainPolicy))).scalars()}
    queued = {
        domain: int(count)
        for domain, count in (
            await session.execute(
                select(Delivery.domain, func.count())
                .where(Delivery.state == "pending")
                .group_by(Delivery.domain)
            )
        ).all()
    }
    rows = []
    for domain in set(health) | set(policies) | set(queued):
        h = health.get(domain)
        p = policies.get(domain)
        rows.append(
            DomainRow(
                domain=domain,
                last_success_at=h.last_success_at if h else None,
                last_failure_at=h.last_failure_at if h else None,
                failures=h.failures if h else 0,
                unavailable_since=h.unavailable_since if h else None,
                queued=queued.get(domain, 0),
                policy=p.policy if p else "",
                reason=p.reason if p else "",
            )
        )
    order = {"unavailable": 0, "failing": 1, "unknown": 2, "ok": 3}
    return sorted(rows, key=lambda r: (order[r.state], -r.queued, r.domain))


# --- reports ------------------------------------------------------------------------


@dataclass
class ReportView:
    """A report with what it points at, resolved to the rows moderators act on."""

    report: Report
    listing: Listing | None = None
    post: Post | None = None
    community_handle: str | None = None
    structure: Structure | None = None


async def report_views(session: AsyncSession, state: str, limit: int = 100) -> list[ReportView]:
    rows = await session.execute(
        select(Report).where(Report.state == state).order_by(Report.id.desc()).limit(limit)
    )
    views = []
    for report in rows.scalars().unique():
        view = ReportView(report)
        uris = [report.target_uri, *report.objects]
        view.listing = (
            (await session.execute(select(Listing).where(Listing.ap_id.in_(uris))))
            .scalars()
            .first()
        )
        view.post = (
            (await session.execute(select(Post).where(Post.ap_id.in_(uris)))).scalars().first()
        )
        if view.post is not None and view.post.group.local:
            view.community_handle = view.post.group.handle
        if report.target_actor is not None and report.target_actor.local:
            view.structure = (
                await session.execute(
                    select(Structure).where(Structure.actor_id == report.target_actor.id)
                )
            ).scalar_one_or_none()
        views.append(view)
    return views


async def open_counts(session: AsyncSession) -> dict[str, int]:
    """Figures of the administration hub."""
    from instance.services.peering import list_peerings

    pending = await session.scalar(
        select(func.count(Structure.id)).where(Structure.status == "pending")
    )
    reports = await session.scalar(select(func.count(Report.id)).where(Report.state == "open"))
    failing = await session.scalar(
        select(func.count(DomainHealth.domain)).where(DomainHealth.failures > 0)
    )
    peer_requests = [
        p
        for p in await list_peerings(session)
        if p.direction == "incoming" and p.state == "pending"
    ]
    communities = await session.scalar(select(func.count(Community.id)))
    return {
        "pending": int(pending or 0),
        "reports": int(reports or 0),
        "failing": int(failing or 0),
        "peer_requests": len(peer_requests),
        "communities": int(communities or 0),
    }


# --- follow buttons ---------------------------------------------------------------------


async def follow_states(
    session: AsyncSession, follower_ids: list[int], targets: list[str]
) -> dict[str, str]:
    """For each target actor id (URI), how the given actors follow it (best state wins)."""
    if not follower_ids or not targets:
        return {}
    rows = await session.execute(
        select(Actor.uri, Follow.state)
        .join(Follow, Follow.followed_id == Actor.id)
        .where(Follow.follower_id.in_(follower_ids), Actor.uri.in_(set(targets)))
    )
    rank = {"accepted": 2, "pending": 1, "rejected": 0}
    states: dict[str, str] = {}
    for uri, state in rows.all():
        if rank.get(state, 0) >= rank.get(states.get(uri, ""), -1):
            states[uri] = state
    return states


async def territory_address(session: AsyncSession, domain: str) -> str:
    """What to follow for a whole territory: its actor when known, else Entraide's default."""
    uri = await session.scalar(
        select(Actor.uri).where(
            Actor.domain == domain.lower(), Actor.is_territory.is_(True), Actor.local.is_(False)
        )
    )
    return uri or f"acct:territory@{domain}"


async def follow_states_by(
    session: AsyncSession, structures: list[Structure], target: str
) -> dict[str, str]:
    """How each of ``structures`` (by handle) follows ``target`` (absent: not at all)."""
    by_actor = {s.actor_id: s.handle for s in structures if s.actor_id is not None}
    if not by_actor:
        return {}
    rows = await session.execute(
        select(Follow.follower_id, Follow.state)
        .join(Actor, Follow.followed_id == Actor.id)
        .where(Follow.follower_id.in_(list(by_actor)), Actor.uri == target)
    )
    return {by_actor[follower_id]: state for follower_id, state in rows.all()}


async def follower_count(session: AsyncSession, actor_id: int) -> int:
    count = await session.scalar(
        select(func.count(Follow.id)).where(
            Follow.followed_id == actor_id, Follow.state == "accepted"
        )
    )
    return int(count or 0)
