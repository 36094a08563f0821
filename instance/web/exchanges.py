"""Exchanges on the site: the « Proposer un échange » form of a listing's page, the page
``/exchanges`` of the person's structures with the buttons the state machine allows, and
the forms behind those buttons.

Thin like the JSON API: the use cases are ``instance.services.exchanges``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Response, flash, render_template, request

from domain.exchanges import ACTIONS, Action, Exchange, Side
from domain.models import Structure
from domain.validation import Invalid
from federation.models import Actor
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import exchanges as service
from instance.web.blueprint import blueprint
from instance.web.common import acting_structures, deny, redirect_to, require_person

SHOWN = 100


def _problem(exc: Invalid | ApiError) -> str:
    if isinstance(exc, Invalid):
        return " · ".join(exc.messages(_).values())
    return exc.message


@blueprint.post("/listings/<int:listing_id>/exchange")
async def propose_exchange(listing_id: int) -> Response:
    """The form of a listing's page: a structure of the person proposes an exchange."""
    node = current_node()
    form = await request.form
    data: dict[str, Any] = {
        "listing": listing_id,
        "from": form.get("structure", ""),
        "quantity": form.get("quantity", "").strip() or None,
        "message": form.get("message", ""),
    }
    amount = form.get("value_amount", "").strip()
    if amount:
        data["value"] = {"amount": amount, "currency": form.get("value_currency", "EUR") or "EUR"}
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            await service.propose(session, node, person, data)
    except (Invalid, ApiError) as exc:
        problem = _problem(exc)
        await flash(_("The exchange could not be proposed: %(problem)s", problem=problem), "error")
        return redirect_to(f"/listings/{listing_id}#exchange")
    await flash(_("Exchange proposed: the listing's structure is told."), "success")
    return redirect_to("/exchanges")


@dataclass(frozen=True)
class ExchangeRow:
    """An exchange as ``/exchanges`` shows it, from the side of one of the person's structures."""

    exchange: Exchange
    structure: Structure
    side: Side | None
    other: Actor
    actions: list[Action]
    waiting: bool  # the structure marked it done and waits for the other side


def _row(exchange: Exchange, structure: Structure) -> ExchangeRow:
    side = exchange.side_of(structure.actor_id)
    other = exchange.responder if side == "proposer" else exchange.proposer
    return ExchangeRow(
        exchange=exchange,
        structure=structure,
        side=side,
        other=other,
        actions=[a for a in ACTIONS if exchange.may(a, side)],
        waiting=exchange.state == "accepted"
        and exchange.done_marked_by is not None
        and exchange.done_marked_by == side,
    )


@blueprint.get("/exchanges")
async def exchanges_page() -> str:
    """The exchanges of every structure the person acts for, newest first."""
    async with current_node().db.read() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        rows: list[ExchangeRow] = []
        for structure in structures:
            found = await service.exchanges_of(session, structure, limit=SHOWN)
            rows.extend(_row(e, structure) for e in found[:SHOWN])
    rows.sort(key=lambda r: r.exchange.id, reverse=True)
    return await render_template("exchanges.html", rows=rows, structures=structures)


@blueprint.post("/exchanges/<int:exchange_id>/<action>")
async def change_exchange(exchange_id: int, action: str) -> Response:
    """A button of ``/exchanges``: accept, decline, withdraw, done or cancel."""
    if action not in ACTIONS:
        deny(404)
    node = current_node()
    form = await request.form
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            exchange = await service.act(
                session, node, person, exchange_id, form.get("actor", ""), action
            )
            state = exchange.state
    except (Invalid, ApiError) as exc:
        await flash(_("This change is not possible: %(problem)s", problem=_problem(exc)), "error")
        return redirect_to("/exchanges")
    if state == "done":
        await flash(_("The exchange is done: thank you!"), "success")
    else:
        await flash(_("Exchange updated."), "success")
    return redirect_to("/exchanges")
