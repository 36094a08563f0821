"""Key rotation of a local actor (a structure or the territory)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.models import Actor
from instance.errors import NotFound
from instance.node import Node
from instance.services.structures import structure_of_actor
from outbox import actors as actor_activities


async def rotate_keys(session: AsyncSession, node: Node, handle: str) -> None:
    """New keys for a local actor (structure or territory), announced by an Update."""
    actor = (
        await session.execute(select(Actor).where(Actor.local.is_(True), Actor.handle == handle))
    ).scalar_one_or_none()
    if actor is None:
        raise NotFound(f"no local actor {handle}")
    structure = await structure_of_actor(session, actor.id)
    await actor_activities.rotate(session, node.settings, actor, structure)
    node.forget_territory_key()  # the territory's fetch key may have changed
