"""Incoming reports (``Flag``) for the moderation queue.

A Flag is kept when it names at least one of our actors or objects (Mastodon
files a report only for its own accounts, too); the moderators are told.

Reports are bounded in a sliding hour: :data:`PER_ACTOR_PER_HOUR` from one
remote actor and :data:`PER_DOMAIN_PER_HOUR` from one server (Mastodon sends
every report of its users from its instance actor, hence the larger bound
per server). Past them a Flag is dropped — the inbox item ends ``ignored``
with the reason, logged — so that one actor filing dozens of reports in
seconds cannot bury the moderators' queue and notifications.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing
from domain.notify import notify_roles
from domain.replies import Reply
from domain.social import Message, Post, Report
from federation.keys import host_of
from federation.models import Actor
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import flag_from_ap

log = logging.getLogger(__name__)

PER_ACTOR_PER_HOUR = 5
PER_DOMAIN_PER_HOUR = 20


async def _over_bounds(session: AsyncSession, reporter: Actor | None, origin: str) -> str | None:
    """Why a new report from ``reporter`` (of ``origin``) is one too many, or None."""
    since = utcnow() - timedelta(hours=1)
    recent = select(func.count()).select_from(Report).where(Report.created_at > since)
    if reporter is not None:
        mine = await session.scalar(recent.where(Report.reporter_actor_id == reporter.id))
        if (mine or 0) >= PER_ACTOR_PER_HOUR:
            return f"report dropped: {mine} from this actor in the last hour"
    theirs = await session.scalar(recent.where(Report.origin == origin))
    if (theirs or 0) >= PER_DOMAIN_PER_HOUR:
        return f"report dropped: {theirs} from {origin} in the last hour"
    return None


async def receive_flag(ctx: Context, act: Incoming) -> str | None:
    flag = flag_from_ap(act.raw)
    own = ctx.settings.instance.domain.lower()
    ours = [u for u in flag.objects if host_of(u) == own]
    if not ours:
        return "a report about nothing of ours"
    reason = flag.reason
    origin = host_of(act.actor)
    async with ctx.transaction() as session:
        if await session.scalar(select(Report.id).where(Report.flag_uri == act.id)):
            return None
        reporter = (
            await session.execute(select(Actor).where(Actor.uri == act.actor))
        ).scalar_one_or_none()
        too_many = await _over_bounds(session, reporter, origin)
        if too_many is not None:
            log.info("Flag %s from %s: %s", act.id, act.actor, too_many)
            return too_many
        target_actor = (
            (await session.execute(select(Actor).where(Actor.uri.in_(ours), Actor.local.is_(True))))
            .scalars()
            .first()
        )
        if target_actor is None:
            author_ids = select(Listing.author_id).where(Listing.ap_id.in_(ours))
            post_authors = select(Post.author_id).where(Post.ap_id.in_(ours))
            message_authors = select(Message.author_id).where(Message.ap_id.in_(ours))
            reply_authors = select(Reply.author_id).where(Reply.ap_id.in_(ours))
            target_actor = (
                (
                    await session.execute(
                        select(Actor).where(
                            or_(
                                Actor.id.in_(author_ids),
                                Actor.id.in_(post_authors),
                                Actor.id.in_(message_authors),
                                Actor.id.in_(reply_authors),
                            )
                        )
                    )
                )
                .scalars()
                .first()
            )
        report = Report(
            origin=origin,
            reporter_actor_id=reporter.id if reporter else None,
            target_uri=target_actor.uri if target_actor else ours[0],
            target_actor_id=target_actor.id if target_actor else None,
            objects=ours,
            reason=reason,
            flag_uri=act.id,
        )
        session.add(report)
        await session.flush()
        await notify_roles(
            session,
            ("admin", "moderator"),
            "report",
            {"origin": report.origin, "target": report.target_uri},
            "/admin/reports",
        )
    return None
