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

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


async def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400/415 ApiError."""
    if not request.is_json:
        raise ApiError(415, "send JSON with Content-Type: application/json")
    data = await request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


from instance.api import follows, listings, meta, timeline  # noqa: E402

__all__ = ["blueprint", "follows", "json_body", "listings", "meta", "timeline"]
