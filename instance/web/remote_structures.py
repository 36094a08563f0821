"""The page of a structure of another server, ``/@handle@host``: what this node knows of it.

Name, summary (sanitised), kind, commune, its territory (named when this node
knows that territory's actor), the listings received from it, and — for a person
acting for a structure here — following it and writing to it. The address
``@handle@host`` is shown as text to copy into Mastodon or another server.
"""

from __future__ import annotations

from quart import render_template

from domain.sanitize import clean_html
from instance.node import current_node
from instance.search import SearchQuery, search_listings
from instance.services import directory
from instance.services.directory import count_open_listings, find_remote, remote_entry
from instance.services.follows import follow_states, territory_address
from instance.web.common import acting_structures, deny, load_viewer

LISTINGS_SHOWN = 50


async def remote_structure_page(address: str) -> str:
    handle, _, host = address.partition("@")
    if not handle or not host:
        deny(404)
    node = current_node()
    async with node.db.session() as session:
        person = await load_viewer(session)
        actor = await find_remote(session, handle, host)
        if actor is None:
            deny(404)
        entry = remote_entry(actor, await count_open_listings(session, actor.id))
        territory_name = await directory.territory_name(session, actor.domain)
        page = await search_listings(
            session, node.db.dialect, SearchQuery(structure=actor.uri, limit=LISTINGS_SHOWN)
        )
        structures = await acting_structures(session, person) if person else []
        territory = await territory_address(session, actor.domain)
        follows = await follow_states(
            session, [s.actor_id for s in structures if s.actor_id], [actor.uri, territory]
        )
    return await render_template(
        "remote_structure.html",
        entry=entry,
        actor=actor,
        summary=clean_html(actor.summary or "", max_length=5000),
        territory_name=territory_name or actor.domain,
        territory=territory,
        listings=[hit.listing for hit in page.items],
        structures=structures,
        follows=follows,
    )
