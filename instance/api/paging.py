"""Paging parameters of the JSON API: ``limit`` and the opaque ``cursor`` of each list.

One reading for every paged list (matches, messages, notifications, exchanges), so
each answers a bad ``limit`` or a cursor it did not make with the same 422.
A cursor is ``instance.search.encode_cursor`` of the last item's sort key; the ids
in it go through ``instance.ids.parse_id`` like any id that comes from outside.
"""

from __future__ import annotations

from datetime import datetime

from instance.errors import ApiError
from instance.ids import parse_id
from instance.search import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor

BAD_CURSOR = "is not a cursor from a previous page"


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "some fields are invalid", fields={field: message})


def page_limit(raw: str | None, default: int = DEFAULT_LIMIT) -> int:
    """``limit``: 1 to :data:`MAX_LIMIT`, ``default`` when absent."""
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise _invalid("limit", f"must be 1 to {MAX_LIMIT}")
    return int(raw)


def id_cursor(raw: str | None) -> int | None:
    """The last id of the previous page (a list sorted by id), None on the first page."""
    if not raw:
        return None
    cursor = decode_cursor(raw)
    last = parse_id(cursor.get("id")) if cursor else None
    if last is None:
        raise _invalid("cursor", BAD_CURSOR)
    return last


def time_cursor(raw: str | None, key: str) -> tuple[str, int] | None:
    """The last (ISO date-time under ``key``, id) of the previous page, or None."""
    if not raw:
        return None
    cursor = decode_cursor(raw) or {}
    when, last = cursor.get(key), parse_id(cursor.get("id"))
    if not isinstance(when, str) or last is None:
        raise _invalid("cursor", BAD_CURSOR)
    try:
        datetime.fromisoformat(when)
    except ValueError:
        raise _invalid("cursor", BAD_CURSOR) from None
    return when, last
