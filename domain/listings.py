"""Listings: validation of what a structure publishes, and the rules of change.

:func:`validate_listing` reads a mapping shaped like the JSON API body
(``location`` and ``price`` nested) and returns a :class:`ListingInput`, or
raises :class:`~domain.validation.Invalid` naming every bad field. With
``partial=True`` (PATCH) only the keys present are read and checked.

Publishing and federation are not done here: the caller (``instance``) asks
``outbox`` to turn the change into activities in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.database import utcnow
from domain.categories import CATEGORY_IDS
from domain.listing_states import LISTING, transition
from domain.models import LISTING_KINDS, LISTING_STATUSES, MODALITIES, Listing
from domain.validation import Collector

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
UNIT_MAX = 32
RADIUS_MAX_KM = 1000.0
_UNSET: Any = object()


@dataclass
class ListingInput:
    """Validated listing fields; ``_UNSET`` marks a field absent from a PATCH."""

    kind: str = _UNSET
    title: str = _UNSET
    description: str = _UNSET
    category: str = _UNSET
    modality: str = _UNSET
    quantity: Decimal | None = _UNSET
    unit: str = _UNSET
    price_amount: Decimal | None = _UNSET
    price_currency: str = _UNSET
    available_from: date | None = _UNSET
    available_until: date | None = _UNSET
    commune: str = _UNSET
    lat: float | None = _UNSET
    lon: float | None = _UNSET
    radius_km: float | None = _UNSET
    status: str = _UNSET

    def present(self) -> dict[str, Any]:
        """The fields that were given, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not _UNSET
        }


# The fields of a listing that its author writes, in the order of the forms: what a
# person, the API or a peer's Note sets on a ``listings`` row (one list for all).
LISTING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ListingInput))


def validate_listing(
    data: Mapping[str, Any], *, partial: bool = False, current: Listing | None = None
) -> ListingInput:
    """Check a listing body; raise ``Invalid`` with every bad field."""
    c = Collector()
    out = ListingInput()
    required = not partial

    def given(name: str) -> bool:
        return not partial or name in data

    if given("kind"):
        out.kind = c.choice(data, "kind", LISTING_KINDS, required=True) or ""
    if given("title"):
        out.title = c.text(data, "title", required=True, min_length=3, max_length=TITLE_MAX) or ""
    if given("description"):
        out.description = (
            c.text(data, "description", required=required, max_length=DESCRIPTION_MAX) or ""
        )
    if given("category"):
        out.category = c.choice(data, "category", CATEGORY_IDS, required=True) or ""
    if given("modality"):
        out.modality = c.choice(data, "modality", MODALITIES, required=True) or ""
    if given("quantity"):
        out.quantity = c.decimal(data, "quantity", places=3)
        if out.quantity is not None and out.quantity == 0:
            c.add("quantity", "must be greater than zero")
    if given("unit"):
        out.unit = c.text(data, "unit", max_length=UNIT_MAX) or ""
    if partial and "status" in data:
        out.status = c.choice(data, "status", LISTING_STATUSES, required=True) or ""
    elif "status" in data:
        # Silently publishing an "open" listing the client asked to be "fulfilled" misleads it.
        c.add("status", "cannot be set when publishing: a new listing is open")
    if partial and "structure" in data:
        owner = current.structure.handle if current and current.structure else None
        if data["structure"] != owner:
            c.add("structure", "cannot be changed: publish a new listing instead")
    if given("radius_km"):
        out.radius_km = c.number(data, "radius_km", minimum=0, maximum=RADIUS_MAX_KM)

    if given("available_from"):
        out.available_from = c.date(data, "available_from")
    if given("available_until"):
        out.available_until = c.date(data, "available_until")
    start = out.available_from if out.available_from is not _UNSET else None
    end = out.available_until if out.available_until is not _UNSET else None
    if current is not None:
        start = current.available_from if out.available_from is _UNSET else start
        end = current.available_until if out.available_until is _UNSET else end
    if start and end and end < start:
        c.add("available_until", "must not be before available_from")

    if given("price"):
        _read_price(c, data.get("price"), out)
    if given("location"):
        _read_location(c, data.get("location"), out)

    unknown = set(data) - _KNOWN_KEYS
    for name in sorted(unknown):
        c.add(name, "is not a listing field")
    c.raise_if_any()
    return out


_KNOWN_KEYS = {
    "structure",
    "kind",
    "title",
    "description",
    "category",
    "modality",
    "quantity",
    "unit",
    "price",
    "available_from",
    "available_until",
    "location",
    "radius_km",
    "status",
}


def _read_price(c: Collector, price: Any, out: ListingInput) -> None:
    if price is None or price == "" or price == {}:
        out.price_amount, out.price_currency = None, ""
        return
    if not isinstance(price, Mapping):
        c.add("price", "must be an object with amount and currency")
        return
    out.price_amount = c.decimal(price, "amount", places=2, label="price.amount")
    currency = price.get("currency", "EUR") or "EUR"
    if (
        not isinstance(currency, str)
        or not currency.isascii()
        or not currency.isalpha()
        or len(currency) != 3
    ):
        c.add("price.currency", "must be a three-letter currency code")
    else:
        out.price_currency = currency.upper()
    if out.price_amount is None and "price.amount" not in c.errors:
        c.add("price.amount", "is required")


def _read_location(c: Collector, location: Any, out: ListingInput) -> None:
    if location is None or location == {}:
        out.commune, out.lat, out.lon = "", None, None
        return
    if not isinstance(location, Mapping):
        c.add("location", "must be an object with commune, lat and lon")
        return
    out.commune = c.text(location, "commune", max_length=200) or ""
    if "commune" in c.errors:
        c.errors["location.commune"] = c.errors.pop("commune")
    out.lat = c.number(location, "lat", minimum=-90, maximum=90, label="location.lat")
    out.lon = c.number(location, "lon", minimum=-180, maximum=180, label="location.lon")
    has_lat = location.get("lat") not in (None, "")
    has_lon = location.get("lon") not in (None, "")
    if has_lat != has_lon:
        c.add("location.lon" if has_lat else "location.lat", "lat and lon go together")


def location_given(fields: ListingInput) -> bool:
    """Whether ``fields`` sets the location (always on create; on a PATCH, when sent)."""
    return fields.commune is not _UNSET


def apply_listing(listing: Listing, data: ListingInput, *, lifetime_days: int) -> None:
    """Copy validated fields onto a listing and recompute its expiry (a new status goes
    through ``domain.listing_states``: a refused change raises ``StateError``)."""
    for name, value in data.present().items():
        if name == "status":
            status = LISTING.parse(value)
            if status != listing.status:
                transition(listing, status)
        else:
            setattr(listing, name, value)
    if not data.present():
        return
    listing.updated_at = utcnow()
    listing.expires_at = compute_expiry(
        listing.available_until, listing.published_at or utcnow(), lifetime_days
    )


def compute_expiry(
    available_until: date | None, published: datetime, lifetime_days: int
) -> datetime:
    """When a listing expires: the end of its availability, or the node's default lifetime."""
    default = published + timedelta(days=lifetime_days)
    if available_until is None:
        return default
    end = datetime.combine(
        available_until + timedelta(days=1), datetime.min.time(), published.tzinfo
    )
    return end
