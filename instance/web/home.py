"""The home page: what the territory offers and needs, newest first."""

from __future__ import annotations

from quart import render_template

from instance.node import current_node
from instance.search import SearchQuery, search_listings
from instance.web import blueprint


@blueprint.get("/")
async def home() -> str:
    node = current_node()
    async with node.db.session() as session:
        page = await search_listings(session, node.db.dialect, SearchQuery(limit=12))
    return await render_template("home.html", listings=[hit.listing for hit in page.items])
