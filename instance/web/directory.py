"""``/structures``: the directory of structures, this territory's and its neighbours'.

The same list as ``GET /api/v1/structures`` (``instance.services.directory``),
searchable by name and filtered by kind, commune, territory and the category of
their open listings, paged by name, with the page's placed structures on a map
(the search page's ``map.js``; the list is the page without JavaScript).
Each links to its page here: ``/@handle`` or, for another server's, ``/@handle@host``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import render_template, request

from domain.categories import CATEGORY_IDS
from domain.models import STRUCTURE_KINDS
from domain.people import structures_of
from instance.node import current_node
from instance.search import decode_cursor, encode_cursor
from instance.services.directory import Entry, list_structures, territory_names
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer

PAGE = 30


@blueprint.get("/structures")
async def directory_page() -> str:
    node = current_node()
    args = request.args
    fields = ("q", "kind", "commune", "origin", "category")
    values = {k: args.get(k, "").strip()[:200] for k in fields}
    if values["kind"] not in STRUCTURE_KINDS:
        values["kind"] = ""
    if values["category"] not in CATEGORY_IDS:
        values["category"] = ""
    after = None
    cursor = decode_cursor(args.get("cursor", "")) if args.get("cursor") else None
    if cursor and isinstance(cursor.get("name"), str) and isinstance(cursor.get("id"), int):
        after = (cursor["name"], cursor["id"])
    own = node.settings.instance.domain.lower()
    async with node.db.read() as session:
        person = await load_viewer(session)
        mine = {s.handle for s in await structures_of(session, person)} if person else set()
        entries, following = await list_structures(
            session,
            own,
            q=values["q"] or None,
            kind=values["kind"] or None,
            commune=values["commune"] or None,
            origin=values["origin"].lower() or None,
            category=values["category"] or None,
            limit=PAGE,
            after=after,
        )
        names = await territory_names(session)
    next_url = None
    if following:
        more = {k: v for k, v in values.items() if v}
        more["cursor"] = encode_cursor({"name": following[0], "id": following[1]})
        next_url = "/structures?" + urlencode(more)
    return await render_template(
        "directory.html",
        entries=entries,
        values=values,
        errors={},
        territories=names,
        own_domain=own,
        next_url=next_url,
        points=_map_points(entries, own, names),
        mine=mine,
    )


def _map_points(entries: list[Entry], own: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """The placed structures of the page, for the map (``static/map.js``)."""
    return [
        {
            "lat": e.lat,
            "lon": e.lon,
            "local": e.origin == own,
            "url": e.url,
            "title": e.name,
            "origin": names.get(e.origin, e.origin),
        }
        for e in entries
        if e.lat is not None and e.lon is not None
    ]
