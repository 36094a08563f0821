"""Shared helpers of the API tests: a ready node with a structure and tokens, and checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.support import TestNode

OWNER = "owner@example.org"
STRANGER = "stranger@example.org"
MODERATOR = "moderator@example.org"


def listing_body(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/v1/listings body for the structure ``menuiserie``."""
    body: dict[str, Any] = {
        "structure": "menuiserie",
        "kind": "offer",
        "title": "Raboteuse dégauchisseuse",
        "description": "Une raboteuse de 2 kW, prêtée le week-end.",
        "category": "equipment",
        "modality": "lend",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


@dataclass
class Api:
    """A node with the structure ``menuiserie`` (owned by OWNER) and three tokens."""

    node: TestNode
    owner: str
    stranger: str
    moderator: str

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> tuple[int, Any, Any]:
        """(status, JSON body or None, headers) of one request; ``data=`` sends raw bytes."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.node.client().open(path, method=method, headers=sent, **kw)
        raw = await response.get_data()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return response.status_code, body, response.headers

    async def publish(self, **changes: Any) -> dict[str, Any]:
        status, body, _ = await self.call(
            "POST", "/api/v1/listings", token=self.owner, json=listing_body(**changes)
        )
        assert status == 201, body
        assert isinstance(body, dict)
        return body


def assert_error(
    status: int, body: Any, expected: int, code: str, *, fields: set[str] | None = None
) -> None:
    """The status and exactly the error shape of docs/interface.md: error, message[, fields]."""
    assert status == expected, repr(body)[:500]
    assert isinstance(body, dict), body
    keys = set(body)
    assert keys in ({"error", "message"}, {"error", "message", "fields"}), body
    assert body["error"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    if fields is None:
        assert "fields" not in body, body
    else:
        assert "fields" in body, body
        assert isinstance(body["fields"], dict)
        assert all(isinstance(v, str) and v for v in body["fields"].values()), body
        assert fields <= set(body["fields"]), body["fields"]
