"""Helpers of the reply tests: a listing on a node, fixtures moved to test hosts, signing."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from federation.signatures import sign_request
from tests.fedinet import FakeActor
from tests.support import TestNode

FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads"
LISTING = {
    "structure": "ferme",
    "kind": "offer",
    "title": "Broyeur de végétaux",
    "description": "À prêter le week-end.",
    "category": "equipment",
    "modality": "lend",
}


@cache
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def listing_on(node: TestNode, handle: str = "ferme") -> tuple[str, dict[str, Any]]:
    """A structure ``handle`` on ``node`` with one listing: its token and the listing."""
    await node.structure(handle, owner=f"{handle}@a.example")
    token = await node.token(f"{handle}@a.example")
    response = await node.api(
        "POST", "/api/v1/listings", token=token, json={**LISTING, "structure": handle}
    )
    assert response.status_code == 201, await response.get_data()
    return token, await response.get_json()


def fixture(name: str, node: TestNode, listing: dict[str, Any], **hosts: str) -> dict[str, Any]:
    """A payload fixture aimed at ``listing`` of ``node``, its sender moved to test hosts."""
    raw = (FIXTURES / name).read_text()
    for old, new in hosts.items():
        raw = raw.replace(f"https://{old}", f"https://{new}")
    raw = raw.replace("https://entraide.example/listings/7", listing["ap_id"])
    raw = raw.replace("https://entraide.example", node.base_url)
    document: dict[str, Any] = json.loads(raw)
    return document


async def deliver(node: TestNode, actor: FakeActor, activity: dict[str, Any]) -> None:
    """POST ``activity`` to the node's shared inbox, signed by ``actor``."""
    body = json.dumps(activity).encode()
    url = f"{node.base_url}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, actor.signing_key))
    response = await node.client().post("/inbox", data=body, headers=headers)
    assert response.status_code == 202, await response.get_data()


async def replies(node: TestNode, listing_id: int, **query: Any) -> Any:
    args = "&".join(f"{k}={v}" for k, v in query.items())
    response = await node.api("GET", f"/api/v1/listings/{listing_id}/replies?{args}")
    return response.status_code, await response.get_json()


async def notifications(node: TestNode, token: str, handle: str) -> list[dict[str, Any]]:
    response = await node.api("GET", f"/api/v1/notifications?actor={handle}", token=token)
    assert response.status_code == 200, await response.get_data()
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items
