"""Structures: finding one, acting for one, and the administrators' approval of new ones.

* :func:`structure_by_handle` / :func:`structure_by_id` — a structure or None.
* :func:`acting_structure` — the approved structure a person acts for, by handle
  (403/422 otherwise): every use case that speaks in a structure's name starts here.
* :func:`person_actor_ids` — the actors of the approved structures a person acts for.
* :func:`approval_queue`, :func:`approve`, :func:`reject` — no anonymous free riders:
  a structure is invisible and cannot publish until an administrator approves it; a
  rejection needs a reason, which its people are told.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import approve_structure, reject_structure
from config.database import utcnow
from domain.models import Membership, Person, Structure
from domain.notify import notify_structure
from domain.people import can_act_for
from domain.profiles import snapshot
from domain.social import Notification
from domain.validation import FieldError, Invalid
from instance.errors import ApiError
from instance.node import Node

RECENT_DECISIONS = 20


async def structure_by_handle(session: AsyncSession, handle: str) -> Structure | None:
    result = await session.execute(select(Structure).where(Structure.handle == handle))
    return result.scalar_one_or_none()


async def structure_by_id(session: AsyncSession, structure_id: int) -> Structure | None:
    return await session.get(Structure, structure_id)


async def structure_of_actor(session: AsyncSession, actor_id: int) -> Structure | None:
    """The local structure whose actor this is (None for a territory or a remote actor)."""
    result = await session.execute(select(Structure).where(Structure.actor_id == actor_id))
    return result.scalar_one_or_none()


async def acting_structure(session: AsyncSession, person: Person, handle: Any) -> Structure:
    """The approved structure ``handle`` that ``person`` acts for (403/422 otherwise).

    Acting for a structure — reading its messages, timeline and follows, writing,
    following, reporting or posting in its name — needs membership of it. No role
    stands in for it: moderators and administrators act through the moderation
    endpoints, never as a structure they are not a member of.
    """
    if not isinstance(handle, str) or not handle:
        raise ApiError(422, "some fields are invalid", fields={"actor": "is required"})
    structure = await structure_by_handle(session, handle)
    if structure is None:
        raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
    if not can_act_for(person, structure):
        raise ApiError(403, "you do not act for this structure")
    if structure.status == "suspended":
        raise ApiError(403, "this structure is suspended by the moderators")
    if not structure.is_visible or structure.actor is None:
        raise ApiError(403, "this structure is awaiting approval by an administrator")
    if structure.actor.moved_to:
        raise ApiError(403, f"this structure has moved to {structure.actor.moved_to}")
    return structure


def person_actors_query(person: Person) -> Select[int | None]:
    """The ids of the actors of the approved structures ``person`` acts for, as a query
    (a subquery of the header's unread counts)."""
    return (
        select(Structure.actor_id)
        .join(Membership, Membership.structure_id == Structure.id)
        .where(
            Membership.person_id == person.id,
            Structure.is_visible,
            Structure.actor_id.is_not(None),
        )
    )


async def person_actor_ids(session: AsyncSession, person: Person) -> list[int]:
    """The actors of the approved structures ``person`` acts for."""
    rows = await session.execute(person_actors_query(person))
    return [actor_id for (actor_id,) in rows.all() if actor_id is not None]


async def is_member(session: AsyncSession, person: Person, structure_id: int) -> bool:
    """Whether ``person`` is a member of the structure (whatever its status)."""
    found = await session.scalar(
        select(Membership.person_id).where(
            Membership.structure_id == structure_id, Membership.person_id == person.id
        )
    )
    return found is not None


# --- approval ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalQueue:
    """What the approval page shows: structures waiting, oldest first, and the
    latest decisions, newest first."""

    pending: list[Structure]
    decided: list[Structure]


async def approval_queue(session: AsyncSession, recent: int = RECENT_DECISIONS) -> ApprovalQueue:
    pending = await session.execute(
        select(Structure).where(Structure.status == "pending").order_by(Structure.created_at)
    )
    decided = await session.execute(
        select(Structure)
        .where(Structure.status.in_(("approved", "rejected")), Structure.decided_at.is_not(None))
        .order_by(Structure.decided_at.desc())
        .limit(recent)
    )
    return ApprovalQueue(list(pending.scalars().unique()), list(decided.scalars().unique()))


async def approve(
    session: AsyncSession, node: Node, admin: Person | None, structure: Structure
) -> None:
    """An administrator approves a structure: it gets its actor and becomes visible."""
    await approve_structure(session, node.settings, structure, admin)
    structure.rejected_profile = None
    await _decided(session, structure, "structure_approved", f"/@{structure.handle}")


async def reject(session: AsyncSession, admin: Person, structure: Structure, reason: str) -> None:
    """An administrator rejects a structure, with a reason its people are told."""
    if not reason.strip():
        raise Invalid({"reason": FieldError("is required")})
    reject_structure(structure, admin, reason)
    # What the administrators will compare with, once its people submit it again.
    structure.rejected_profile = {**snapshot(structure), "reason": structure.rejection_reason}
    await _decided(session, structure, "structure_rejected", f"/@{structure.handle}/profile")


async def _decided(session: AsyncSession, structure: Structure, kind: str, url: str) -> None:
    """Tell the structure's people, and mark every administrator's « awaiting approval »
    notification of it handled (read, and what was decided), whoever decided."""
    data = {"name": structure.name, "handle": structure.handle}
    if kind == "structure_rejected":
        data["reason"] = structure.rejection_reason
    await notify_structure(session, structure.id, kind, data, url)
    waiting = await session.execute(
        select(Notification).where(
            Notification.kind == "structure_pending",
            Notification.created_at >= structure.created_at,
        )
    )
    now = utcnow()
    for notification in waiting.scalars():
        told = notification.data or {}
        if told.get("handle") != structure.handle or told.get("decided"):
            continue
        notification.data = {**told, "decided": structure.status}
        if notification.read_at is None:
            notification.read_at = now
