"""A listing's page, and the forms that publish, edit and withdraw one.

Changes go through ``instance.services.listings`` (the same use cases as the JSON
API), which also federate them. ``listing_page`` is the HTML face of the
listing's ActivityPub id, ``/listings/<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from quart import Response, flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Person, Structure
from domain.people import can_act_for, structures_of
from domain.validation import Invalid
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.ids import parse_id
from instance.node import current_node
from instance.services import listings
from instance.services import replies as replying
from instance.services.follows import follow_states, territory_address
from instance.services.matching import matches_of
from instance.services.placing import check_commune
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    deny,
    load_viewer,
    redirect_to,
    require_person,
)
from instance.web.forms import (
    LISTING_FIELDS,
    field_errors,
    form_values,
    listing_data,
    listing_values,
)


def message_href(listing: Listing) -> str:
    """The page that writes to the listing's author about it (prefilled)."""
    if listing.structure is not None:
        to = listing.structure.handle
    elif listing.author.handle and listing.author.domain:
        to = f"acct:{listing.author.handle}@{listing.author.domain}"
    else:
        to = listing.author.uri
    return "/messages/new?" + urlencode({"to": to, "listing": listing.id})


def contact_href(listing: Listing) -> str | None:
    """A ``mailto:`` link to the structure's public contact address, if it has one."""
    structure = listing.structure
    if structure is None or not structure.contact_email:
        return None
    subject = quote(listing.title, safe="")
    return f"mailto:{quote(structure.contact_email, safe='@+')}?subject={subject}"


async def _listing_for(session: AsyncSession, listing_id: int, person: Person | None) -> Listing:
    """The listing if this viewer may see it (404 otherwise, 410 once withdrawn)."""
    listing = await listings.listing_by_id(session, listing_id)
    if listing is None:
        deny(404)
    structure = listing.structure
    member = person is not None and structure is not None and can_act_for(person, structure)
    moderator = person is not None and person.is_moderator
    if listing.hidden and not moderator:
        deny(404)
    if structure is not None and not structure.is_visible and not (member or moderator):
        deny(404)
    if listing.status == "withdrawn" and not (member or moderator):
        deny(410, _("This listing was withdrawn by its author."))
    return listing


async def _editable(session: AsyncSession, listing_id: int) -> tuple[Person, Listing]:
    person = await require_person(session)
    listing = await _listing_for(session, listing_id, person)
    if listing.structure is not None and listing.structure.status == "suspended":
        deny(403, _("This structure is suspended by the moderators: its listings cannot change."))
    if not listings.may_edit_listing(person, listing):
        deny(403, _("Only the members of the structure that published it may change a listing."))
    return person, listing


@blueprint.get("/listings/<int:listing_id>")
async def listing_page(listing_id: int) -> str:
    """The HTML page of a listing, local or received from another territory."""
    node = current_node()
    async with node.db.read() as session:
        person = await load_viewer(session)
        listing = await _listing_for(session, listing_id, person)
        editable = person is not None and listings.may_edit_listing(person, listing)
        own = (
            person is not None
            and listing.structure is not None
            and any(m.structure_id == listing.structure.id for m in person.memberships)
        )
        structures = await acting_structures(session, person) if person else []
        matches = await matches_of(session, listing) if listing.status == "open" else []
        thread = await replying.thread_view(session, listing)
        territory = None
        follows: dict[str, str] = {}
        if not listing.local:
            territory = await territory_address(session, listing.origin)
            follows = await follow_states(
                session,
                [s.actor_id for s in structures if s.actor_id],
                [listing.author.uri, territory],
            )
    return await render_template(
        "listing.html",
        listing=listing,
        editable=editable,
        own=own,
        contact_href=contact_href(listing),
        message_href=message_href(listing),
        structures=structures,
        territory=territory,
        follows=follows,
        matches=matches,
        proposers=[s for s in structures if s.actor_id != listing.author_id],
        thread=thread,
    )


def _posted(form: Mapping[str, str]) -> dict[str, str]:
    values = form_values(form, LISTING_FIELDS)
    values["price_currency"] = values["price_currency"].upper() or "EUR"
    return values


# --- publishing ---------------------------------------------------------------------


