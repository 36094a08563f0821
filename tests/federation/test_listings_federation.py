"""Listings travel between peered territories (two and three real nodes in one process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from federation.models import InboxItem, Tombstone
from federation.signatures import sign_request
from instance.services import peering
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
        assert seen["location"] == {
            "commune": "Orthez",
            "lat": 43.4886,
            "lon": -0.7722,
            "placed": "given",
        }
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


# ------------------------------------------------------------------ tombstones


def _carrying(net: FediNet, host: str, kind: str, object_id: str) -> dict[str, Any]:
    """The first activity of type ``kind`` about ``object_id`` that was POSTed to ``host``."""
    for activity in net.activities_to(host):
        obj = activity.get("object")
        if activity.get("type") == kind and isinstance(obj, dict) and obj.get("id") == object_id:
            return activity
    raise AssertionError(f"no {kind} of {object_id} was delivered to {host}")


async def _outcome(node: TestNode, activity_id: str) -> tuple[str, str | None]:
    """(state, reason) of a processed inbox item."""
    async with node.node.db.session() as session:
        item = await session.scalar(select(InboxItem).where(InboxItem.activity_uri == activity_id))
    assert item is not None, activity_id
    return item.state, item.error


async def _tombstoned(node: TestNode, uri: str) -> bool:
    async with node.node.db.session() as session:
        return await session.get(Tombstone, uri) is not None


async def test_deleted_listing_is_not_resurrected_by_a_late_create(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Attack (or a slow network): A withdraws its listing, B receives the Delete(Tombstone)
    and drops its copy. Then A's original Create reaches B again under a fresh activity id
    (a delayed retry, or a replay signed with A's genuine key, so the inbox accepts it), and
    so does an Update of the same object. B keeps the listing deleted: the object id is
    tombstoned and both activities are ignored with that reason."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        token, created = await publish(a)
        await net.settle()
        ap_id = created["ap_id"]
        assert [i["ap_id"] for i in await remote_listings(b)] == [ap_id]
        create = _carrying(net, "b.test", "Create", ap_id)

        response = await a.api("DELETE", f"/api/v1/listings/{created['id']}", token=token)
        assert response.status_code == 200
        await net.settle()
        delete = _carrying(net, "b.test", "Delete", ap_id)
        assert delete["object"]["type"] == "Tombstone"
        assert await remote_listings(b, status="any") == []
        assert await _tombstoned(b, ap_id)

        late = {**create, "id": create["id"] + "-late"}
        assert await _deliver_as(net, a, "menuiserie", b, late) == 202
        note = {**create["object"], "name": "Revenu", "updated": "2099-01-01T00:00:00Z"}
        update = {**create, "id": create["id"] + "-update", "type": "Update", "object": note}
        assert await _deliver_as(net, a, "menuiserie", b, update) == 202
        await net.settle()

        assert await remote_listings(b, status="any") == []
        for activity in (late, update):
            state, reason = await _outcome(b, activity["id"])
            assert state == "ignored", (activity["type"], state, reason)
            assert reason and "deleted" in reason, reason


async def test_delete_arriving_before_its_create_keeps_the_listing_out(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Out-of-order delivery: B gets A's Delete of a listing it has never seen, then the
    Create of that listing. The Delete leaves a tombstone although there was nothing to
    delete, and the Create that comes after it stores nothing."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        original = _carrying(net, "b.test", "Create", created["ap_id"])
        # Another listing of the same author, whose Delete overtakes its Create.
        ap_id = created["ap_id"] + "-second"
        note = {**original["object"], "id": ap_id, "url": ap_id, "name": "Planches de noyer"}
        create = {**original, "id": original["id"] + "-second", "object": note}
        delete = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": original["id"] + "-second-delete",
            "type": "Delete",
            "actor": "https://a.test/actors/menuiserie",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"id": ap_id, "type": "Tombstone"},
        }
        assert await _deliver_as(net, a, "menuiserie", b, delete) == 202
        await net.settle()
        assert await _tombstoned(b, ap_id)

        assert await _deliver_as(net, a, "menuiserie", b, create) == 202
        await net.settle()
        assert [i["ap_id"] for i in await remote_listings(b, status="any")] == [created["ap_id"]]
        state, reason = await _outcome(b, create["id"])
        assert state == "ignored" and reason and "deleted" in reason, (state, reason)


# ------------------------------------------------------------------ search on the peer

PAU = "43.2951,-0.3708"  # 38.9 km from Orthez, where A's listing is
STRASBOURG = "48.5734,7.7521"  # about 900 km away


async def test_listing_published_on_a_is_found_on_b_by_text_category_distance_and_origin(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A's listing « Chutes de chêne » (materials, at Orthez), once federated, is found by B's
    search API: by a word typed without its accent (« chene »), by its category, within a
    radius of a point near Orthez, and by A's domain as origin. B has a listing of its own
    (« Table en chêne », equipment, at Strasbourg) that the same words find too, so each
    filter is seen to select, and queries that should miss A's listing (another category,
    too small a radius, a far point, another origin) do miss it."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        _, created = await publish(a)
        await b.structure("atelier", owner="t@b.example")
        response = await b.api(
            "POST",
            "/api/v1/listings",
            token=await b.token("t@b.example"),
            json={
                **LISTING,
                "structure": "atelier",
                "title": "Table en chêne",
                "description": "Grande table d'atelier en chêne, à prêter.",
                "category": "equipment",
                "modality": "lend",
                "location": {"commune": "Strasbourg", "lat": 48.5734, "lon": 7.7521},
            },
        )
        assert response.status_code == 201, await response.get_data()
        local = (await response.get_json())["ap_id"]
        await net.settle()
        theirs = created["ap_id"]

        async def found(query: str) -> set[str]:
            response = await b.api("GET", f"/api/v1/listings?{query}")
            assert response.status_code == 200, (query, await response.get_data())
            return {item["ap_id"] for item in (await response.get_json())["items"]}

        # Text: accents folded both ways, words from the title or the description.
        assert await found("q=chene") == {theirs, local}
        assert await found("q=ch%C3%AAne") == {theirs, local}
        assert await found("q=chutes%20chene") == {theirs}
        assert await found("q=massif") == {theirs}
        assert await found("q=noyer") == set()
        # Category.
        assert await found("category=materials") == {theirs}
        assert await found("q=chene&category=equipment") == {local}
        assert await found("category=vehicles") == set()
        # Distance.
        assert await found(f"near={PAU}&radius_km=50") == {theirs}
        assert await found(f"near={PAU}&radius_km=30") == set()
        assert await found(f"near={STRASBOURG}&radius_km=50") == {local}
        assert await found("near=45.0,3.0&radius_km=100") == set()
        response = await b.api("GET", f"/api/v1/listings?near={PAU}&radius_km=50&sort=distance")
        [hit] = (await response.get_json())["items"]
        assert abs(hit["distance_km"] - 38.9) < 0.5, hit["distance_km"]
        # Origin.
        assert await found("origin=a.test") == {theirs}
        assert await found("origin=A.Test") == {theirs}
        assert await found("origin=remote") == {theirs}
        assert await found("origin=local") == {local}
        assert await found("origin=c.test") == set()
        # All at once.
        assert await found(f"q=chene&category=materials&near={PAU}&radius_km=50&origin=a.test") == {
            theirs
        }
