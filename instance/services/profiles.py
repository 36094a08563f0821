"""A structure's profile, edited by its own people: fields, logo, submitting it again.

* :func:`editable_structure` — the structure ``handle`` if the person is one of its
  people (404 unknown, 403 anyone else: no role stands in for membership, as in
  ``services.structures.acting_structure``; a suspended structure stays as the
  moderators left it).
* :func:`update_profile` — checks and applies the fields (``domain.profiles``) and the
  logo (``domain.logos``), places the commune, and once the structure is approved
  federates ``Update`` of its actor to its followers, in the same transaction.
* :func:`resubmit` — a rejected structure, corrected, goes back to the administrators
  (``rejected`` → ``pending``); they see what changed since the rejection.
* :func:`logo` — the stored logo of a structure, for whoever may see the structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain import structure_states
from domain.logos import reencode
from domain.models import Person, Structure, StructureLogo
from domain.notify import notify_roles
from domain.people import can_act_for
from domain.places import place_of
from domain.profiles import snapshot, validate_profile
from domain.validation import Collector, Invalid
from instance.errors import Forbidden, NotFound
from instance.node import Node
from instance.services.structures import structure_by_handle
from outbox import actors as actor_activities


async def editable_structure(session: AsyncSession, person: Person, handle: str) -> Structure:
    """The structure ``handle`` whose profile ``person`` may edit (404/403 otherwise)."""
    structure = await structure_by_handle(session, handle)
    if structure is None:
        raise NotFound("no such structure")
    if not can_act_for(person, structure):
        raise Forbidden("only the structure's own people may edit its profile")
    if structure.status == "suspended":
        raise Forbidden("this structure is suspended by the moderators")
    return structure


async def update_profile(
    session: AsyncSession,
    node: Node,
    person: Person,
    structure: Structure,
    data: Mapping[str, Any],
    *,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> bool:
    """Apply the profile fields present in ``data`` (and a new logo); whether anything
    changed. Raises ``Invalid`` (every field's problem at once) before changing anything."""
    if not can_act_for(person, structure) or structure.status == "suspended":
        raise Forbidden("only the structure's own people may edit its profile")
    c = Collector()
    values = validate_profile(data, c)
    new_logo = None
    if logo is not None:
        try:
            new_logo = reencode(logo)
        except Invalid as exc:  # reported with the other fields' errors
            c.errors.update(exc.errors)
    c.raise_if_any()
    before = snapshot(structure)
    commune_changed = "commune" in values and values["commune"] != structure.commune
    for name, value in values.items():
        setattr(structure, name, value)
    if "lat" in values or commune_changed:
        lat, lon = values.get("lat"), values.get("lon")
        structure.lat, structure.lon, structure.placed = await place_of(
            session, structure.commune, lat, lon
        )
    if new_logo is not None:
        stored = await session.get(StructureLogo, structure.id)
        if stored is None:
            stored = StructureLogo(structure_id=structure.id)
            session.add(stored)
        stored.content_type, stored.data = new_logo.content_type, new_logo.data
        stored.updated_at = structure.logo_updated_at = utcnow()
        structure.logo_type = new_logo.content_type
    elif remove_logo and structure.logo_updated_at is not None:
        stored = await session.get(StructureLogo, structure.id)
        if stored is not None:
            await session.delete(stored)
        structure.logo_updated_at, structure.logo_type = None, ""
    if snapshot(structure) == before:
        return False
    await session.flush()
    actor = structure.actor
    if structure.is_visible and actor is not None:
        actor.name, actor.summary = structure.name, structure.description
        await session.flush()
        await actor_activities.updated(session, node.settings, actor, structure)
    return True


async def resubmit(session: AsyncSession, person: Person, structure: Structure) -> None:
    """Its people send a rejected structure, corrected, to the administrators again."""
    if not can_act_for(person, structure):
        raise Forbidden("only the structure's own people may submit it again")
    structure_states.transition(structure, "pending")
    if not structure.rejected_profile:  # rejected before profiles were kept
        structure.rejected_profile = {"reason": structure.rejection_reason}
    await notify_roles(
        session,
        ("admin",),
        "structure_pending",
        {"name": structure.name, "handle": structure.handle, "again": True},
        "/admin/structures",
    )


async def logo(session: AsyncSession, handle: str, viewer: Person | None) -> StructureLogo | None:
    """The logo of structure ``handle``, if it has one and ``viewer`` may see the structure
    (everyone once it is approved; before, its people and the administrators)."""
    structure = await structure_by_handle(session, handle)
    if structure is None or structure.logo_updated_at is None:
        return None
    if not structure.is_visible and not (
        viewer is not None and (viewer.is_admin or can_act_for(viewer, structure))
    ):
        return None
    return await session.get(StructureLogo, structure.id)
