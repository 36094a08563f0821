"""/api/openapi.json (and Swagger UI at /api/docs): the JSON API, and only it.

The document lists the ``/api/v1`` routes and no page, ActivityPub endpoint, feed or
open-data file; every path names all its parameters (before: ``/@{fmt}``,
``/admin/peers/{action}`` without ``{host}``, ``/api/v1/moderation/structures/{action}``
without ``{handle}``), operations are grouped by tag, and the whole validates against
the OpenAPI 3.1 schema (openapi-spec-validator).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from instance.openapi import openapi_path, tag_of
from tests.api.helpers import Api

shared = pytest.mark.asyncio(loop_scope="module")


async def _document(api: Api) -> dict[str, Any]:
    response = await api.node.client().get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = await response.get_json()
    return document


@shared
async def test_document_holds_the_api_routes_only_and_validates(shared_api: Api) -> None:
    document = await _document(shared_api)
    validate(document)  # raises on any departure from the OpenAPI 3.1 schema
    paths = document["paths"]
    assert paths and all(path.startswith("/api/v1/") for path in paths), list(paths)
    api_rules = {
        openapi_path(rule.rule)
        for rule in shared_api.node.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert set(paths) == api_rules
    for path, item in paths.items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            named = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert named == in_path, (path, method, named)
            assert operation["tags"], (path, method)


@shared
async def test_operations_are_grouped_by_tag(shared_api: Api) -> None:
    document = await _document(shared_api)
    tags = [tag["name"] for tag in document["tags"]]
    assert {"listings", "messages", "moderation", "structures", "saved-searches"} <= set(tags)
    assert len(tags) < len(document["paths"])  # groups, not one tag a path
    moderation = document["paths"]["/api/v1/moderation/structures/{handle}/{action}"]
    assert moderation["post"]["tags"] == ["moderation"]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_paths_and_tags_of_rules() -> None:
    rule = "/api/v1/communities/<handle>/posts/<int:post_id>/<any(pin, unpin, remove):action>"
    assert openapi_path(rule) == "/api/v1/communities/{handle}/posts/{post_id}/{action}"
    assert tag_of("/api/v1/saved-searches/<int:saved_id>") == "saved-searches"


@shared
async def test_writes_document_the_optional_idempotency_key(shared_api: Api) -> None:
    """A client generator sees the header on every write, and on no read."""
    document = await _document(shared_api)
    for item in document["paths"].values():
        for method, operation in item.items():
            headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
            if method in ("post", "put", "patch", "delete"):
                assert headers["Idempotency-Key"]["required"] is False
            else:
                assert "Idempotency-Key" not in headers
