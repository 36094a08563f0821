"""Between HTML forms and the API-shaped data the use cases read.

A form posts flat fields (``price_amount``, ``lat``…); the validation shared
with the JSON API (``domain.listings``) reads the API's shape, with
``price`` and ``location`` nested. :func:`listing_data` goes one way,
:func:`listing_values` the other (to fill an edit form), and
:func:`field_errors` brings the API's error keys (``location.lat``) back to
the form's field names, with the messages translated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from domain.listings import LISTING_FIELDS as AUTHORED_FIELDS
from domain.models import Listing
from domain.validation import Invalid
from instance.i18n import gettext

LISTING_FIELDS = ("structure", *AUTHORED_FIELDS)  # the form also names the structure
PERSON_FIELDS = ("email", "password", "display_name")
STRUCTURE_FIELDS = (
    "name",
    "handle",
    "kind",
    "commune",
    "lat",
    "lon",
    "website",
    "description",
    "contact_email",
)

# API error keys → the form field that shows the message.
_FIELD_OF_ERROR = {
    "location": "commune",
    "location.commune": "commune",
    "location.lat": "lat",
    "location.lon": "lon",
    "price": "price_amount",
    "price.amount": "price_amount",
    "price.currency": "price_currency",
}


def form_values(form: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The named fields of a posted form, as text (what the page shows back)."""
    values = {}
    for name in names:
        value = form.get(name, "")
        # Passwords are kept as typed; everything else loses stray spaces.
        values[name] = value if name == "password" else value.strip()
    return values


def _or_none(value: str) -> str | None:
    return value if value != "" else None


def listing_data(values: Mapping[str, str], *, update: bool = False) -> dict[str, Any]:
    """The API body for a listing form (every field given, so an edit can clear one)."""
    data: dict[str, Any] = {
        "kind": values.get("kind", ""),
        "title": values.get("title", ""),
        "description": values.get("description", ""),
        "category": values.get("category", ""),
        "modality": values.get("modality", ""),
        "quantity": _or_none(values.get("quantity", "")),
        "unit": values.get("unit", ""),
        "available_from": _or_none(values.get("available_from", "")),
        "available_until": _or_none(values.get("available_until", "")),
        "radius_km": _or_none(values.get("radius_km", "")),
    }
    amount = values.get("price_amount", "")
    currency = values.get("price_currency", "") or "EUR"
    data["price"] = {"amount": amount, "currency": currency} if amount else None
    commune, lat, lon = (values.get(k, "") for k in ("commune", "lat", "lon"))
    data["location"] = (
        {"commune": commune, "lat": _or_none(lat), "lon": _or_none(lon)}
        if commune or lat or lon
        else None
    )
    if update:
        if values.get("status"):
            data["status"] = values["status"]
    else:
        data["structure"] = values.get("structure", "")
    return data


def _text(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(int(value)) if value == int(value) else repr(value)


def listing_values(listing: Listing) -> dict[str, str]:
    """A listing as the fields of its edit form."""
    return {
        "structure": listing.structure.handle if listing.structure else "",
        "kind": listing.kind,
        "title": listing.title,
        "description": listing.description,
        "category": listing.category,
        "modality": listing.modality,
        "quantity": _text(listing.quantity),
        "unit": listing.unit,
        "price_amount": _text(listing.price_amount),
        "price_currency": listing.price_currency or "EUR",
        "available_from": listing.available_from.isoformat() if listing.available_from else "",
        "available_until": listing.available_until.isoformat() if listing.available_until else "",
        "commune": listing.commune,
        "lat": _text(listing.lat),
        "lon": _text(listing.lon),
        "radius_km": _text(listing.radius_km),
        "status": listing.status,
    }


def sentence(message: str) -> str:
    """A validation message as a sentence under its field (``is required`` → ``Is required.``)."""
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?", "…")) else message + "."


def field_errors(error: Invalid) -> dict[str, str]:
    """Translated messages by form field name."""
    errors: dict[str, str] = {}
    for key, message in error.messages(gettext).items():
        errors.setdefault(_FIELD_OF_ERROR.get(key, key), sentence(message))
    return errors
