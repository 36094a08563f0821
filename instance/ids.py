"""Row ids as they come from outside: path segments, cursors, JSON fields.

Every id column is a 32-bit ``INTEGER`` on PostgreSQL (SQLite's go to 2**63-1),
so a number past :data:`MAX_ID` can name no row, and handing it to the database
fails (asyncpg: "value out of int32 range"; SQLite: "Python int too large").
Such a number is therefore treated like any other id that names nothing:

* ``<int:…>`` in every route of the app is :class:`IdConverter` (registered by
  :func:`init_ids`, before the blueprints): a path id past the bound is
  answered 404, whatever the method, on pages, the API and federation alike;
* :func:`parse_id` reads an id from a query parameter or a JSON field, giving
  ``None`` for anything that is not a whole number from 1 to :data:`MAX_ID`
  (``True``, ``1.5``, ``"1e3"``, an object), for the caller to answer 404,
  422 or an empty page as its contract says.
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map, ValidationError

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, bounded by :data:`MAX_ID` unless a route says less."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)

    def to_python(self, value: str) -> Any:
        # Werkzeug converts after matching the path, and answers a failed conversion
        # with 405 when a rule of another method has the same path: an id that names
        # nothing is 404, whatever the method.
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


def parse_id(value: Any) -> int | None:
    """``value`` as an id (a JSON integer or a string of digits, 1 to MAX_ID), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
            return None
        value = int(text)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


def init_ids(app: Quart) -> None:
    """Every ``<int:…>`` route segment of ``app`` is bounded (call before adding routes)."""
    app.url_map.converters["int"] = IdConverter
