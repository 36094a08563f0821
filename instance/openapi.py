"""The OpenAPI document at ``/api/openapi.json`` (shown by Swagger UI at ``/api/docs``).

quart-schema describes every route of the app; the document is about the JSON API, so
:class:`ApiOnly` keeps the ``/api/v1`` routes only (the pages, the ActivityPub endpoints,
the feeds and open data are documented in the README and INTERFACE), writes each path
with all its parameters (quart-schema's pattern ran from the first ``<`` of a path to
the first ``:``, turning ``/api/v1/moderation/structures/<handle>/<any(…):action>`` into
``…/structures/{action}``), gives operations an id that names their route and a
default response where they declare none (OpenAPI requires one), and groups them by
tag: the first segment after ``/api/v1/`` (``listings``, ``messages``, …) unless the
route names its own. Every write (POST, PUT, PATCH, DELETE) lists the optional
``Idempotency-Key`` header (``instance.services.idempotency``).

The document is built once per app, on its first request (about 50 ms of CPU
for the forty API paths), and served from that copy afterwards: the routes do not change
once the app serves.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from instance.draining import UNSAFE

API_PREFIX = "/api/v1/"
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Optional: a unique key of this request (1 to 255 printable ASCII characters). "
        "Sent again with the same request, the first answer is returned with "
        "`Idempotent-Replayed: true` and nothing runs twice; with another request, 422 "
        "`idempotency_key_reused`; while the first still runs, 409 "
        "`idempotency_key_in_progress`. Kept `web.idempotency_hours` (24 by default)."
    ),
}
_PARAMETER = re.compile(r"<(?:[^<>:]*:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """``/api/v1/listings/<int:listing_id>`` → ``/api/v1/listings/{listing_id}``."""
    return _PARAMETER.sub(r"{\1}", rule)


def tag_of(rule: str) -> str:
    """The group of a route: ``/api/v1/saved-searches/<int:saved_id>`` → ``saved-searches``."""
    return rule[len(API_PREFIX) :].split("/", 1)[0]


class ApiOnly(OpenAPIProvider):
    """quart-schema's provider, for the ``/api/v1`` routes only (see the module doc)."""

    def generate_rules(self) -> Iterable[Rule]:
        return (rule for rule in super().generate_rules() if rule.rule.startswith(API_PREFIX))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        path = openapi_path(rule.rule)
        func = self._app.view_functions[rule.endpoint]
        operations: dict[str, Any] = {}
        for operations_of_path in paths.values():
            for method, operation in operations_of_path.items():
                operation["tags"] = operation.get("tags") or [tag_of(rule.rule)]
                operation["operationId"] = f"{method}_{func.__name__}"
                # A route without a declared response still answers: OpenAPI wants one.
                operation["responses"] = operation.get("responses") or {
                    "default": {"description": 'A JSON document (errors: `{"error": …}`)'}
                }
                if method.upper() in UNSAFE:
                    operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
                operations[method] = operation
        return {path: operations}, components

    _document: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self._build()
        # A copy: whoever receives the document may change it without changing the next.
        return copy.deepcopy(self._document)

    def _build(self) -> dict[str, Any]:
        document = super().schema()
        document["paths"] = dict(sorted(document["paths"].items()))
        tags = sorted(
            {
                tag
                for item in document["paths"].values()
                for op in item.values()
                for tag in op["tags"]
            }
        )
        document["tags"] = [{"name": tag} for tag in tags]
        return document

    def operation_id(self, method: str, path: str, func: Callable[..., Any]) -> str | None:
        return f"{method.lower()}_{func.__name__}"
