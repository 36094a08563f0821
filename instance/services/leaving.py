"""Leaving for good: a person deletes their account, an owner deletes their structure, an
administrator does either on request (GDPR, ``entraide user delete`` / ``structure delete``).

* :func:`delete_structure` — a ``Delete`` of its actor goes to its followers and the peered
  territories (which drop its listings, as for any deleted actor); its listings, messages,
  posts, follows and past activities are deleted here, their ids answer 410 (tombstones);
  the structure row goes with its memberships, notifications and saved searches.
  Its listings stay as emptied, withdrawn rows (their id is their ActivityPub id).
  Kept: the actor's id, handle and keys (to sign the ``Delete`` and answer 410; the handle
  is never given to another structure), exchanges (the other party's record, without
  the deleted side's name), reports about it and the audit log (moderation).
* :func:`delete_person` — the person row goes, and with it e-mail, password hash, display
  name, sessions, API tokens, memberships and notifications; structures left without any
  member are deleted as above. Reports they filed and the audit log stay, no longer
  naming them. The last administrator cannot leave (someone must run the node).

The README ("Leaving") says what is kept and for how long.
"""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from config.database import utcnow
from config.settings import Settings
from domain import listing_states
from domain.matches import prune_closed
from domain.models import Listing, Membership, Person, Structure
from domain.people import authenticate, find_person
from domain.social import CommunityMember, Message, Participant, Post
from federation.audience import follower_actors
from federation.models import Activity, Follow, Tombstone
from instance.api_errors import ApiError
from instance.services.moderation import audit
from instance.services.structures import structure_by_handle
from outbox.publish import emit
from outbox.to_ap.actors import delete_actor


async def delete_structure(
    session: AsyncSession,
    settings: Settings,
    structure: Structure,
    by: Person | None,
    reason: str = "",
) -> None:
    """Delete ``structure`` for good (see the module doc for what is kept)."""
    actor = structure.actor
    handle = structure.handle
    if actor is not None and actor.deleted_at is None:
        now = utcnow()
        gone = await session.execute(
            select(Listing.ap_id).where(Listing.author_id == actor.id)
            .union(select(Post.ap_id).where(Post.author_id == actor.id))
        )  # fmt: skip
        for (ap_id,) in gone.all():
            if await session.get(Tombstone, ap_id) is None:
                session.add(Tombstone(uri=ap_id, actor_uri=actor.uri, deleted_at=now))
        if await session.get(Tombstone, actor.uri) is None:
            session.add(Tombstone(uri=actor.uri, actor_uri=actor.uri, deleted_at=now))
        peers = await follower_actors(session, (await territory_actor(session)).id)
        sent = await emit(session, settings, actor, delete_actor(settings, actor), recipients=peers)
        # What it published and wrote goes (the Delete stays until delivered).
        await session.execute(
            delete(Activity).where(Activity.actor_id == actor.id, Activity.id != sent.id)
        )
        await _scrub_listings(session, actor.id)
        await session.execute(delete(Message).where(Message.author_id == actor.id))
        await session.execute(delete(Post).where(Post.author_id == actor.id))
        await session.execute(delete(Participant).where(Participant.actor_id == actor.id))
        await session.execute(delete(CommunityMember).where(CommunityMember.actor_id == actor.id))
        await session.execute(
            delete(Follow).where(
                or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id)
            )
        )
        actor.deleted_at = now
        actor.name = ""
        actor.summary = ""
        actor.url = None
        actor.also_known_as = None
    audit(session, by, "structure.delete", actor.uri if actor else handle, reason)
    await session.delete(structure)
    await session.flush()


async def _scrub_listings(session: AsyncSession, actor_id: int) -> None:
    """Its listings are withdrawn and emptied, not deleted: the row keeps its id, which is
    its ActivityPub id (SQLite would give a deleted last id to the next listing), and
    answers 410 with the tombstone."""
    rows = await session.execute(select(Listing).where(Listing.author_id == actor_id))
    for listing in rows.scalars().unique():
        if listing.status != "withdrawn":
            listing_states.transition(listing, "withdrawn")
        listing.structure = None
        listing.hidden = True
        listing.title = listing.description = listing.commune = listing.unit = ""
        listing.quantity = listing.price_amount = listing.lat = listing.lon = None
        listing.radius_km = listing.available_from = listing.available_until = None
        listing.extra = None
    await prune_closed(session)


async def admins_left(session: AsyncSession, leaving: Person) -> int:
    count = await session.scalar(
        select(func.count(Person.id)).where(Person.role == "admin", Person.id != leaving.id)
    )
    return int(count or 0)


async def structures_alone(session: AsyncSession, person: Person) -> list[Structure]:
    """The structures ``person`` is the only member of (deleted with their account)."""
    mine = select(Membership.structure_id).where(Membership.person_id == person.id)
    others = select(Membership.structure_id).where(Membership.person_id != person.id)
    rows = await session.execute(
        select(Structure).where(Structure.id.in_(mine), Structure.id.not_in(others))
    )
    return list(rows.scalars().unique())


async def delete_person(
    session: AsyncSession, settings: Settings, person: Person, by: Person | None
) -> list[str]:
    """Delete ``person`` and the structures only they were a member of; returns the handles
    of those structures."""
    if person.is_admin and not await admins_left(session, person):
        raise ApiError(409, "the last administrator cannot be deleted")
    alone = await structures_alone(session, person)
    for structure in alone:
        await delete_structure(session, settings, structure, by, "its last member left")
    if alone:
        await session.refresh(person, ["memberships"])
    audit(session, by, "person.delete", f"person {person.id}")
    await session.delete(person)
    await session.flush()
    return [s.handle for s in alone]


async def _confirm(session: AsyncSession, person: Person, password: str) -> None:
    """Deleting asks for the password again (a session left open is not enough)."""
    if not password or await authenticate(session, person.email, password) is None:
        raise ApiError(403, "the password is not right")


async def leave(
    session: AsyncSession, settings: Settings, person: Person, password: str
) -> list[str]:
    """A person deletes their own account."""
    await _confirm(session, person, password)
    return await delete_person(session, settings, person, None)


async def structure_to_delete(session: AsyncSession, person: Person, handle: str) -> Structure:
    """The structure ``handle``, which ``person`` may delete: its owner, or an administrator
    acting on a request (404/403 otherwise)."""
    structure = await structure_by_handle(session, handle)
    if structure is None:
        raise ApiError(404, "no such structure")
    owner = any(m.person_id == person.id and m.role == "owner" for m in structure.memberships)
    if not (owner or person.is_admin):
        raise ApiError(403, "only the structure's owner or an administrator deletes it")
    return structure


async def owner_deletes(
    session: AsyncSession, settings: Settings, person: Person, handle: str, password: str
) -> None:
    """The owner (or an administrator) deletes the structure ``handle``."""
    structure = await structure_to_delete(session, person, handle)
    await _confirm(session, person, password)
    await delete_structure(session, settings, structure, person)


async def admin_deletes_person(
    session: AsyncSession, settings: Settings, admin: Person, email: str, password: str
) -> list[str]:
    """An administrator deletes someone's account on their request (GDPR)."""
    if not admin.is_admin:
        raise ApiError(403, "only administrators delete another person's account")
    await _confirm(session, admin, password)
    person = await find_person(session, email.strip())
    if person is None:
        raise ApiError(404, "unknown person")
    return await delete_person(session, settings, person, admin)
