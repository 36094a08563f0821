"""``/data``: the « Open data » page, what a reuser reads before downloading.

The datasets themselves are served by ``instance/opendata.py`` (CSV and GeoJSON,
streamed, and the DCAT-AP catalogue). This page says what each holds and never
holds, how to fetch only what changed (``since=``) and under which licence (the
setting ``opendata.licence``). ``/data/listings`` and ``/data/structures`` — the
datasets' identifiers in the catalogue — lead here, to the dataset's section.
"""

from __future__ import annotations

from quart import Response, redirect, render_template

from instance.node import current_node
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer


@blueprint.get("/data")
async def opendata_page() -> str:
    node = current_node()
    async with node.db.read() as session:
        await load_viewer(session)
    settings = node.settings
    return await render_template(
        "opendata.html",
        base_url=settings.base_url,
        licence=settings.opendata.licence,
        licence_url=settings.opendata.licence_url,
    )


@blueprint.get("/data/<any(listings, structures):dataset>")
async def dataset_page(dataset: str) -> Response:
    """A dataset's identifier in the catalogue: its section of the page."""
    return redirect(f"/data#{dataset}", 303)  # type: ignore[return-value]
