"""Given a fresh node, when we ask what it is, then it answers on both backends."""

from __future__ import annotations

import pytest

from tests.support import TestNode

pytestmark = pytest.mark.dialect  # a fresh node answers on both databases


async def test_instance_endpoint(node: TestNode) -> None:
    response = await node.api("GET", "/api/v1/instance")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["software"] == "entraide"
    assert body["territory"] == "https://a.test/actors/territory"
    assert body["counts"]["structures"] == 0


async def test_listing_roundtrip(node: TestNode) -> None:
    await node.structure("menuiserie", owner="o@example.org")
    token = await node.token("o@example.org")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "menuiserie",
            "kind": "offer",
            "title": "Perceuse",
            "description": "Une perceuse",
            "category": "equipment",
            "modality": "lend",
        },
    )
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    response = await node.api("GET", f"/api/v1/listings/{created['id']}")
    assert (await response.get_json())["title"] == "Perceuse"
