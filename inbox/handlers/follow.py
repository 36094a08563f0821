"""Follow: someone wants to follow a local actor.

Structures and communities accept at once, unless they approve followers by
hand (``federation.auto_accept_follows = false`` for structures): then the
follow waits, ``pending``, and the structure's people are notified; they
answer on ``/@HANDLE/followers`` or through the API (``instance.services.follows``).
The territory accepts ordinary followers (a Mastodon user, say) at once, but
a follow from another territory is a **peering request**: it waits for an
administrator (``entraide peer approve``), unless we asked to peer with that
territory ourselves, in which case it is mutual and accepted.
"""

from __future__ import annotations

from sqlalchemy import select

from actors.local import approves_followers_manually
from domain.models import Structure
from domain.notify import notify_follow, notify_roles
from federation.follow_states import transition
from federation.models import Actor, Follow
from inbox.activity import Incoming
from inbox.context import Context
from outbox.follows import accept, find_follow, follow_requested


async def handle(ctx: Context, act: Incoming) -> str | None:
    if not act.object_id:
        return "follow of nothing"
    follower = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        local = (
            await session.execute(
                select(Actor).where(Actor.uri == act.object_id, Actor.local.is_(True))
            )
        ).scalar_one_or_none()
        if local is None or local.suspended_at is not None:
            return "follow of an unknown actor"
        if local.type == "Organization":
            visible = await session.scalar(
                select(Structure.is_visible).where(Structure.actor_id == local.id)
            )
            if not visible:
                return "follow of a structure that is not visible"
        follower = await session.merge(follower)
        row = await find_follow(session, follower, local)
        asked_before = row is not None and row.state == "pending"
        if row is None:
            row = Follow(follower=follower, followed=local)
            transition(row, "pending")
            session.add(row)
        row.activity_uri = act.id
        if row.state == "accepted":
            await accept(session, ctx.settings, row)  # a repeated Follow: confirm again
            return None
        if row.state == "rejected":
            transition(row, "pending")  # refused before, asked again
        if local.is_territory and follower.is_territory:
            ours = await find_follow(session, local, follower)
            if ours is None or ours.state == "rejected":
                await session.flush()
                await notify_roles(
                    session,
                    ("admin",),
                    "peering_request",
                    {"domain": follower.domain, "actor": follower.uri},
                    "/admin/peers",
                )
                return None
        elif approves_followers_manually(local, ctx.settings):
            await session.flush()
            if not asked_before:  # a repeated Follow is not a new request
                await follow_requested(session, row)
            return None
        await accept(session, ctx.settings, row)
        if local.type == "Organization":
            await notify_follow(session, local.id, "follower", follower, f"/@{local.handle}")
    return None
