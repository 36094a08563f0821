"""ActivityStreams documents to typed values: listings.

:func:`listing_from_ap` reads the listing shape of ``outbox/to_ap.py`` (a
``Note`` with FEP-0837 fields) and a plain FEP-0837 ``Proposal`` from any
server. An object is a listing when it carries ``purpose`` (``offer`` or
``request``) and a ``publishes`` Intent; a Note without them — an ordinary
Mastodon post — is not (returns None).

Every value is checked and bounded, and what is wrong is dropped rather than
stored: a title cut to 200 characters, HTML turned into plain text (so a
page can never run remote markup), coordinates outside the globe discarded,
numbers that are not finite decimals ignored, a ``url`` on another host than
the id replaced by the id. Fields we do not know are kept in ``extra`` (the
raw object, bounded) and ignored.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.categories import BY_HASHTAG, CATEGORY_IDS
from domain.listings import DESCRIPTION_MAX
from domain.models import LISTING_STATUSES, MODALITIES
from domain.sanitize import html_to_text, plain_text
from federation.errors import PayloadError
from federation.keys import host_of
from federation.origin import object_id

LISTING_TYPES = frozenset({"Note", "Proposal", "Article", "Page"})
PURPOSES = {"offer": "offer", "request": "need"}
CURRENCY_ITEMS = {
    "Q4916": "EUR",
    "Q4917": "USD",
    "Q25344": "CHF",
    "Q25224": "GBP",
}
MODALITY_TAGS = {
    "pret": "lend",
    "mutualisation": "mutualise",
    "don": "give",
    "vente": "sell",
    "troc": "barter",
}
MAX_EXTRA_BYTES = 64 * 1024
MAX_DECIMAL = Decimal("1000000000")
MAX_URI = 2048  # the length of URI columns


@dataclass
class ListingData:
    """A remote listing's fields, validated."""

    ap_id: str
    url: str
    author: str
    kind: str
    title: str
    description: str
    category: str
    modality: str
    quantity: Decimal | None = None
    unit: str = ""
    price_amount: Decimal | None = None
    price_currency: str = ""
    available_from: date | None = None
    available_until: date | None = None
    commune: str = ""
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    status: str = "open"
    published: datetime | None = None
    updated: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("type")
    items = value if isinstance(value, list) else [value]
    return {t for t in items if isinstance(t, str)}


def _text(value: Any, limit: int) -> str:
    return plain_text(value).strip()[:limit] if isinstance(value, str) else ""


def _own(obj: dict[str, Any], name: str) -> Any:
    """Our own term, whether the sender compacted it with the prefix or not."""
    for key in (f"entraide:{name}", name):
        if key in obj:
            return obj[key]
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
        if not number.is_finite():
            return None
        # Rounded first, so that the bound holds for the stored value (999999999.9999
        # would round up to 1e9).
        number = number.quantize(Decimal("0.001"))
    except InvalidOperation:  # also raised by quantize for numbers beyond its precision
        return None
    if number < 0 or number >= MAX_DECIMAL:
        return None
    return number


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # a 400-digit integer is valid JSON
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    moment = _moment(value)
    return moment.date() if moment else None


def _hashtags(obj: dict[str, Any]) -> list[str]:
    tags = obj.get("tag")
    items = tags if isinstance(tags, list) else [tags]
    names = []
    for tag in items:
        if isinstance(tag, dict) and tag.get("type") == "Hashtag":
            name = tag.get("name")
            if isinstance(name, str):
                names.append(name.lstrip("#").lower())
    return names


def _category(obj: dict[str, Any], intent: dict[str, Any]) -> str:
    own = _own(obj, "category")
    if own in CATEGORY_IDS:
        return str(own)
    conforms = intent.get("resourceConformsTo")
    if isinstance(conforms, str):
        tail = conforms.rstrip("/").rsplit("/", 1)[-1]
        if tail in CATEGORY_IDS:
            return tail
    for tag in _hashtags(obj):
        if tag in BY_HASHTAG:
            return BY_HASHTAG[tag].id
    return "other"


def _price(reciprocal: Any) -> tuple[Decimal | None, str]:
    if not isinstance(reciprocal, dict):
        return None, ""
    conforms = reciprocal.get("resourceConformsTo")
    currency = ""
    if isinstance(conforms, str):
        currency = CURRENCY_ITEMS.get(conforms.rstrip("/").rsplit("/", 1)[-1], "")
        if conforms.startswith("urn:iso:std:iso:4217:"):
            code = conforms.rsplit(":", 1)[-1]
            # Three ASCII letters, or no currency ("ßßß".upper() is six letters long).
            currency = code.upper() if re.fullmatch(r"[A-Za-z]{3}", code) else ""
    quantity = reciprocal.get("resourceQuantity")
    amount = _decimal(quantity.get("hasNumericalValue")) if isinstance(quantity, dict) else None
    if not currency or amount is None:
        return None, ""
    return amount.quantize(Decimal("0.01")), currency


