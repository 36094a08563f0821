"""Listings travel between peered territories (two and three real nodes in one process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from federation.signatures import sign_request
from instance import peering
from tests.fedinet import FediNet, network
from tests.support import TestNode

LISTING = {
    "structure": "menuiserie",
    "kind": "offer",
    "title": "Chutes de chêne",
    "description": "Chutes de bois massif à donner, idéal pour un atelier.",
    "category": "materials",
    "modality": "give",
    "quantity": "300",
    "unit": "kg",
    "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
    "radius_km": 30,
}


async def peer(net: FediNet, a: TestNode, b: TestNode) -> None:
    await peering.request(a.node, f"acct:territory@{b.domain}")
    await net.settle()
    await peering.approve(b.node, a.domain)
    await net.settle()


async def publish(a: TestNode, **changes: Any) -> tuple[str, dict[str, Any]]:
    await a.structure("menuiserie", owner="m@a.example")
    token = await a.token("m@a.example")
    response = await a.api("POST", "/api/v1/listings", token=token, json={**LISTING, **changes})
    assert response.status_code == 201, await response.get_data()
    return token, await response.get_json()


async def remote_listings(b: TestNode, **query: str) -> list[dict[str, Any]]:
    params = "&".join(f"{k}={v}" for k, v in {"origin": "remote", **query}.items())
    response = await b.api("GET", f"/api/v1/listings?{params}")
    assert response.status_code == 200
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items


async def test_listing_published_edited_withdrawn_reaches_peer(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Given A and B peered, a listing created, edited and withdrawn on A follows on B."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        token, created = await publish(a)
        await net.settle()

        items = await remote_listings(b)
        assert [i["ap_id"] for i in items] == [created["ap_id"]]
        seen = items[0]
        assert seen["origin"] == "a.test"
        assert seen["title"] == "Chutes de chêne"
        assert (seen["category"], seen["modality"], seen["kind"]) == ("materials", "give", "offer")
        assert seen["quantity"] == "300"
        assert seen["unit"] == "kg"
        assert seen["location"] == {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722}
        assert seen["author"]["id"] == "https://a.test/actors/menuiserie"

        response = await a.api(
            "PATCH",
            f"/api/v1/listings/{created['id']}",
            token=token,
            json={"title": "Chutes de chêne et de hêtre"},
        )
        assert response.status_code == 200
        await net.settle()
        assert [i["title"] for i in await remote_listings(b)] == ["Chutes de chêne et de hêtre"]

        response = await a.api("DELETE", f"/api/v1/listings/{created['id']}", token=token)
        assert response.status_code == 200
        await net.settle()
        assert await remote_listings(b, status="any") == []


async def test_listing_not_stored_without_a_follow(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A listing pushed by a node nobody here follows is not stored (no free riders)."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        _, created = await publish(a)
        await net.settle()
        # B follows nobody on A: deliver the Create by hand, signed correctly by A's structure.
        create = next(act for act in await _outbox(a, "menuiserie") if act["type"] == "Create")
        status = await _deliver_as(net, a, "menuiserie", b, create)
        assert status == 202
        await net.settle()
        assert await remote_listings(b) == []
        assert created["ap_id"]


async def _outbox(node: TestNode, handle: str) -> list[dict[str, Any]]:
    response = await node.client().get(
        f"/actors/{handle}/outbox?page=1", headers={"Accept": "application/activity+json"}
    )
    items: list[dict[str, Any]] = (await response.get_json())["orderedItems"]
    return items


async def _deliver_as(
    net: FediNet, sender: TestNode, handle: str, receiver: TestNode, activity: dict[str, Any]
) -> int:
    """POST ``activity`` to the receiver's shared inbox, signed with ``handle``'s key on sender."""
    from sqlalchemy import select

    from actors.local import territory_actor  # noqa: F401 - keeps import order obvious
    from federation.keystore import actor_signing_key
    from federation.models import Actor

    async with sender.node.db.session() as session:
        actor = (await session.execute(select(Actor).where(Actor.handle == handle))).scalar_one()
        key = actor_signing_key(actor)
    body = json.dumps(activity).encode()
    url = f"https://{receiver.domain}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, key))
    response = await receiver.client().post("/inbox", data=body, headers=headers)
    return response.status_code


async def test_forged_update_from_a_third_node_is_refused(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Attack: C rewrites A's listing on B. C signs an Update of A's object with its own actor
    (origin mismatch → 403), then claims to be A's structure while signing with C's key
    (key owner on another host → 403). B's copy stays as A published it."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test", "c.test"]) as (
        net,
        (a, b, c),
    ):
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        await c.structure("pirate", owner="p@c.example")
        note = json.loads(json.dumps(await _note(a, created["id"])))
        note["name"] = "Arnaque"
        note["content"] = "<p>Arnaque</p>"
        note["updated"] = "2099-01-01T00:00:00Z"

        forged = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://c.test/activities/forged-1",
            "type": "Update",
            "actor": "https://c.test/actors/pirate",
            "object": note,
        }
        assert await _deliver_as(net, c, "pirate", b, forged) == 403

        impersonation = dict(
            forged,
            id="https://a.test/activities/forged-2",
            actor="https://a.test/actors/menuiserie",
        )
        assert await _deliver_as(net, c, "pirate", b, impersonation) == 403
        await net.settle()
        assert [i["title"] for i in await remote_listings(b)] == ["Chutes de chêne"]


async def _note(node: TestNode, listing_id: int) -> dict[str, Any]:
    response = await node.client().get(
        f"/listings/{listing_id}", headers={"Accept": "application/activity+json"}
    )
    assert response.status_code == 200
    assert response.content_type.startswith("application/activity+json")
    note: dict[str, Any] = await response.get_json()
    return note
