"""The JSON API under ``/api/v1`` (INTERFACE.md, "JSON API").

Bodies are JSON in and out; errors have the shape of ``instance.errors``.
Writes need ``Authorization: Bearer TOKEN``; reads of public data accept an
absent token but refuse a bad one (401). The OpenAPI document is generated
by quart-schema from the ``document_*`` decorators and the pydantic models of
``instance.api.schemas`` (the models document; validation is
``domain.validation``, shared with the forms).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from instance.errors import ApiError
from instance.node import current_node

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


async def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400/413/415 ApiError."""
    if not request.is_json:
        raise ApiError(415, "send JSON with Content-Type: application/json")
    # The app's MAX_CONTENT_LENGTH is the largest of all limits (inboxes take more);
    # the API's own, web.max_body_bytes, is checked here: first the announced
    # length, then the bytes actually read (a chunked body announces none).
    limit = current_node().settings.web.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    if len(await request.get_data(cache=True)) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    data = await request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


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
    "timeline",
]
