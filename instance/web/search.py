"""The search page, ``/search``: the filters of the listings API, a list and a map.

The form speaks the reader's terms — a commune rather than coordinates —
and is translated into the query string that :func:`instance.search.parse_query`
reads, so the page and ``GET /api/v1/listings`` filter the same way. A
commune is placed at the mean position of what this node knows there
(structures and listings); latitude and longitude can be given instead.

The results are a plain list; the map is an extra drawn by
``static/map.js`` from the JSON embedded in the page when Leaflet loads.
"""

from __future__ import annotations

from typing import Any, TypedDict
from urllib.parse import urlencode

from quart import render_template, request

from domain.validation import Invalid
from instance.i18n import gettext as _
from instance.node import current_node
from instance.search import Page, SearchQuery, SearchTooExpensive, search_listings
from instance.search import parse_query as parse_search
from instance.services.follows import follow_states, territory_address
from instance.services.placing import commune_position, known_places
from instance.web.blueprint import blueprint
from instance.web.common import acting_structures, load_viewer
from instance.web.forms import field_errors, sentence

PASSED_THROUGH = (
    "q",
    "kind",
    "category",
    "modality",
    "origin",
    "sort",
    "radius_km",
    "limit",
    "cursor",
)
FORM_FIELDS = (*PASSED_THROUGH, "commune", "lat", "lon")


class MapPoint(TypedDict):
    """A point of the map, as the page hands it to its script (JSON)."""

    lat: float
    lon: float
    title: str
    url: str
    origin: str
    local: bool


def map_points(hits: list[Any]) -> list[MapPoint]:
    """What the map draws: one point per located result."""
    return [
        {
            "lat": hit.listing.lat,
            "lon": hit.listing.lon,
            "title": hit.listing.title,
            "url": f"/listings/{hit.listing.id}",
            "origin": hit.listing.origin,
            "local": hit.listing.local,
        }
        for hit in hits
        if hit.listing.lat is not None and hit.listing.lon is not None
    ]


@blueprint.get("/search")
async def search() -> str:
    node = current_node()
    values = {name: request.args.get(name, "").strip() for name in FORM_FIELDS}
    args = {name: values[name] for name in PASSED_THROUGH if values[name]}
    errors: dict[str, str] = {}
    # Only reads: on SQLite a search never holds the writer's lock (see Database.read).
    async with node.db.read() as session:
        person = await load_viewer(session)
        communes, origins = await known_places(session)
        if values["lat"] or values["lon"]:
            if values["lat"] and values["lon"]:
                args["near"] = f"{values['lat']},{values['lon']}"
            else:
                errors["lat"] = sentence(_("lat and lon go together"))
        elif values["commune"]:
            position = await commune_position(session, values["commune"])
            if position is None:
                errors["commune"] = _(
                    "This commune is not known here yet: give its latitude and longitude."
                )
            else:
                args["near"] = f"{position[0]},{position[1]}"
        if args.get("sort") == "distance" and "near" not in args and not errors:
            errors["sort"] = _("To sort by distance, give a commune or a position.")
        query: SearchQuery | None = None
        if not errors:
            try:
                query = parse_search(args)
            except Invalid as exc:
                errors = field_errors(exc)
                errors["lat"] = errors.pop("near", errors.get("lat", ""))
                errors = {k: v for k, v in errors.items() if v}
        hits = []
        next_url = None
        if query is not None:
            try:
                page = await search_listings(
                    session,
                    node.db.dialect,
                    query,
                    time_limit=node.settings.listings.search_time_limit,
                )
            except SearchTooExpensive:
                page = Page([], None)
                errors["q"] = _(
                    "This search takes too long: narrow it (longer or fewer words, a filter, "
                    "a radius)."
                )
            hits = page.items
            if page.next_cursor:
                more = {k: v for k, v in values.items() if v and k != "cursor"}
                more["cursor"] = page.next_cursor
                next_url = "/search?" + urlencode(more)
        structures = await acting_structures(session, person) if person else []
        territories: dict[str, str] = {}
        follows: dict[str, str] = {}
        if structures:
            remote = [hit.listing for hit in hits if not hit.listing.local]
            for domain in {listing.origin for listing in remote}:
                territories[domain] = await territory_address(session, domain)
            follows = await follow_states(
                session,
                [s.actor_id for s in structures if s.actor_id is not None],
                [listing.author.uri for listing in remote] + list(territories.values()),
            )
    own_domain = node.settings.instance.domain.lower()
    return await render_template(
        "search.html",
        values=values,
        errors=errors,
        hits=hits,
        next_url=next_url,
        communes=communes,
        origins=origins,
        points=map_points(hits),
        own_domain=own_domain,
        searched=bool(args) or bool(values["commune"]),
        structures=structures,
        territories=territories,
        follows=follows,
        here=request.full_path.rstrip("?"),
    )
