"""Federating changes of a local actor: profile edits and key rotation (``Update``), and its
move to another node (``Move``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from actors.keys import rotate_keys
from config.settings import Settings
from domain.models import Structure
from federation.models import Actor
from outbox.publish import emit
from outbox.to_ap.actors import move_actor, update_actor


async def updated(
    session: AsyncSession, settings: Settings, actor: Actor, structure: Structure | None = None
) -> None:
    """Send ``Update(actor)`` to the actor's followers so that they refetch it."""
    body = update_actor(settings, actor, structure)
    await emit(session, settings, actor, body)


async def rotate(
    session: AsyncSession, settings: Settings, actor: Actor, structure: Structure | None = None
) -> None:
    """Give a local actor new keys and tell its followers (FEP-521a keys too).

    The Update is signed with the *new* key: followers that still hold the old
    one fail to verify, refetch the actor (Mastodon does so on a failed
    signature) and find the new key there.
    """
    rotate_keys(actor)
    await session.flush()
    await updated(session, settings, actor, structure)


async def moved(
    session: AsyncSession, settings: Settings, actor: Actor, structure: Structure | None = None
) -> None:
    """Tell the followers that ``actor`` moved to ``actor.moved_to``: an ``Update`` (its
    document now carries ``movedTo``), then the ``Move`` itself (FEP-7628)."""
    assert actor.moved_to
    await updated(session, settings, actor, structure)
    await emit(session, settings, actor, move_actor(settings, actor, actor.moved_to))
