"""Undo: a remote actor takes back a Follow, a Like or Announce of a listing of ours
(``inbox.reactions``), or a community its Announce of a post."""

from __future__ import annotations

from sqlalchemy import delete, select

from federation.models import Actor, Follow
from inbox import exchanges
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import undo_from_ap


async def handle(ctx: Context, act: Incoming) -> str | None:
    handled, note = await exchanges.route(ctx, act)
    if handled:
        return note
    undo = undo_from_ap(act.raw)
    inner_type = undo.object_type
    if inner_type in (None, "Like", "Announce"):
        from inbox.reactions import undo_reaction

        if await undo_reaction(ctx, undo):
            return None
        if inner_type == "Like":
            return "undo of an unknown like"
    if inner_type == "Announce":
        from inbox.communities import undo_group_announce

        return await undo_group_announce(ctx, undo)
    if inner_type not in (None, "Follow"):
        return f"undo of {inner_type}: nothing to undo here"
    async with ctx.transaction() as session:
        follower = (
            await session.execute(select(Actor).where(Actor.uri == undo.actor))
        ).scalar_one_or_none()
        if follower is None:
            return "undo from an unknown actor"
        condition = [Follow.follower_id == follower.id]
        if undo.followed is not None:
            followed = select(Actor.id).where(Actor.uri == undo.followed, Actor.local.is_(True))
            condition.append(Follow.followed_id.in_(followed))
        elif undo.object_id:
            condition.append(Follow.activity_uri == undo.object_id)
        else:
            return "undo of nothing"
        result = await session.execute(delete(Follow).where(*condition))
        if not result.rowcount:  # type: ignore[attr-defined]
            return "undo of an unknown follow"
    return None
