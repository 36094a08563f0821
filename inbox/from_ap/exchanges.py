"""ActivityStreams documents to typed values: exchange proposals and their events.

:func:`offer_from_ap` reads the ``Offer{Agreement}`` of
``outbox/to_ap/exchanges.py`` (FEP-0837): the listing it is about (the Commitment's
``satisfies``, the listing's ``#primary`` Intent, or our ``entraide:listing``;
both given and different is refused), the quantity, the declared value, the
message and the proposer's position. Refused whole (:class:`MalformedObject`,
saying why) rather than stored half:
an Agreement without an id on its actor's server, without a listing, with a
quantity or value that is not a finite number from 0 below a billion, or a
currency that is not three capital letters. Bounded: the message (HTML to plain
text, 5,000 characters), the unit (32), coordinates outside the globe dropped.

:func:`agreement_of_event` reads the Agreement an ``EconomicEvent`` fulfils
(``realizationOf``, or ``fulfills`` the Agreement's ``#commitment``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.sanitize import html_to_text, plain_text
from federation.origin import object_id
from inbox.from_ap.values import (
    MalformedObject,
    coordinate,
    decimal,
    http_uri,
    own,
    same_host,
    types_of,
)

MESSAGE_MAX = 5000
UNIT_MAX = 32
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class OfferData:
    """A proposal received: an Offer of an Agreement, validated."""

    offer_id: str
    ap_id: str
    proposer: str
    listing: str
    quantity: Decimal | None
    unit: str
    value_amount: Decimal | None
    value_currency: str
    message: str
    lat: float | None
    lon: float | None


def _listing(agreement: dict[str, Any]) -> str | None:
    """The listing's id: from the Commitment's ``satisfies`` and/or ``entraide:listing``."""
    stipulates = agreement.get("stipulates")
    commitment = stipulates[0] if isinstance(stipulates, list) and stipulates else stipulates
    satisfied = None
    if isinstance(commitment, dict):
        intent = http_uri(commitment.get("satisfies"))
        if intent is not None:
            satisfied = intent.split("#", 1)[0]
    named = http_uri(own(agreement, "listing"))
    if satisfied and named and satisfied != named:
        return None
    return satisfied or named


def _quantity(agreement: dict[str, Any]) -> tuple[bool, Decimal | None]:
    stipulates = agreement.get("stipulates")
    commitment = stipulates[0] if isinstance(stipulates, list) and stipulates else stipulates
    if not isinstance(commitment, dict):
        return True, None
    quantity = commitment.get("resourceQuantity")
    if not isinstance(quantity, dict) or quantity.get("hasNumericalValue") is None:
        return True, None
    number = decimal(quantity.get("hasNumericalValue"))
    if number is None or number == 0:
        return False, None
    return True, number


def _value(agreement: dict[str, Any]) -> tuple[bool, Decimal | None, str]:
    value = own(agreement, "value")
    if value is None:
        return True, None, ""
    if not isinstance(value, dict):
        return False, None, ""
    amount = decimal(value.get("amount"))
    currency = value.get("currency", "EUR")
    if amount is None or not isinstance(currency, str) or not CURRENCY.match(currency):
        return False, None, ""
    return True, amount.quantize(Decimal("0.01")), currency


def offer_from_ap(activity: dict[str, Any], actor: str) -> OfferData:
    """The proposal an ``Offer`` by ``actor`` carries; MalformedObject when not a valid one."""
    offer_id = http_uri(activity.get("id"))
    agreement = activity.get("object")
    if offer_id is None or not isinstance(agreement, dict):
        raise MalformedObject("an Offer needs an http(s) id and an embedded object")
    if "Agreement" not in types_of(agreement):
        raise MalformedObject("an Offer of something else than an Agreement")
    ap_id = http_uri(agreement.get("id"))
    if ap_id is None or not same_host(ap_id, actor) or ap_id == offer_id:
        raise MalformedObject("an Agreement needs its own id on its actor's server")
    if object_id(agreement.get("attributedTo")) != actor:
        raise MalformedObject("an Agreement attributed to another actor")
    listing = _listing(agreement)
    if listing is None:
        raise MalformedObject("an Agreement about no listing, or two different ones")
    quantity_ok, quantity = _quantity(agreement)
    value_ok, amount, currency = _value(agreement)
    if not quantity_ok or not value_ok:
        raise MalformedObject("an Agreement with an invalid quantity or value")
    content = agreement.get("content")
    message = html_to_text(content, max_length=MESSAGE_MAX) if isinstance(content, str) else ""
    unit = own(agreement, "unit")
    location = agreement.get("location")
    lat = lon = None
    if isinstance(location, dict):
        lat = coordinate(location.get("latitude"), 90)
        lon = coordinate(location.get("longitude"), 180)
        if lat is None or lon is None:
            lat = lon = None
    return OfferData(
        offer_id=offer_id,
        ap_id=ap_id,
        proposer=actor,
        listing=listing,
        quantity=quantity,
        unit=plain_text(unit).strip()[:UNIT_MAX] if isinstance(unit, str) else "",
        value_amount=amount,
        value_currency=currency,
        message=message[:MESSAGE_MAX],
        lat=lat,
        lon=lon,
    )


def agreement_of_event(event: dict[str, Any] | None) -> str | None:
    """The Agreement an ``EconomicEvent`` realises, or None."""
    if event is None or "EconomicEvent" not in types_of(event):
        return None
    realised = http_uri(event.get("realizationOf"))
    if realised is not None:
        return realised
    fulfilled = http_uri(event.get("fulfills"))
    return fulfilled.split("#", 1)[0] if fulfilled else None
