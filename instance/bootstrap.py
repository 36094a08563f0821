"""What every new node starts with, beyond its territory actor.

Every node has a community « Gouvernance » for the territory's governance
discussions (PRODUCT.md): created at ``entraide init``, open to every
structure, animated by the administrators once they exist.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import create_community_actor
from config.settings import Settings
from domain.social import Community

GOVERNANCE_HANDLE = "gouvernance"


async def bootstrap_node(session: AsyncSession, settings: Settings) -> Community:
    actor = await create_community_actor(
        session,
        settings,
        handle=GOVERNANCE_HANDLE,
        name="Gouvernance",
        summary=f"Les échanges sur la gouvernance du territoire « {settings.instance.name} ».",
    )
    community = Community(
        actor_id=actor.id,
        handle=GOVERNANCE_HANDLE,
        name="Gouvernance",
        description=actor.summary,
        open=True,
    )
    community.actor = actor
    session.add(community)
    await session.flush()
    return community
