"""Use cases shared by the JSON API, the web pages and the command line.

Each function takes an open session (one transaction) and the node, checks
who may do what, changes the domain tables, and asks ``outbox`` for the
activities that federate the change — in the same transaction, so a change
and its delivery rows are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import approve_structure, reject_structure
from config.database import utcnow
from domain import listing_states
from domain.listings import apply_listing, location_given, validate_listing
from domain.matches import queue_matching
from domain.models import Listing, Person, Structure
from domain.notify import notify_structure
from domain.people import can_act_for
from domain.places import place_of
from domain.social import Notification
from domain.validation import FieldError, Invalid
from instance.errors import ApiError
from instance.node import Node
from outbox import listings as listing_activities


class Forbidden(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


async def structure_by_handle(session: AsyncSession, handle: str) -> Structure | None:
    result = await session.execute(select(Structure).where(Structure.handle == handle))
    return result.scalar_one_or_none()


def may_edit_listing(person: Person, listing: Listing) -> bool:
    """Whether ``person`` may edit or withdraw ``listing`` now.

    Its structure's members may, and moderators too (INTERFACE.md: to fix or remove
    abuse) — the one place where a role acts on a structure's content, and only on a
    listing already published. Nobody changes the listings of a structure that is not
    approved (a suspended one stays as the moderators left it).
    """
    structure = listing.structure
    if not listing.local or structure is None or not structure.is_visible:
        return False
    return person.is_moderator or can_act_for(person, structure)


def _check_structure_open(listing: Listing) -> None:
    if listing.structure is not None and listing.structure.status == "suspended":
        raise Forbidden("this structure is suspended by the moderators: its listings cannot change")


async def _place(session: AsyncSession, listing: Listing) -> None:
    """Coordinates from the commune when none were given (``domain.places``)."""
    listing.lat, listing.lon, listing.placed = await place_of(
        session, listing.commune, listing.lat, listing.lon
    )


async def create_listing(
    session: AsyncSession, node: Node, person: Person, data: Mapping[str, Any]
) -> Listing:
    """Publish a new listing for the structure named in ``data["structure"]``."""
    handle = data.get("structure")
    structure = await structure_by_handle(session, handle) if isinstance(handle, str) else None
    if structure is None:
        errors: dict[str, FieldError] = {
            "structure": FieldError("unknown structure") if handle else FieldError("is required")
        }
        try:
            validate_listing(data)
        except Invalid as exc:
            errors.update(exc.errors)
        raise Invalid(errors)
    # Publishing speaks for the structure: its members only, whatever one's role.
    if not can_act_for(person, structure):
        raise Forbidden("you do not act for this structure")
    if structure.status == "suspended":
        raise Forbidden("this structure is suspended by the moderators")
    if not structure.is_visible or structure.actor is None:
        raise Forbidden("this structure is awaiting approval by an administrator")
    fields = validate_listing(data)
    now = utcnow()
    listing = Listing(
        ap_id=f"urn:entraide:pending:{node.urls.new_activity()}",
        local=True,
        origin=node.settings.instance.domain.lower(),
        structure=structure,
        author_id=structure.actor.id,
        published_at=now,
        unit="",
        price_currency="",
        commune="",
    )
    listing_states.transition(listing, "open")
    apply_listing(listing, fields, lifetime_days=node.settings.listings.default_lifetime_days)
    listing.updated_at = now
    if not listing.commune and structure.commune and listing.lat is None:
        listing.commune = structure.commune
        listing.lat, listing.lon, listing.placed = structure.lat, structure.lon, structure.placed
    else:
        await _place(session, listing)
    session.add(listing)
    await session.flush()
    listing.ap_id = listing.url = node.urls.listing(listing.id)
    await session.flush()
    await listing_activities.published(session, node.settings, listing)
    await queue_matching(session, listing.id)
    return listing


async def update_listing(
    session: AsyncSession, node: Node, person: Person, listing: Listing, data: Mapping[str, Any]
) -> Listing:
    """Edit a local listing; federates an Update (or a Delete when withdrawn)."""
    _check_structure_open(listing)
    if not may_edit_listing(person, listing):
        raise Forbidden("only the structure's members or a moderator may change this listing")
    if listing.status == "withdrawn":
        raise ApiError(409, "this listing was withdrawn and can no longer change")
    fields = validate_listing(data, partial=True, current=listing)
    if not fields.present():
        return listing  # nothing changed: nothing to federate
    apply_listing(listing, fields, lifetime_days=node.settings.listings.default_lifetime_days)
    if location_given(fields):
        await _place(session, listing)
    await session.flush()
    if fields.status == "withdrawn":
        await listing_activities.withdrawn(session, node.settings, listing)
    else:
        await listing_activities.updated(session, node.settings, listing)
    await queue_matching(session, listing.id)
    return listing


async def withdraw_listing(
    session: AsyncSession, node: Node, person: Person, listing: Listing
) -> Listing:
    """Withdraw a local listing; federates a Delete (tombstone)."""
    _check_structure_open(listing)
    if not may_edit_listing(person, listing):
        raise Forbidden("only the structure's members or a moderator may withdraw this listing")
    if listing.status != "withdrawn":
        listing_states.transition(listing, "withdrawn")
        listing.updated_at = utcnow()
        await session.flush()
        await listing_activities.withdrawn(session, node.settings, listing)
        await queue_matching(session, listing.id)
    return listing


async def approve(
    session: AsyncSession, node: Node, admin: Person | None, structure: Structure
) -> None:
    """An administrator approves a structure: it gets its actor and becomes visible."""
    await approve_structure(session, node.settings, structure, admin)
    await _decided(session, structure, "structure_approved", f"/@{structure.handle}")


async def reject(session: AsyncSession, admin: Person, structure: Structure, reason: str) -> None:
    """An administrator rejects a structure, with a reason its people are told."""
    if not reason.strip():
        raise Invalid({"reason": FieldError("is required")})
    reject_structure(structure, admin, reason)
    await _decided(session, structure, "structure_rejected", "/account")


async def _decided(session: AsyncSession, structure: Structure, kind: str, url: str) -> None:
    """Tell the structure's people, and mark every administrator's « awaiting approval »
    notification of it handled, whoever decided."""
    data = {"name": structure.name, "handle": structure.handle}
    if kind == "structure_rejected":
        data["reason"] = structure.rejection_reason
    await notify_structure(session, structure.id, kind, data, url)
    pending = await session.execute(
        select(Notification).where(
            Notification.kind == "structure_pending", Notification.read_at.is_(None)
        )
    )
    for notification in pending.scalars():
        if (notification.data or {}).get("handle") == structure.handle:
            notification.read_at = utcnow()


async def rotate_keys(session: AsyncSession, node: Node, handle: str) -> None:
    """New keys for a local actor (structure or territory), announced by an Update."""
    from federation.models import Actor
    from outbox import actors as actor_activities

    actor = (
        await session.execute(select(Actor).where(Actor.local.is_(True), Actor.handle == handle))
    ).scalar_one_or_none()
    if actor is None:
        raise NotFound(f"no local actor {handle}")
    structure = (
        await session.execute(select(Structure).where(Structure.actor_id == actor.id))
    ).scalar_one_or_none()
    await actor_activities.rotate(session, node.settings, actor, structure)
    node._signer = None  # the territory's fetch key may have changed