async def _new_form(
    session: AsyncSession,
    person: Person,
    values: dict[str, str],
    errors: dict[str, str],
    problem: str | None = None,
) -> str:
    structures = await structures_of(session, person)
    ready = [s for s in structures if s.is_visible]
    if not values.get("structure") and ready:
        values["structure"] = ready[0].handle
    return await render_template(
        "listing_form.html",
        mode="new",
        listing=None,
        values=values,
        errors=errors,
        problem=problem,
        structures=ready,
        waiting=[s for s in structures if not s.is_visible],
    )


@blueprint.get("/listings/new")
async def new_listing() -> str:
    values = {"kind": "offer", "price_currency": "EUR"}
    if request.args.get("structure"):
        values["structure"] = request.args["structure"]
    copied = parse_id(request.args.get("from"))
    async with current_node().db.read() as session:
        person = await require_person(session)
        if copied is not None:  # « duplicate »: the same offer or need, new dates
            try:
                original = await listings.duplicable_listing(session, person, copied)
            except ApiError as exc:
                deny(exc.status, _(exc.message))
            values = listing_values(original)
            for stale in ("status", "available_from", "available_until"):
                values.pop(stale, None)
        return await _new_form(session, person, values, {})


@blueprint.post("/listings/new")
async def new_listing_post() -> Any:
    node = current_node()
    values = _posted(await request.form)
    errors: dict[str, str] = {}
    problem = None
    status = 422
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            await check_commune(session, values["commune"], values["lat"], values["lon"])
            listing = await listings.create_listing(session, node, person, listing_data(values))
            listing_id = listing.id
    except Invalid as exc:
        errors = field_errors(exc)
    except ApiError as exc:
        problem, status = _(exc.message), exc.status
    else:
        await flash(_("Your listing is published."), "success")
        return redirect_to(f"/listings/{listing_id}")
    async with node.db.session() as session:
        person = await require_person(session)
        return await _new_form(session, person, values, errors, problem), status


# --- editing --------------------------------------------------------------------------


async def _edit_form(
    listing: Listing, values: dict[str, str], errors: dict[str, str], problem: str | None = None
) -> str:
    return await render_template(
        "listing_form.html",
        mode="edit",
        listing=listing,
        values=values,
        errors=errors,
        problem=problem,
        structures=[listing.structure] if listing.structure else [],
        waiting=[],
    )


@blueprint.get("/listings/<int:listing_id>/edit")
async def edit_listing(listing_id: int) -> Any:
    async with current_node().db.read() as session:
        _person, listing = await _editable(session, listing_id)
    if listing.status == "withdrawn":
        await flash(_("This listing was withdrawn and can no longer change."), "error")
        return redirect_to(f"/listings/{listing_id}")
    return await _edit_form(listing, listing_values(listing), {})


@blueprint.post("/listings/<int:listing_id>/edit")
async def edit_listing_post(listing_id: int) -> Any:
    node = current_node()
    values = _posted(await request.form)
    errors: dict[str, str] = {}
    problem = None
    status = 422
    try:
        async with node.transaction() as session:
            person, listing = await _editable(session, listing_id)
            await check_commune(session, values["commune"], values["lat"], values["lon"])
            await listings.update_listing(
                session, node, person, listing, listing_data(values, update=True)
            )
    except Invalid as exc:
        errors = field_errors(exc)
    except ApiError as exc:
        problem, status = _(exc.message), exc.status
    else:
        await flash(_("Your changes are saved."), "success")
        return redirect_to(f"/listings/{listing_id}")
    async with node.db.session() as session:
        _person, listing = await _editable(session, listing_id)
    return await _edit_form(listing, values, errors, problem), status


# --- withdrawing ------------------------------------------------------------------------


@blueprint.get("/listings/<int:listing_id>/withdraw")
async def withdraw_listing(listing_id: int) -> Any:
    async with current_node().db.read() as session:
        _person, listing = await _editable(session, listing_id)
    if listing.status == "withdrawn":
        return redirect_to(f"/listings/{listing_id}")
    return await render_template("listing_withdraw.html", listing=listing)


@blueprint.post("/listings/<int:listing_id>/withdraw")
async def withdraw_listing_post(listing_id: int) -> Response:
    node = current_node()
    async with node.transaction() as session:
        person, listing = await _editable(session, listing_id)
        await listings.withdraw_listing(session, node, person, listing)
        structure: Structure | None = listing.structure
        back = f"/@{structure.handle}" if structure is not None else "/account"
    await flash(_("The listing is withdrawn: it is no longer shown, here or elsewhere."), "success")
    return redirect_to(back)