def _modality(obj: dict[str, Any], has_price: bool, reciprocal: Any) -> str:
    own = _own(obj, "modality")
    if own in MODALITIES:
        return str(own)
    for tag in _hashtags(obj):
        if tag in MODALITY_TAGS:
            return MODALITY_TAGS[tag]
    if has_price:
        return "sell"
    if isinstance(reciprocal, dict):
        return "barter"
    return "give"


def _extra(obj: dict[str, Any]) -> dict[str, Any]:
    encoded = json.dumps(obj, ensure_ascii=False, default=str)
    if len(encoded.encode()) > MAX_EXTRA_BYTES:
        return {"truncated": True}
    value: dict[str, Any] = json.loads(encoded)
    return value


def listing_from_ap(obj: dict[str, Any]) -> ListingData | None:
    """The listing an object describes, or None when it is not a listing."""
    if not _types(obj) & LISTING_TYPES:
        return None
    purpose = obj.get("purpose")
    intent = obj.get("publishes")
    if not isinstance(purpose, str) or purpose not in PURPOSES or not isinstance(intent, dict):
        return None
    ap_id = object_id(obj.get("id"))
    author = object_id(obj.get("attributedTo"))
    if not ap_id or not author:
        raise PayloadError("a listing needs an id and attributedTo")
    if len(ap_id) > MAX_URI or len(author) > MAX_URI:
        raise PayloadError(f"a listing's id and author must be at most {MAX_URI} characters")
    host = host_of(ap_id)
    url = object_id(obj.get("url")) or ap_id
    if len(url) > MAX_URI:
        url = ap_id
    try:
        if host_of(url) != host:
            url = ap_id
    except PayloadError:
        url = ap_id
    content = obj.get("content")
    # Another Entraide node sends the description as written; others only as HTML.
    description = _text(_own(obj, "description"), DESCRIPTION_MAX)
    if not description:
        description = html_to_text(content) if isinstance(content, str) else ""
    title = _text(obj.get("name"), 200) or _text(obj.get("summary"), 200)
    if not title:
        first = description.split("\n", 1)[0]
        title = first[:200] or "(sans titre)"
    quantity_doc = intent.get("resourceQuantity")
    quantity = (
        _decimal(quantity_doc.get("hasNumericalValue")) if isinstance(quantity_doc, dict) else None
    )
    unit = _text(_own(obj, "unit"), 32)
    if not unit and isinstance(quantity_doc, dict):
        om2_unit = quantity_doc.get("hasUnit")
        unit = "" if om2_unit in (None, "one") else _text(om2_unit, 32)
    reciprocal = obj.get("reciprocal")
    price, currency = _price(reciprocal)
    status = _own(obj, "status")
    if status not in LISTING_STATUSES:
        status = "open"
    available = intent.get("availableQuantity")
    if isinstance(available, dict) and _decimal(available.get("hasNumericalValue")) == 0:
        status = "fulfilled" if status == "open" else status
    data = ListingData(
        ap_id=ap_id,
        url=url,
        author=author,
        kind=PURPOSES[str(purpose)],
        title=title,
        description=description,
        category=_category(obj, intent),
        modality=_modality(obj, price is not None, reciprocal),
        quantity=quantity,
        unit=unit,
        price_amount=price,
        price_currency=currency,
        available_from=_day(obj.get("startTime")),
        available_until=_day(obj.get("endTime")),
        status=str(status),
        published=_moment(obj.get("published")),
        updated=_moment(obj.get("updated")),
        extra=_extra(obj),
    )
    if data.available_from and data.available_until and data.available_until < data.available_from:
        data.available_until = None
    place = obj.get("location")
    if isinstance(place, list):
        place = next((p for p in place if isinstance(p, dict)), None)
    if isinstance(place, dict):
        data.commune = _text(place.get("name"), 200)
        lat = _coordinate(place.get("latitude"), 90)
        lon = _coordinate(place.get("longitude"), 180)
        if lat is not None and lon is not None:
            data.lat, data.lon = lat, lon
        radius = _coordinate(place.get("radius"), 20_000_000)
        if radius is not None and radius > 0:
            units = place.get("units", "m")
            km = radius if units == "km" else radius / 1000 if units in ("m", None) else None
            if km is not None and km <= 1000 and round(km, 3) > 0:
                data.radius_km = round(km, 3)
    return data
