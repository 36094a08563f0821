"""Follow, Accept, Reject, Undo: the activities of following.

* :func:`follow` — a local actor asks to follow a remote one (``pending``
  until the remote Accepts). Following a local actor is immediate, unless it
  approves its followers by hand (then ``pending`` like a remote request).
* :func:`follow_requested` — tell a structure's people that a follow awaits
  their answer (the ``follow_request`` notification).
* :func:`accept` / :func:`reject` — answer a remote actor's Follow.
* :func:`unfollow` — ``Undo(Follow)`` and the row goes.
* :func:`remove_follower` — ``Reject(Follow)`` sent to a current follower,
  which is how Mastodon removes a follower, and the row goes.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import approves_followers_manually
from actors.urls import Urls
from config.settings import Settings
from domain.notify import notify_follow
from federation.follow_states import transition
from federation.models import Actor, Follow
from outbox.publish import emit
from outbox.to_ap.follows import answer_follow, follow_activity, undo_follow


async def find_follow(session: AsyncSession, follower: Actor, followed: Actor) -> Follow | None:
    result = await session.execute(
        select(Follow).where(Follow.follower_id == follower.id, Follow.followed_id == followed.id)
    )
    return result.scalar_one_or_none()


async def follow(session: AsyncSession, settings: Settings, local: Actor, target: Actor) -> Follow:
    """``local`` follows ``target``: pending until accepted (immediate when local)."""
    existing = await find_follow(session, local, target)
    if existing is not None and existing.state == "accepted":
        return existing
    if existing is not None and existing.state == "pending" and target.local:
        return existing  # already waiting for an answer
    row = existing or Follow(
        follower=local, followed=target, follower_id=local.id, followed_id=target.id
    )
    if existing is None:
        session.add(row)
    if row.state != "pending":
        transition(row, "pending")  # asked (again, when it was refused)
    if target.local:
        row.activity_uri = Urls(settings.base_url).new_activity()
        if approves_followers_manually(target, settings):
            await session.flush()
            await follow_requested(session, row)
        else:
            transition(row, "accepted")
            await session.flush()
        return row
    body = follow_activity(settings, local, target)
    row.activity_uri = body["id"]
    await session.flush()
    await emit(
        session, settings, local, body, to_followers=False, recipients=[target], public=False
    )
    return row


async def follow_requested(session: AsyncSession, row: Follow) -> None:
    """Tell the people of the followed structure that ``row`` waits for their answer."""
    followed = row.followed
    await notify_follow(
        session, followed.id, "follow_request", row.follower, f"/@{followed.handle}/followers"
    )


async def _answer(
    session: AsyncSession, settings: Settings, row: Follow, kind: Literal["Accept", "Reject"]
) -> None:
    body = answer_follow(settings, row, kind)
    await emit(
        session,
        settings,
        row.followed,
        body,
        to_followers=False,
        recipients=[row.follower],
        public=False,
    )


async def accept(session: AsyncSession, settings: Settings, row: Follow) -> None:
    """Accept a pending follow (an accepted one stays so: its Accept is sent again)."""
    if row.state != "accepted":
        transition(row, "accepted")
    await session.flush()
    if not row.follower.local:
        await _answer(session, settings, row, "Accept")


async def reject(session: AsyncSession, settings: Settings, row: Follow) -> None:
    """Refuse a pending or accepted follow (a refused one stays so: its Reject is sent
    again)."""
    if row.state != "rejected":
        transition(row, "rejected")
    await session.flush()
    if not row.follower.local:
        await _answer(session, settings, row, "Reject")


async def unfollow(session: AsyncSession, settings: Settings, row: Follow) -> None:
    if not row.followed.local and row.activity_uri:
        body = undo_follow(settings, row)
        await emit(
            session,
            settings,
            row.follower,
            body,
            to_followers=False,
            recipients=[row.followed],
            public=False,
        )
    await session.delete(row)
    await session.flush()


async def remove_follower(session: AsyncSession, settings: Settings, row: Follow) -> None:
    if not row.follower.local and row.activity_uri:
        await _answer(session, settings, row, "Reject")
    await session.delete(row)
    await session.flush()
