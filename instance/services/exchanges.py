"""Exchanges: what a person acting for a structure can make happen.

* :func:`propose` — a structure proposes an exchange on a listing of another
  structure, on this node or another (FEP-0837: an ``Offer`` of an
  ``Agreement``, delivered by ``outbox.exchanges``);
* :func:`act` — accept, decline, withdraw, mark done or cancel, through the
  one transition function of ``domain.exchanges``: a refused change is an
  ``ApiError`` with the status of the typed refusal (403 not your turn, 409
  not from this state).

The JSON API (``instance.api.exchanges``) and the pages
(``instance.web.exchanges``) only translate requests into these calls. What a
change does next (notifications, impact, the listing's quantity) is
``outbox.exchanges.after_change``, shared with the inbox, where the other node's
changes arrive (``inbox.exchanges``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.exchanges import ACTIONS, Action, Exchange, ExchangeError, locked, transition
from domain.impact import distance_between
from domain.models import Listing, Person, Structure
from domain.people import can_act_for
from domain.validation import FieldError, Invalid
from instance.errors import ApiError
from instance.node import Node
from outbox import exchanges as exchange_activities

MESSAGE_MAX = 5000
MAX_NUMBER = Decimal("1000000000")
CURRENCY = re.compile(r"^[A-Z]{3}$")


async def acting_for(session: AsyncSession, person: Person, handle: Any, field: str) -> Structure:
    """The approved structure ``handle`` that ``person`` acts for (422/403 otherwise)."""
    if not isinstance(handle, str) or not handle:
        raise Invalid({field: FieldError("is required")})
    structure = await session.scalar(select(Structure).where(Structure.handle == handle))
    if structure is None:
        raise Invalid({field: FieldError("unknown structure")})
    if not (can_act_for(person, structure) or person.is_moderator):
        raise ApiError(403, "you do not act for this structure")
    if not structure.is_visible or structure.actor is None:
        raise ApiError(403, "this structure is awaiting approval by an administrator")
    if structure.actor.moved_to:
        raise ApiError(403, f"this structure has moved to {structure.actor.moved_to}")
    return structure


def _number(value: Any, places: str) -> Decimal | None:
    """A positive-or-zero decimal below a billion, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            return None
        number = number.quantize(Decimal(places))
    except InvalidOperation:
        return None
    return number if 0 <= number < MAX_NUMBER else None


async def find_listing(session: AsyncSession, ref: Any) -> Listing | None:
    """A listing by its local id or its ActivityPub id (visible ones only)."""
    listing: Listing | None = None
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref < 2**63:
        listing = await session.get(Listing, ref)
    elif isinstance(ref, str) and ref.strip().isdigit() and len(ref.strip()) < 19:
        listing = await session.get(Listing, int(ref.strip()))
    elif isinstance(ref, str) and ref.startswith(("https://", "http://")) and len(ref) <= 2048:
        listing = await session.scalar(select(Listing).where(Listing.ap_id == ref))
    if listing is None or listing.hidden:
        return None
    if listing.structure is not None and not listing.structure.is_visible:
        return None
    return listing


def _still_open(listing: Listing) -> None:
    expired = listing.expires_at is not None and listing.expires_at.astimezone(UTC) < utcnow()
    if listing.status != "open" or expired:
        status = "expired" if expired and listing.status == "open" else listing.status
        raise ApiError(409, f"this listing is {status}: no exchange can be proposed on it")


