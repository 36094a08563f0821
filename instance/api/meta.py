"""``/api/v1/instance`` and ``/api/v1/categories``: what this node is."""

from __future__ import annotations

from typing import Any

from quart_schema import document_response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from domain.categories import CATEGORIES
from domain.models import Listing, Structure
from federation.models import Actor, Follow
from instance.api import blueprint
from instance.api.schemas import CategoryOut, InstanceOut
from instance.node import SOFTWARE, VERSION, current_node


async def counts(session: AsyncSession) -> dict[str, int]:
    """Figures an elected official can read: structures, listings, peers."""
    structures = await session.scalar(
        select(func.count()).select_from(Structure).where(Structure.is_visible)
    )
    # Two counts rather than one GROUP BY: each is answered from an index of its own
    # rows (migration 0011), which both databases count several times faster.
    by_origin: dict[bool, int] = {}
    for local in (True, False):
        by_origin[local] = int(
            await session.scalar(
                select(func.count()).where(
                    Listing.status == "open", Listing.hidden.is_(False), Listing.local.is_(local)
                )
            )
            or 0
        )
    territory = await territory_actor(session)
    peer_ids = select(Actor.id).where(Actor.is_territory.is_(True), Actor.local.is_(False))
    peers = await session.scalar(
        select(func.count(func.distinct(Follow.followed_id))).where(
            Follow.follower_id == territory.id,
            Follow.state == "accepted",
            Follow.followed_id.in_(peer_ids),
        )
    )
    return {
        "structures": int(structures or 0),
        "listings": sum(by_origin.values()),
        "local_listings": by_origin.get(True, 0),
        "remote_listings": by_origin.get(False, 0),
        "peers": int(peers or 0),
    }


@blueprint.get("/instance")
@document_response(InstanceOut)
async def instance_info() -> dict[str, Any]:
    """Name, domain, territory actor, software version and counts. No token needed."""
    node = current_node()
    settings = node.settings
    async with node.db.session() as session:
        territory = await territory_actor(session)
        figures = await counts(session)
    return {
        "name": settings.instance.name,
        "domain": settings.instance.domain,
        "territory": territory.uri,
        "software": SOFTWARE,
        "version": VERSION,
        "description": settings.instance.description,
        "federation": settings.federation.mode,
        "counts": figures,
    }


@blueprint.get("/categories")
@document_response(list[CategoryOut])
async def categories() -> list[dict[str, str]]:
    """The taxonomy of listing categories."""
    return [{"id": c.id, "label_fr": c.label_fr, "label_en": c.label_en} for c in CATEGORIES]
