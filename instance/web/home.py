"""The home page: the territory, its figures, and what it offers and needs, newest first."""

from __future__ import annotations

from quart import render_template

from instance.node import current_node
from instance.search import SearchQuery, search_listings
from instance.services.stats import instance_counts
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer

RECENT = 9


@blueprint.get("/")
async def home() -> str:
    node = current_node()
    async with node.db.read() as session:
        await load_viewer(session)
        figures = await instance_counts(session)
        page = await search_listings(session, node.db.dialect, SearchQuery(limit=RECENT))
    return await render_template(
        "home.html",
        listings=[hit.listing for hit in page.items],
        figures=figures,
        own_domain=node.settings.instance.domain.lower(),
    )