async def propose(
    session: AsyncSession, node: Node, person: Person, data: Mapping[str, Any]
) -> Exchange:
    """``data["from"]`` proposes an exchange on ``data["listing"]`` to its structure."""
    structure = await acting_for(session, person, data.get("from"), "from")
    assert structure.actor is not None
    listing = await find_listing(session, data.get("listing"))
    if listing is None:
        raise Invalid(
            {"listing": FieldError("unknown listing (a local id or a known ActivityPub id)")}
        )
    if listing.author_id == structure.actor.id:
        raise Invalid({"listing": FieldError("this is the structure's own listing")})
    _still_open(listing)
    errors: dict[str, FieldError] = {}
    quantity = None
    if data.get("quantity") not in (None, ""):
        quantity = _number(data.get("quantity"), "0.001")
        if quantity is None or quantity == 0:
            errors["quantity"] = FieldError("must be a positive number")
        elif listing.quantity is not None and quantity > listing.quantity:
            errors["quantity"] = FieldError(
                "only %(left)s remain", {"left": format(listing.quantity.normalize(), "f")}
            )
    amount, currency = None, ""
    value = data.get("value")
    if value is not None:
        if not isinstance(value, Mapping):
            errors["value"] = FieldError("must be an object with amount and currency")
        else:
            amount = _number(value.get("amount"), "0.01")
            currency = value.get("currency") or "EUR"
            if amount is None:
                errors["value"] = FieldError("amount must be a number from 0")
            elif not isinstance(currency, str) or not CURRENCY.match(currency):
                errors["value"] = FieldError("currency must be a code of three capital letters")
    message = data.get("message", "")
    if not isinstance(message, str) or len(message) > MESSAGE_MAX:
        errors["message"] = FieldError(
            "must be a text of at most %(max)s characters", {"max": MESSAGE_MAX}
        )
    if errors:
        raise Invalid(errors)
    assert isinstance(message, str) and isinstance(currency, str)
    now = utcnow()
    exchange = Exchange(
        ap_id=f"{node.settings.base_url}/agreements/{uuid.uuid4()}",
        offer_ap_id=node.urls.new_activity(),
        listing_id=listing.id,
        listing=listing,
        listing_ap_id=listing.ap_id,
        listing_kind=listing.kind,
        listing_title=listing.title,
        category=listing.category,
        modality=listing.modality,
        proposer_id=structure.actor.id,
        proposer=structure.actor,
        responder_id=listing.author_id,
        responder=listing.author,
        state="proposed",
        quantity=quantity,
        unit=listing.unit,
        value_amount=amount,
        value_currency=currency if amount is not None else "",
        message=message.strip(),
        created_at=now,
        updated_at=now,
        distance_km=distance_between((listing.lat, listing.lon), (structure.lat, structure.lon)),
    )
    session.add(exchange)
    await session.flush()
    position = (structure.lat, structure.lon)
    await exchange_activities.send_offer(session, node.settings, exchange, position)
    await exchange_activities.after_change(session, node.settings, exchange, None, "proposer")
    return exchange


async def act(
    session: AsyncSession,
    node: Node,
    person: Person,
    exchange_id: int,
    handle: Any,
    action: str,
) -> Exchange:
    """``handle`` (a structure ``person`` acts for) does ``action`` on an exchange."""
    if action not in ACTIONS:
        raise ApiError(404, "no such action")
    structure = await acting_for(session, person, handle, "actor")
    exchange = await locked(session, exchange_id)
    if exchange is None:
        raise ApiError(404, "no such exchange")
    assert structure.actor is not None
    side = exchange.side_of(structure.actor.id)
    verb: Action = action
    try:
        step = transition(exchange.current, exchange.done_marked_by, verb, side)
    except ExchangeError as exc:
        raise ApiError(exc.status, exc.message) from exc
    assert side is not None
    exchange.apply(step)
    await session.flush()
    await exchange_activities.send_answer(session, node.settings, exchange, verb, side)
    await exchange_activities.after_change(session, node.settings, exchange, verb, side)
    return exchange


async def exchanges_of(
    session: AsyncSession, structure: Structure, *, limit: int, before: int | None = None
) -> list[Exchange]:
    """A structure's exchanges, both sides, newest first (``limit`` + 1 to tell a next page)."""
    assert structure.actor_id is not None
    stmt = (
        select(Exchange)
        .where(
            (Exchange.proposer_id == structure.actor_id)
            | (Exchange.responder_id == structure.actor_id)
        )
        .order_by(Exchange.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(Exchange.id < before)
    return list((await session.execute(stmt)).scalars().unique())
