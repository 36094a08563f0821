"""One place where errors become responses.

The JSON API (and every federation endpoint) answers errors as
``{"error": code, "message": text}`` with a matching status, plus
``"fields"`` for 422 (docs/interface.md); pages answer with an HTML error page.
Which one is decided by the path and the ``Accept`` header.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

from quart import Quart, Response, jsonify, render_template, request
from werkzeug.exceptions import Conflict, HTTPException

from config.states import StateError
from domain.validation import Invalid
from federation.errors import FederationError
from instance.api_errors import CODES, ApiError, Forbidden, NotFound
from instance.health import database_name
from instance.i18n import gettext, select_locale
from instance.negotiation import wants_activity_json
from instance.node import current_node
from instance.outage import MESSAGES, RETRY_AFTER, database_trouble, requests_log

__all__ = ["CODES", "ApiError", "Forbidden", "NotFound"]  # their home is instance.api_errors

log = logging.getLogger(__name__)


def json_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code or CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wants_json() -> bool:
    """Whether the current request should get errors as JSON."""
    path = request.path
    if path == "/api" or path.startswith(
        ("/api/", "/.well-known/", "/nodeinfo", "/inbox", "/activities/")
    ):
        return True
    if path.endswith(("/inbox", "/outbox", "/followers", "/following")):
        return True
    return wants_activity_json()


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def _api_error(error: ApiError) -> Response:
        return json_error(
            error.status, error.message, code=error.code, fields=error.fields, headers=error.headers
        )

    @app.errorhandler(Invalid)
    async def _invalid(error: Invalid) -> Response:
        return json_error(422, "some fields are invalid", fields=error.messages())

    @app.errorhandler(FederationError)
    async def _federation_error(error: FederationError) -> Response:
        return json_error(error.status, error.message, code=error.code)

    @app.errorhandler(StateError)
    async def _state_error(error: StateError) -> Any:
        # A change of state the aggregate's table refuses (``config.states``): 409.
        return await _http_error(Conflict(error.message))

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Any:
        status = error.code or 500
        if wants_json():
            message = error.description or CODES.get(status, "error")
            response = json_error(status, message)
            if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response
        return await render_template("error.html", status=status, error=error), status

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Any:
        # A database that is down or too slow: 503 and a rate-limited line, no traceback.
        unavailable = outage_response(error)
        if unavailable is not None:
            return unavailable
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        if wants_json():
            return json_error(500, "internal error; it has been logged")
        return await render_template("error.html", status=500, error=None), 500


PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/entraide.css">
</head>
<body>
<main id="content" class="wrap">
<section class="error-page">
<p class="error-code">503</p>
<h1>{title}</h1>
<p>{text}</p>
<p><a class="button" href="">{again}</a></p>
</section>
</main>
</body>
</html>
"""


def unavailable_page(text: str | None = None) -> str:
    """The page of a 503, in the page's language, without the layout (which reads the
    database); ``text`` says why (by default: the database cannot be reached)."""
    if text is None:
        text = gettext(
            "The site cannot reach its database right now. Please try again in a moment."
        )
    return PAGE.format(
        lang=html.escape(select_locale()),
        title=html.escape(gettext("Service temporarily unavailable")),
        text=html.escape(text),
        again=html.escape(gettext("Try again")),
    )


def _database() -> str:
    try:
        return database_name(current_node().db.url)
    except (KeyError, RuntimeError):  # no node in this app: the line goes out all the same
        return "the database"


def outage_response(error: BaseException) -> Response | None:
    """The 503 answer to a request that met database trouble; None for other errors."""
    trouble = database_trouble(error)
    if trouble is None:
        return None
    where = "/readyz" if request.path == "/readyz" else f"{request.method} {request.path}"
    requests_log().warn(trouble, error, f"{where}, {_database()}")
    headers = {"Retry-After": str(RETRY_AFTER)}
    if wants_json():
        return json_error(503, MESSAGES[trouble], code="unavailable", headers=headers)
    response = Response(unavailable_page(), status=503, content_type="text/html; charset=utf-8")
    response.headers.update(headers)
    return response
