"""« Mes annonces », ``/account/listings``: the listings of the structure a person acts
for, with their status, expiry and matches, and what its people do with them.

Renewing (another lifetime from today, an expired or fulfilled listing opens again)
and closing as fulfilled are one button each; withdrawing goes through its
confirmation page (``instance.web.listings``); duplicating opens the publishing form
filled with the listing (``/listings/new?from=ID``). Every change goes through
``instance.services.listings`` and the listing state table, and federates.
"""

from __future__ import annotations

from quart import Response, flash, render_template, request

from domain.models import Listing, Person
from instance.errors import ApiError
from instance.i18n import format_day
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import listings
from instance.web.blueprint import blueprint
from instance.web.common import acting_structures, deny, pick_structure, redirect_to, require_person


@blueprint.get("/account/listings")
async def my_listings() -> str:
    node = current_node()
    async with node.db.read() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        current = pick_structure(structures, request.args.get("as"))
        rows = await listings.structure_listings(session, current) if current else []
    return await render_template(
        "account_listings.html",
        structures=structures,
        current=current,
        rows=rows,
        lifetime=node.settings.listings.default_lifetime_days,
    )


async def _change(listing_id: int, action: str) -> Response:
    node = current_node()
    async with node.transaction() as session:
        person: Person = await require_person(session)
        listing: Listing | None = await listings.listing_by_id(session, listing_id)
        if listing is None or listing.structure is None:
            deny(404)
        back = "/account/listings?as=" + listing.structure.handle
        try:
            if action == "renew":
                await listings.renew_listing(session, node, person, listing)
            else:
                await listings.close_listing(session, node, person, listing)
        except ApiError as exc:
            deny(exc.status, _(exc.message))
        title = listing.title
    if action == "renew":
        until = format_day(listing.available_until)
        message = _("« %(title)s » is renewed until %(day)s.", title=title, day=until)
    else:
        message = _("« %(title)s » is closed as fulfilled.", title=title)
    await flash(message, "success")
    return redirect_to(back)


@blueprint.post("/account/listings/<int:listing_id>/renew")
async def renew(listing_id: int) -> Response:
    return await _change(listing_id, "renew")


@blueprint.post("/account/listings/<int:listing_id>/close")
async def close(listing_id: int) -> Response:
    return await _change(listing_id, "close")
