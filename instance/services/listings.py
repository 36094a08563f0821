"""Use cases of listings, shared by the JSON API, the web pages and the command line.

Each function takes an open session (one transaction) and the node, checks
who may do what, changes the domain tables, and asks ``outbox`` for the
activities that federate the change — in the same transaction, so a change
and its delivery rows are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain import listing_states
from domain.listings import apply_listing, compute_expiry, location_given, validate_listing
from domain.matches import Match, queue_matching
from domain.models import Listing, Person, Structure
from domain.people import can_act_for
from domain.places import place_of
from domain.validation import FieldError, Invalid
from instance.errors import ApiError, Forbidden
from instance.errors import NotFound as NotFound  # its home is instance.errors; kept importable
from instance.node import Node
from instance.services.structures import structure_by_handle
from outbox import listings as listing_activities


def may_edit_listing(person: Person, listing: Listing) -> bool:
    """Whether ``person`` may edit or withdraw ``listing`` now.

    Its structure's members may, and moderators too (docs/interface.md: to fix or remove
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
    if structure.actor.moved_to:
        raise Forbidden(f"this structure has moved to {structure.actor.moved_to}")
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
    if listing.author.moved_to and fields.status != "withdrawn":
        # A structure that moved publishes from its new node; here it may only withdraw.
        raise Forbidden(f"this structure has moved to {listing.author.moved_to}")
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


async def listing_by_id(session: AsyncSession, listing_id: int) -> Listing | None:
    return await session.get(Listing, listing_id)


# --- « Mes annonces »: a structure's own listings, and what its people do with them ----

MINE_SHOWN = 200


@dataclass(frozen=True)
class OwnListing:
    """One of a structure's listings, with how many matches it has."""

    listing: Listing
    matches: int


async def structure_listings(
    session: AsyncSession, structure: Structure, limit: int = MINE_SHOWN
) -> list[OwnListing]:
    """The structure's listings, whatever their status, newest first, with their matches."""
    rows = await session.execute(
        select(Listing)
        .where(Listing.structure_id == structure.id, Listing.local.is_(True))
        .order_by(Listing.published_at.desc(), Listing.id.desc())
        .limit(limit)
    )
    listings = list(rows.scalars().unique())
    ids = [listing.id for listing in listings]
    counts: dict[int, int] = {}
    if ids:
        for column in (Match.need_id, Match.offer_id):
            found = await session.execute(
                select(column, func.count()).where(column.in_(ids)).group_by(column)
            )
            for listing_id, count in found.all():
                counts[listing_id] = counts.get(listing_id, 0) + int(count)
    return [OwnListing(listing, counts.get(listing.id, 0)) for listing in listings]


def _check_changeable(person: Person, listing: Listing) -> None:
    _check_structure_open(listing)
    if not may_edit_listing(person, listing):
        raise Forbidden("only the structure's members or a moderator may change this listing")
    if listing.status == "withdrawn":
        raise ApiError(409, "this listing was withdrawn and can no longer change")


async def _changed(session: AsyncSession, node: Node, listing: Listing) -> None:
    listing.updated_at = utcnow()
    await session.flush()
    await listing_activities.updated(session, node.settings, listing)
    await queue_matching(session, listing.id)


async def renew_listing(
    session: AsyncSession, node: Node, person: Person, listing: Listing
) -> Listing:
    """Available for another lifetime (``listings.default_lifetime_days``) from today: an
    expired or fulfilled listing opens again. Federates an Update."""
    _check_changeable(person, listing)
    now = utcnow()
    # The new end of availability is written down, so that a later edit (which
    # recomputes the expiry from it, ``domain.listings.compute_expiry``) keeps it.
    listing.available_until = (
        now + timedelta(days=node.settings.listings.default_lifetime_days)
    ).date()
    listing.expires_at = compute_expiry(listing.available_until, now, 0)
    if listing.status != "open":
        listing_states.transition(listing, "open")
    await _changed(session, node, listing)
    return listing


async def close_listing(
    session: AsyncSession, node: Node, person: Person, listing: Listing
) -> Listing:
    """Closed as fulfilled (it can be opened again by renewing it). Federates an Update."""
    _check_changeable(person, listing)
    if listing.status != "fulfilled":
        listing_states.transition(listing, "fulfilled")
        await _changed(session, node, listing)
    return listing


async def duplicable_listing(session: AsyncSession, person: Person, listing_id: int) -> Listing:
    """A listing of one of the person's structures, to copy into a new one (404 for any
    other: a person copies only what their structures published)."""
    listing = await session.get(Listing, listing_id)
    if (
        listing is None
        or not listing.local
        or listing.structure is None
        or not can_act_for(person, listing.structure)
    ):
        raise NotFound("no such listing")
    return listing
