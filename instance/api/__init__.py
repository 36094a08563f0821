"""The JSON API under ``/api/v1`` (docs/interface.md, "JSON API").

Bodies are JSON in and out; errors have the shape of ``instance.errors``.
Writes need ``Authorization: Bearer TOKEN``; reads of public data accept an
absent token but refuse a bad one (401). The OpenAPI document is generated
by quart-schema from the ``document_*`` decorators and the pydantic models of
``instance.api.schemas`` (the models document; validation is
``domain.validation``, shared with the forms).
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, request

from federation.errors import PayloadError, PayloadTooLarge, UnsupportedMediaType
from federation.payload import decode_body, load_json
from instance.errors import ApiError
from instance.node import current_node

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


async def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400/413/415/422 ApiError.

    Every JSON body of the API is read here, with the limits of the inbox
    (``federation.payload``): ``gzip``/``deflate`` bodies are inflated with a cap,
    the text must be UTF-8 (or UTF-16/32, as RFC 8259 allows to detect), and the
    JSON no deeper than 64 levels, arrays of at most 10,000 items, objects of at
    most 2,000 keys. A string holding a lone surrogate (``"\\ud800"``, valid JSON
    but no Unicode text, which no database stores) is a 422 naming its field. NUL
    characters, which PostgreSQL can neither store nor compare, are dropped from
    every string (stored text drops them anyway: ``domain.sanitize.plain_text``).
    """
    if not request.is_json:
        raise ApiError(415, "send JSON with Content-Type: application/json")
    # The app's MAX_CONTENT_LENGTH is the largest of all limits (inboxes take more);
    # the API's own, web.max_body_bytes, is checked here: first the announced
    # length, then the bytes actually read (a chunked body announces none).
    limit = current_node().settings.web.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    try:
        text = decode_body(raw, request.headers.get("Content-Encoding"), max_bytes=limit)
        data = load_json(text)
    except PayloadTooLarge:
        raise ApiError(413, f"the body is larger than {limit} bytes") from None
    except UnsupportedMediaType as exc:
        raise ApiError(415, exc.message) from None
    except PayloadError as exc:
        raise ApiError(400, exc.message) from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    if b"\\u" in text:  # a surrogate or a NUL can only come from an escape
        return _checked_text(data)
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def _checked_text(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without NUL characters; 422 for a field (``a.b.0``) with a lone surrogate."""

    def key_of(key: str) -> str:
        if _SURROGATE.search(key):
            raise ApiError(400, "a key of the JSON object is not valid Unicode text")
        return key.replace("\x00", "")

    def clean(path: str, value: Any) -> Any:
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ApiError(
                    422,
                    "some fields are invalid",
                    fields={path: "must be valid Unicode text (it holds a lone surrogate)"},
                )
            return value.replace("\x00", "")
        if isinstance(value, list):
            return [clean(f"{path}.{index}", item) for index, item in enumerate(value)]
        if isinstance(value, dict):
            return {
                key_of(k): clean(f"{path}.{k}" if path else key_of(k), v) for k, v in value.items()
            }
        return value

    # The recursion is bounded: load_json refused anything nested deeper than 64 levels.
    result: dict[str, Any] = clean("", data)
    return result


from instance.api import (  # noqa: E402
    communities,
    exchanges,
    followers,
    follows,
    listings,
    matches,
    messages,
    meta,
    notifications,
    places,
    reports,
    saved_searches,
    stats,
    structures,
    timeline,
)

__all__ = [
    "blueprint",
    "communities",
    "exchanges",
    "followers",
    "follows",
    "json_body",
    "listings",
    "matches",
    "messages",
    "meta",
    "notifications",
    "places",
    "reports",
    "saved_searches",
    "stats",
    "structures",
    "timeline",
]
