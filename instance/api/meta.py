"""``/api/v1/instance`` and ``/api/v1/categories``: what this node is."""

from __future__ import annotations

from typing import Any

from quart_schema import document_response

from actors.local import territory_actor
from domain.categories import CATEGORIES
from instance.api.blueprint import blueprint
from instance.api.schemas import CategoryOut, InstanceOut
from instance.node import SOFTWARE, VERSION, current_node
from instance.services.stats import instance_counts


@blueprint.get("/instance")
@document_response(InstanceOut)
async def instance_info() -> dict[str, Any]:
    """Name, domain, territory actor, software version and counts. No token needed."""
    node = current_node()
    settings = node.settings
    async with node.db.read() as session:
        territory = await territory_actor(session)
        figures = await instance_counts(session)
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
