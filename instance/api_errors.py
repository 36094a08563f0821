"""The errors use cases raise, answered as ``{"error": code, "message": text}`` with
their status by :mod:`instance.errors` (which imports the app's request context; this
module imports nothing of the app, so any layer of ``instance`` may raise them)."""

from __future__ import annotations

from collections.abc import Mapping

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error to answer as JSON with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.fields = dict(fields) if fields else None
        self.headers = dict(headers or {})


class Forbidden(ApiError):
    """The person may not do this (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class NotFound(ApiError):
    """No such thing, or not one this person may see (404)."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)
