"""What a parsed remote document must satisfy before it may be stored.

Shared by the corpus tests and the property tests: a :class:`ListingData`
that ``listing_from_ap`` returns must fit the ``listings`` columns and the
domain's rules (``domain/models.py``: ``title`` is ``String(200)``,
``quantity`` ``Numeric(14, 3)``, ``price_currency`` ``String(3)``, ids are
``String(2048)``…); a :class:`ParsedActor` from ``parse_actor`` must fit the
``actors`` columns and keep every URL we will POST to on the actor's own host.
"""

from __future__ import annotations

import math
from decimal import Decimal

from domain.categories import CATEGORY_IDS
from domain.models import LISTING_STATUSES, MODALITIES
from federation.actor_doc import ACTOR_TYPES, ParsedActor
from federation.keys import host_of
from inbox.from_ap import ListingData

URI_MAX = 2048
DESCRIPTION_MAX = 10_000
DECIMAL_MAX = Decimal("1e9")


def _decimal_ok(value: Decimal | None, places: int) -> bool:
    if value is None:
        return True
    exponent = value.as_tuple().exponent
    return (
        value.is_finite()
        and Decimal(0) <= value < DECIMAL_MAX
        and isinstance(exponent, int)
        and -exponent <= places
    )


def listing_problems(data: ListingData) -> list[str]:
    """Every way ``data`` does not fit the model (empty when it fits)."""
    problems = []
    for name in ("ap_id", "url", "author"):
        value = getattr(data, name)
        if not isinstance(value, str) or not value or len(value) > URI_MAX:
            problems.append(f"{name} is not a URI of at most {URI_MAX} characters")
    if host_of(data.url) != host_of(data.ap_id):
        problems.append("url is on another host than the id")
    if data.kind not in ("offer", "need"):
        problems.append(f"kind {data.kind!r}")
    if not data.title or len(data.title) > 200:
        problems.append(f"title of {len(data.title)} characters")
    if len(data.description) > DESCRIPTION_MAX:
        problems.append(f"description of {len(data.description)} characters")
    if data.category not in CATEGORY_IDS:
        problems.append(f"category {data.category!r}")
    if data.modality not in MODALITIES:
        problems.append(f"modality {data.modality!r}")
    if data.status not in LISTING_STATUSES:
        problems.append(f"status {data.status!r}")
    if not _decimal_ok(data.quantity, 3):
        problems.append(f"quantity {data.quantity!r}")
    if not _decimal_ok(data.price_amount, 2):
        problems.append(f"price {data.price_amount!r}")
    if (data.price_amount is None) != (data.price_currency == ""):
        problems.append("a price without currency, or a currency without price")
    if len(data.price_currency) > 3:  # String(3)
        problems.append(f"currency {data.price_currency!r}")
    if len(data.unit) > 32 or len(data.commune) > 200:
        problems.append("unit or commune too long")
    if (data.lat is None) != (data.lon is None):
        problems.append("one coordinate without the other")
    if data.lat is not None and not (math.isfinite(data.lat) and -90 <= data.lat <= 90):
        problems.append(f"latitude {data.lat!r}")
    if data.lon is not None and not (math.isfinite(data.lon) and -180 <= data.lon <= 180):
        problems.append(f"longitude {data.lon!r}")
    if data.radius_km is not None and not (
        math.isfinite(data.radius_km) and 0 < data.radius_km <= 1000
    ):
        problems.append(f"radius {data.radius_km!r}")
    if data.available_from and data.available_until and data.available_until < data.available_from:
        problems.append("available_until before available_from")
    for moment in (data.published, data.updated):
        if moment is not None and moment.tzinfo is None:
            problems.append("a naive datetime")
    return problems


def actor_problems(actor: ParsedActor) -> list[str]:
    """Every way ``actor`` does not fit the ``actors`` table or our trust rules."""
    problems = []
    if actor.type not in ACTOR_TYPES:
        problems.append(f"type {actor.type!r}")
    if host_of(actor.uri) != actor.domain or len(actor.domain) > 255:
        problems.append("domain is not the id's host")
    for name in ("uri", "url", "inbox", "shared_inbox", "outbox", "followers", "following"):
        value = getattr(actor, name)
        if value is not None and (not isinstance(value, str) or len(value) > URI_MAX):
            problems.append(f"{name} is not a URI of at most {URI_MAX} characters")
    if host_of(actor.inbox) != actor.domain:
        problems.append("the inbox is on another host")
    if actor.shared_inbox and host_of(actor.shared_inbox) != actor.domain:
        problems.append("the shared inbox is on another host")
    if len(actor.handle) > 255 or len(actor.name) > 500 or len(actor.summary) > 20_000:
        problems.append("handle, name or summary too long")
    if len(actor.also_known_as) > 20:
        problems.append("more than 20 alsoKnownAs")
    for key in actor.keys:
        if key.kind not in ("rsa", "ed25519") or host_of(key.key_id) != actor.domain:
            problems.append(f"key {key.key_id!r} ({key.kind})")
        if len(key.key_id) > URI_MAX:
            problems.append("a key id over the URI limit")
    return problems
