"""ActivityStreams documents to typed values: listings.

:func:`listing_from_ap` reads the listing shape of ``outbox/to_ap/listings.py`` (a
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
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.categories import BY_HASHTAG, CATEGORY_IDS
from domain.listings import DESCRIPTION_MAX
from domain.models import LISTING_STATUSES, MODALITIES
from domain.sanitize import html_to_text
from domain.vocabulary import CURRENCY_BY_ITEM, ISO_4217, KIND_BY_PURPOSE, MODALITY_BY_HASHTAG
from federation.errors import PayloadError
from federation.keys import host_of
from federation.origin import object_id
from inbox.from_ap.values import (
    MAX_URI,
    MalformedObject,
    coordinate,
    day,
    decimal,
    moment,
    own,
    text,
    types_of,
)

LISTING_TYPES = frozenset({"Note", "Proposal", "Article", "Page"})
MAX_EXTRA_BYTES = 64 * 1024


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
    named = own(obj, "category")
    if named in CATEGORY_IDS:
        return str(named)
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
        currency = CURRENCY_BY_ITEM.get(conforms.rstrip("/").rsplit("/", 1)[-1], "")
        if conforms.startswith(ISO_4217):
            code = conforms.rsplit(":", 1)[-1]
            # Three ASCII letters, or no currency ("ßßß".upper() is six letters long).
            currency = code.upper() if re.fullmatch(r"[A-Za-z]{3}", code) else ""
    quantity = reciprocal.get("resourceQuantity")
    amount = decimal(quantity.get("hasNumericalValue")) if isinstance(quantity, dict) else None
    if not currency or amount is None:
        return None, ""
    return amount.quantize(Decimal("0.01")), currency


def _modality(obj: dict[str, Any], has_price: bool, reciprocal: Any) -> str:
    named = own(obj, "modality")
    if named in MODALITIES:
        return str(named)
    for tag in _hashtags(obj):
        if tag in MODALITY_BY_HASHTAG:
            return MODALITY_BY_HASHTAG[tag]
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
    if not types_of(obj) & LISTING_TYPES:
        return None
    purpose = obj.get("purpose")
    intent = obj.get("publishes")
    if (
        not isinstance(purpose, str)
        or purpose not in KIND_BY_PURPOSE
        or not isinstance(intent, dict)
    ):
        return None
    ap_id = object_id(obj.get("id"))
    author = object_id(obj.get("attributedTo"))
    if not ap_id or not author:
        raise MalformedObject("a listing needs an id and attributedTo")
    if len(ap_id) > MAX_URI or len(author) > MAX_URI:
        raise MalformedObject(f"a listing's id and author must be at most {MAX_URI} characters")
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
    description = text(own(obj, "description"), DESCRIPTION_MAX)
    if not description:
        description = html_to_text(content) if isinstance(content, str) else ""
    title = text(obj.get("name"), 200) or text(obj.get("summary"), 200)
    if not title:
        first = description.split("\n", 1)[0]
        title = first[:200] or "(sans titre)"
    quantity_doc = intent.get("resourceQuantity")
    quantity = (
        decimal(quantity_doc.get("hasNumericalValue")) if isinstance(quantity_doc, dict) else None
    )
    unit = text(own(obj, "unit"), 32)
    if not unit and isinstance(quantity_doc, dict):
        om2_unit = quantity_doc.get("hasUnit")
        unit = "" if om2_unit in (None, "one") else text(om2_unit, 32)
    reciprocal = obj.get("reciprocal")
    price, currency = _price(reciprocal)
    status = own(obj, "status")
    if status not in LISTING_STATUSES:
        status = "open"
    available = intent.get("availableQuantity")
    if isinstance(available, dict) and decimal(available.get("hasNumericalValue")) == 0:
        status = "fulfilled" if status == "open" else status
    data = ListingData(
        ap_id=ap_id,
        url=url,
        author=author,
        kind=KIND_BY_PURPOSE[str(purpose)],
        title=title,
        description=description,
        category=_category(obj, intent),
        modality=_modality(obj, price is not None, reciprocal),
        quantity=quantity,
        unit=unit,
        price_amount=price,
        price_currency=currency,
        available_from=day(obj.get("startTime")),
        available_until=day(obj.get("endTime")),
        status=str(status),
        published=moment(obj.get("published")),
        updated=moment(obj.get("updated")),
        extra=_extra(obj),
    )
    if data.available_from and data.available_until and data.available_until < data.available_from:
        data.available_until = None
    place = obj.get("location")
    if isinstance(place, list):
        place = next((p for p in place if isinstance(p, dict)), None)
    if isinstance(place, dict):
        data.commune = text(place.get("name"), 200)
        lat = coordinate(place.get("latitude"), 90)
        lon = coordinate(place.get("longitude"), 180)
        if lat is not None and lon is not None:
            data.lat, data.lon = lat, lon
        radius = coordinate(place.get("radius"), 20_000_000)
        if radius is not None and radius > 0:
            units = place.get("units", "m")
            km = radius if units == "km" else radius / 1000 if units in ("m", None) else None
            if km is not None and km <= 1000 and round(km, 3) > 0:
                data.radius_km = round(km, 3)
    return data
