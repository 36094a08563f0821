"""A structure's public profile, ``/@<handle>``.

Only approved structures are public. Before that, the structure's own
members and the administrators see the page with its status (waiting for
approval, or the reason it was rejected); everyone else gets a 404, so that
a pending structure's existence does not leak.
"""

from __future__ import annotations

from quart import render_template

from domain.impact import actor_impact
from domain.matches import Match
from domain.models import Listing
from domain.people import can_act_for
from instance.node import current_node
from instance.search import SearchQuery, search_listings
from instance.services.follows import follow_states_by, follower_count, pending_count
from instance.services.matching import structure_matches
from instance.services.structures import structure_by_handle
from instance.web.blueprint import blueprint
from instance.web.common import acting_structures, deny, load_viewer
from instance.web.remote_structures import remote_structure_page

LISTINGS_SHOWN = 50
MATCHES_SHOWN = 20


@blueprint.get("/@<handle>")
async def structure_page(handle: str) -> str:
    if "@" in handle:  # /@handle@host: a structure of another server
        return await remote_structure_page(handle)
    node = current_node()
    async with node.db.read() as session:
        person = await load_viewer(session)
        structure = await structure_by_handle(session, handle)
        if structure is None:
            deny(404)
        member = person is not None and can_act_for(person, structure)
        if not structure.is_visible and not (member or (person and person.is_admin)):
            deny(404)
        structures = await acting_structures(session, person) if person else []
        follows: dict[str, str] = {}
        followers = requests = 0
        if structure.actor is not None:
            follows = await follow_states_by(session, structures, structure.actor.uri)
            followers = await follower_count(session, structure.actor.id)
            if member:
                requests = await pending_count(session, structure.actor.id)
        listings = []
        matches: list[tuple[Match, Listing]] = []
        impact = None
        if structure.is_visible and structure.actor is not None:
            impact = await actor_impact(session, structure.actor.id)
        if structure.is_visible:
            page = await search_listings(
                session,
                node.db.dialect,
                SearchQuery(structure=structure.handle, limit=LISTINGS_SHOWN),
            )
            listings = [hit.listing for hit in page.items]
            # « Correspondances »: its people see all of its matches; others only those
            # of its listings everyone may read.
            matches, _more = await structure_matches(
                session, structure, MATCHES_SHOWN, public=not member
            )
    return await render_template(
        "structure.html",
        structure=structure,
        listings=listings,
        member=member,
        structures=[s for s in structures if s.id != structure.id],
        follows=follows,
        followers=followers,
        requests=requests,
        impact=impact,
        matches=matches,
        own_domain=node.settings.instance.domain.lower(),
    )
