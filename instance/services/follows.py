"""A structure's followers: the requests it answers by hand and those it accepted.

With ``federation.auto_accept_follows = false`` a structure's actor says
``manuallyApprovesFollowers`` and a Follow of it waits, ``pending``, until a
person who acts for the structure answers — on the page
``/@HANDLE/followers`` or through ``/api/v1/structures/HANDLE/followers``.
Both go through here:

* :func:`managed_structure` — the approved structure that the person acts for
  (:class:`~instance.errors.NotFound` or
  :class:`~instance.errors.Forbidden` otherwise).
* :func:`followers_of` / :func:`counts` — its follows, newest first, by state.
* :func:`answer` — ``accept`` queues a signed ``Accept(Follow)`` for the
  follower's inbox (the durable delivery queue, as for any follow accepted at
  once); ``reject`` queues a ``Reject(Follow)`` and deletes the row, so that
  the follower may ask again later. Rejecting an accepted follower removes it,
  which is how Mastodon removes a follower. From then on only accepted
  followers receive the structure's activities (``federation.audience``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.models import Person, Structure
from domain.notify import notify_follow
from domain.people import can_act_for
from federation.models import Actor, Follow
from instance.errors import ApiError, Forbidden, NotFound
from instance.services.structures import structure_by_handle
from outbox.follows import accept, follow, remove_follower, unfollow

Answer = Literal["accept", "reject"]
State = Literal["pending", "accepted"]
STATES: tuple[State, ...] = ("pending", "accepted")


@dataclass(frozen=True)
class Follower:
    """One follow of a structure as pages and the API show it (detached from the session)."""

    id: int
    actor: str
    handle: str
    domain: str
    name: str
    url: str  # the profile page (an http(s) URL only), else the actor's id
    local: bool
    state: str
    since: datetime

    @classmethod
    def of(cls, row: Follow, state: str | None = None) -> Follower:
        actor = row.follower
        page = actor.url or ""
        return cls(
            id=row.id,
            actor=actor.uri,
            handle=actor.handle,
            domain=actor.domain,
            name=actor.name or actor.handle,
            url=page if page.startswith(("https://", "http://")) else actor.uri,
            local=actor.local,
            state=state or row.state,
            since=row.created_at,
        )


async def managed_structure(session: AsyncSession, person: Person, handle: str) -> Structure:
    """The approved structure ``handle`` whose followers ``person`` may answer."""
    structure = await structure_by_handle(session, handle)
    if structure is None or not structure.is_visible or structure.actor is None:
        raise NotFound("no such structure")
    if not can_act_for(person, structure):
        raise Forbidden("only the people who act for this structure answer its followers")
    return structure


def _actor_id(structure: Structure) -> int:
    assert structure.actor_id is not None
    return structure.actor_id


async def followers_of(
    session: AsyncSession,
    structure: Structure,
    state: State | None = None,
    *,
    limit: int = 100,
    before: int | None = None,
) -> list[Follower]:
    """Follows of the structure (``state`` alone, else both), newest first, ids below ``before``."""
    stmt = select(Follow).where(Follow.followed_id == _actor_id(structure))
    stmt = stmt.where(Follow.state == state) if state else stmt.where(Follow.state.in_(STATES))
    if before is not None:
        stmt = stmt.where(Follow.id < before)
    rows = await session.execute(stmt.order_by(Follow.id.desc()).limit(limit))
    return [Follower.of(row) for row in rows.scalars()]


async def counts(session: AsyncSession, structure: Structure) -> dict[str, int]:
    """How many follows of the structure are pending and accepted."""
    rows = await session.execute(
        select(Follow.state, func.count(Follow.id))
        .where(Follow.followed_id == _actor_id(structure), Follow.state.in_(STATES))
        .group_by(Follow.state)
    )
    found = {state: int(count) for state, count in rows.all()}
    return {state: found.get(state, 0) for state in STATES}


async def pending_count(session: AsyncSession, actor_id: int) -> int:
    """How many follow requests of a local actor wait for an answer."""
    count = await session.scalar(
        select(func.count(Follow.id)).where(
            Follow.followed_id == actor_id, Follow.state == "pending"
        )
    )
    return int(count or 0)


async def answer(
    session: AsyncSession, settings: Settings, structure: Structure, follow_id: int, how: Answer
) -> Follower:
    """Accept or reject the follow ``follow_id`` of ``structure``; returns it as it ends.

    A rejected follow is deleted (and returned with ``state`` ``rejected``);
    accepting an accepted follower changes nothing.
    """
    row = await session.get(Follow, follow_id)
    if row is None or row.followed_id != structure.actor_id or row.state not in STATES:
        raise NotFound("this structure has no such follower or follow request")
    if how == "accept":
        if row.state != "accepted":
            await accept(session, settings, row)
            if row.follower.local:
                await _tell_local_follower(session, row)
        return Follower.of(row)
    ended = Follower.of(row, "rejected")
    await remove_follower(session, settings, row)
    return ended


async def _tell_local_follower(session: AsyncSession, row: Follow) -> None:
    """A structure of this node learns that its follow is accepted (a remote one learns it
    from the ``Accept``, see ``inbox.handlers.accept``)."""
    await notify_follow(session, row.follower_id, "follow_accepted", row.followed)


# --- what local structures follow ---------------------------------------------------------


async def follow_by_id(session: AsyncSession, follow_id: int) -> Follow | None:
    return await session.get(Follow, follow_id)


async def start_following(
    session: AsyncSession, settings: Settings, structure: Structure, target: Actor
) -> Follow:
    """``structure`` follows ``target`` (as resolved, possibly detached); 422 on itself
    or on a local actor that is gone or suspended."""
    assert structure.actor is not None
    if target.uri == structure.actor.uri:
        raise ApiError(422, "some fields are invalid", fields={"target": "is yourself"})
    if target.local:
        # A local actor named by its URL: read as it is now, and a suspended structure
        # is not there to follow (as it is not by its name).
        local = await session.get(Actor, target.id)
        if local is None or local.suspended_at is not None:
            raise ApiError(422, "some fields are invalid", fields={"target": "unknown actor"})
    followed = await session.merge(target)
    return await follow(session, settings, structure.actor, followed)


async def stop_following(
    session: AsyncSession, settings: Settings, structure: Structure, target: str
) -> None:
    """``structure`` stops following the actor ``target`` (its id); 404 if it did not."""
    assert structure.actor is not None
    row = (
        await session.execute(
            select(Follow)
            .join(Actor, Follow.followed_id == Actor.id)
            .where(Follow.follower_id == structure.actor.id, Actor.uri == target)
        )
    ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "this structure does not follow that actor")
    await unfollow(session, settings, row)


async def follows_of(session: AsyncSession, actor_ids: list[int]) -> list[Follow]:
    """What these actors follow, newest first."""
    if not actor_ids:
        return []
    rows = await session.execute(
        select(Follow).where(Follow.follower_id.in_(actor_ids)).order_by(Follow.id.desc())
    )
    return list(rows.scalars().unique())


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
    """How many actors follow this one (accepted follows)."""
    count = await session.scalar(
        select(func.count(Follow.id)).where(
            Follow.followed_id == actor_id, Follow.state == "accepted"
        )
    )
    return int(count or 0)


async def territory_address(session: AsyncSession, domain: str) -> str:
    """What to follow for a whole territory: its actor when known, else Entraide's default."""
    uri = await session.scalar(
        select(Actor.uri).where(
            Actor.domain == domain.lower(), Actor.is_territory.is_(True), Actor.local.is_(False)
        )
    )
    return uri or f"acct:territory@{domain}"
