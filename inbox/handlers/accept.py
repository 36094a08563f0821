"""Accept(Follow): a remote actor accepted a local actor's follow."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.notify import notify_follow
from federation import backfill
from federation.follow_states import StateError, transition
from federation.models import Actor, Follow
from federation.policy import PEERING_REASON, policies, set_policy
from inbox import exchanges
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import answer_from_ap

log = logging.getLogger(__name__)


async def find_our_follow(session: AsyncSession, act: Incoming) -> Follow | None:
    """The local Follow that ``act`` answers (by id, or by embedded actor/object)."""
    followed = (
        await session.execute(select(Actor).where(Actor.uri == act.actor))
    ).scalar_one_or_none()
    if followed is None:
        return None
    answer = answer_from_ap(act.raw)
    query = select(Follow).where(Follow.followed_id == followed.id)
    if answer.follower is not None:
        query = query.join(Actor, Follow.follower_id == Actor.id).where(
            Actor.uri == answer.follower, Actor.local.is_(True)
        )
    elif answer.object_id:
        query = query.where(Follow.activity_uri == answer.object_id)
    else:
        return None
    return (await session.execute(query)).scalar_one_or_none()


async def handle(ctx: Context, act: Incoming) -> str | None:
    handled, note = await exchanges.route(ctx, act)
    if handled:
        return note
    async with ctx.transaction() as session:
        row = await find_our_follow(session, act)
        if row is None:
            return "accept of an unknown follow"
        try:
            transition(row, "accepted")  # a pending follow only
        except StateError:
            log.info(
                "%s accepted the follow of %s, which is %s: nothing changes",
                act.actor,
                row.follower.uri,
                row.state,
            )
            return f"accept of a follow that is {row.state}"
        await notify_follow(session, row.follower_id, "follow_accepted", row.followed)
        if not row.followed.local:  # what it published before appears at once
            backfill.queue(session, row.id)
        if row.follower.is_territory and row.followed.is_territory:
            domain = row.followed.domain
            current = (await policies(session, [domain])).get(domain)
            if current != "block":
                await set_policy(session, domain, "allow", PEERING_REASON)
    return None
