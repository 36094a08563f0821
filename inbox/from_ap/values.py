"""Reading single values of an ActivityStreams document, bounded and checked.

Shared by the converters of this package. Each helper returns a typed value
or None (or an empty string) for what is missing or wrong; none raises. A
converter raises :class:`MalformedObject` when an object cannot be read at
all.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.sanitize import plain_text
from federation.errors import PayloadError
from federation.keys import host_of
from federation.origin import object_id

MAX_DECIMAL = Decimal("1000000000")
MAX_URI = 2048  # the length of URI columns


class MalformedObject(PayloadError):
    """An object that a converter cannot read; the message says why."""


def types_of(obj: dict[str, Any]) -> set[str]:
    """The ``type`` of an object as a set (one type or a list of them)."""
    value = obj.get("type")
    items = value if isinstance(value, list) else [value]
    return {t for t in items if isinstance(t, str)}


def text(value: Any, limit: int) -> str:
    """A plain-text string, at most ``limit`` characters ("" for anything else)."""
    return plain_text(value).strip()[:limit] if isinstance(value, str) else ""


def own(obj: dict[str, Any], name: str) -> Any:
    """Our own term, whether the sender compacted it with the prefix or not."""
    for key in (f"entraide:{name}", name):
        if key in obj:
            return obj[key]
    return None


def uris(value: Any) -> list[str]:
    """The ids of one reference or a list of references (objects or strings)."""
    items = value if isinstance(value, list) else [value]
    return [u for u in (object_id(i) for i in items) if u]


def http_uri(value: Any) -> str | None:
    """An http(s) id no longer than a URI column, or None."""
    found = object_id(value)
    if found is None or len(found) > MAX_URI or not found.startswith(("https://", "http://")):
        return None
    return found


def same_host(uri: str, other: str) -> bool:
    """Whether two ids are on the same host (False when either has none)."""
    try:
        return host_of(uri) == host_of(other)
    except PayloadError:
        return False


def decimal(value: Any) -> Decimal | None:
    """A finite number from 0 below a billion, to three places, or None."""
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


def coordinate(value: Any, bound: float) -> float | None:
    """A finite number no larger than ``bound`` in absolute value, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # a 400-digit integer is valid JSON
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time (UTC when it names no zone), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value: Any) -> date | None:
    found = moment(value)
    return found.date() if found else None
