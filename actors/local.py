"""Creating the node's own actors: the territory at init, a structure on approval.

A structure gets its ``Organization`` actor (and keys) only when an
administrator approves it: until then nothing about it is visible or
federated. The territory actor is an ``Application`` (the usual type of an
instance actor, shown as a bot by Mastodon) flagged ``is_territory``; it
announces every public listing and its follows to other territories are the
node's peerings.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.keys import make_keys
from actors.urls import Urls
from config.database import utcnow
from config.settings import Settings
from domain import structure_states
from domain.models import Person, Structure
from federation.models import Actor


def new_local_actor(
    settings: Settings, *, handle: str, type_: str, name: str, summary: str = ""
) -> Actor:
    """An unsaved local actor with its URLs and fresh keys."""
    urls = Urls(settings.base_url)
    uri = urls.actor(handle)
    actor = Actor(
        uri=uri,
        local=True,
        type=type_,
        handle=handle,
        domain=settings.instance.domain.lower(),
        name=name,
        summary=summary,
        url=urls.profile(handle),
        inbox_url=urls.inbox(handle),
        shared_inbox_url=urls.shared_inbox,
        outbox_url=urls.outbox(handle),
        followers_url=urls.followers(handle),
        following_url=urls.following(handle),
        manually_approves=False,
    )
    actor.keys.extend(make_keys(uri))
    return actor


def approves_followers_manually(actor: Actor, settings: Settings) -> bool:
    """Whether a Follow of the local ``actor`` waits for an answer (``pending``).

    A structure follows ``federation.auto_accept_follows`` as the node is set
    now, whenever it was approved, so that changing the setting applies to
    every structure; other actors keep their own flag (communities and the
    territory accept at once, peerings aside).
    """
    if actor.type == "Organization":
        return not settings.federation.auto_accept_follows
    return actor.manually_approves


async def create_territory_actor(session: AsyncSession, settings: Settings) -> Actor:
    """The territory actor of a new node."""
    actor = new_local_actor(
        settings,
        handle=settings.instance.handle,
        type_="Application",
        name=settings.instance.name,
        summary=settings.instance.description,
    )
    actor.is_territory = True
    session.add(actor)
    await session.flush()
    return actor


async def territory_actor(session: AsyncSession) -> Actor:
    """The node's territory actor (exists from ``init`` on)."""
    result = await session.execute(
        select(Actor).where(Actor.local.is_(True), Actor.is_territory.is_(True))
    )
    return result.scalar_one()


async def approve_structure(
    session: AsyncSession, settings: Settings, structure: Structure, by: Person | None
) -> Actor:
    """Approve a pending (or rejected) structure: it gets its actor and becomes visible.

    Any other status raises ``StateError`` (``domain.structure_states``), before anything
    changes."""
    structure_states.transition(structure, "approved")
    if structure.actor is None:
        actor = new_local_actor(
            settings,
            handle=structure.handle,
            type_="Organization",
            name=structure.name,
            summary=structure.description,
        )
        actor.manually_approves = not settings.federation.auto_accept_follows
        session.add(actor)
        await session.flush()
        structure.actor = actor
        structure.actor_id = actor.id
    structure.rejection_reason = ""
    structure.decided_at = utcnow()
    structure.decided_by_id = by.id if by else None
    await session.flush()
    return structure.actor


def reject_structure(structure: Structure, by: Person, reason: str) -> None:
    """Refuse a pending structure, with a reason its owner will read."""
    structure_states.transition(structure, "rejected")
    structure.rejection_reason = reason.strip()
    structure.decided_at = utcnow()
    structure.decided_by_id = by.id


async def create_community_actor(
    session: AsyncSession, settings: Settings, *, handle: str, name: str, summary: str = ""
) -> Actor:
    """The ``Group`` actor of a new community (FEP-1b12: it accepts follows itself)."""
    actor = new_local_actor(settings, handle=handle, type_="Group", name=name, summary=summary)
    session.add(actor)
    await session.flush()
    return actor
