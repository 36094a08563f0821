"""The listings API and the node's description: happy paths, filters, paging (docs/interface.md)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest

from tests.api.helpers import OWNER, Api, listing_body

pytestmark = pytest.mark.dialect  # search; what does not touch it is marked sqlite_only

# What does not depend on the backend runs on SQLite only; what changes nothing
# runs on one node shared by the module (shared_api).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
shared = pytest.mark.asyncio(loop_scope="module")

# --- create / read ----------------------------------------------------------


async def test_create_returns_the_listing(api: Api) -> None:
    """201 with every field of the contract, the ids pointing at this node."""
    status, body, headers = await api.call(
        "POST",
        "/api/v1/listings",
        token=api.owner,
        json=listing_body(
            quantity="2.5",
            unit="jours",
            price={"amount": "12.50", "currency": "eur"},
            available_from="2026-07-01",
            available_until="2026-08-31",
            location={"commune": "Oloron-Sainte-Marie", "lat": 43.19, "lon": -0.61},
            radius_km=25,
            modality="sell",
        ),
    )
    assert status == 201, body
    assert isinstance(body["id"], int)
    assert body["ap_id"] == f"https://a.test/listings/{body['id']}"
    assert body["url"].startswith("https://a.test/")
    assert body["status"] == "open"
    assert body["origin"] == "a.test"
    assert body["local"] is True
    assert body["structure"] == "menuiserie"
    assert body["author"]["id"] == "https://a.test/actors/menuiserie"
    assert body["quantity"] == "2.5"
    assert body["price"] == {"amount": "12.5", "currency": "EUR"}
    assert body["available_from"] == "2026-07-01"
    assert body["available_until"] == "2026-08-31"
    assert body["location"] == {
        "commune": "Oloron-Sainte-Marie",
        "lat": 43.19,
        "lon": -0.61,
        "placed": "given",
    }
    assert body["radius_km"] == 25
    assert body["modality"] == "sell"
    assert headers["Content-Type"].startswith("application/json")


async def test_get_one(api: Api) -> None:
    """GET /listings/{id} answers what POST returned, without a token."""
    created = await api.publish()
    status, body, _ = await api.call("GET", f"/api/v1/listings/{created['id']}")
    assert status == 200
    assert body == created


async def test_listing_of_a_structure_not_approved_is_hidden(api: Api) -> None:
    """Listings of a suspended structure disappear from reads (404 and absent from lists)."""
    created = await api.publish()
    from sqlalchemy import update

    from domain.models import Structure

    async with api.node.node.db.session() as session:
        await session.execute(update(Structure).values(status="suspended"))
    status, _, _ = await api.call("GET", f"/api/v1/listings/{created['id']}")
    assert status == 404
    _, page, _ = await api.call("GET", "/api/v1/listings")
    assert page["items"] == []


# --- filters ----------------------------------------------------------------


async def _ids(api: Api, query: str) -> list[int]:
    status, body, _ = await api.call("GET", f"/api/v1/listings?{query}")
    assert status == 200, body
    assert set(body) == {"items", "next"}
    return [item["id"] for item in body["items"]]


async def test_filters(api: Api) -> None:
    """kind, category, modality, status, origin and structure each narrow the list."""
    await api.node.structure("ferme", owner=OWNER)
    drill = await api.publish()
    need = await api.publish(
        kind="need", title="Cherche camion", category="vehicles", modality="mutualise"
    )
    food = await api.publish(
        structure="ferme", title="Pommes à donner", category="food", modality="give"
    )
    done = await api.publish(title="Déjà prêtée")
    status, _, _ = await api.call(
        "PATCH", f"/api/v1/listings/{done['id']}", token=api.owner, json={"status": "fulfilled"}
    )
    assert status == 200

    newest_first = [food["id"], need["id"], drill["id"]]
    assert await _ids(api, "") == newest_first  # status=open by default
    assert await _ids(api, "kind=need") == [need["id"]]
    assert await _ids(api, "kind=offer") == [food["id"], drill["id"]]
    assert await _ids(api, "category=food") == [food["id"]]
    assert await _ids(api, "modality=give") == [food["id"]]
    assert await _ids(api, "modality=lend") == [drill["id"]]
    assert await _ids(api, "status=fulfilled") == [done["id"]]
    assert set(await _ids(api, "status=any")) == {*newest_first, done["id"]}
    assert await _ids(api, "origin=local") == newest_first
    assert await _ids(api, "origin=a.test") == newest_first
    assert await _ids(api, "origin=remote") == []
    assert await _ids(api, "origin=elsewhere.example") == []
    assert await _ids(api, "structure=ferme") == [food["id"]]
    assert await _ids(api, "structure=https://a.test/actors/ferme") == [food["id"]]
    assert await _ids(api, "structure=menuiserie&kind=need") == [need["id"]]
    assert await _ids(api, "limit=2") == newest_first[:2]


@pytest.mark.parametrize(
    "query",
    ["kind=gift", "category=weapons", "modality=steal", "status=lost", "limit=0", "limit=abc"],
)
@shared
async def test_bad_filters(shared_api: Api, query: str) -> None:
    """A filter with a value outside the contract is 422 naming it, not an empty list."""
    status, body, _ = await shared_api.call("GET", f"/api/v1/listings?{query}")
    assert status == 422
    assert query.split("=")[0] in body["fields"]


# --- paging -----------------------------------------------------------------


async def test_cursor_paging_is_complete_and_stable(api: Api) -> None:
    """Pages have no duplicates and no gaps, even when listings arrive between fetches.

    The mistake this catches: offset paging, where a new listing shifts every
    later page by one, showing one item twice and hiding none — or, when
    items are withdrawn, skipping one.
    """
    created = [await api.publish(title=f"Annonce {n:02d}") for n in range(7)]
    expected = [c["id"] for c in reversed(created)]
    seen: list[int] = []
    url = "/api/v1/listings?limit=3"
    pages = 0
    while url:
        status, body, _ = await api.call("GET", url)
        assert status == 200
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if pages == 1:
            # A new listing arrives while the client pages: it sorts before the cursor.
            await api.publish(title="Arrivée pendant la lecture")
        url = f"/api/v1/listings?limit=3&cursor={body['next']}" if body["next"] else ""
    assert seen == expected
    assert pages == 3


async def test_paging_with_same_timestamps(api: Api) -> None:
    """Listings published in the same instant are still paged without loss (id breaks ties)."""
    from sqlalchemy import update

    from domain.models import Listing

    created = [await api.publish(title=f"Lot {n}") for n in range(5)]
    async with api.node.node.db.session() as session:
        same = datetime.fromisoformat(created[0]["published"])
        await session.execute(update(Listing).values(published_at=same))
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = await api.call("GET", f"/api/v1/listings?{query}")
        assert status == 200
        seen += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c["id"] for c in created)
    assert len(seen) == len(set(seen))


# --- edit / withdraw ----------------------------------------------------------


async def test_patch_changes_fields_and_moves_updated(api: Api) -> None:
    """PATCH changes only what it is given and moves `updated`, not `published`."""
    created = await api.publish(quantity="3")
    await asyncio.sleep(0.01)
    status, body, _ = await api.call(
        "PATCH",
        f"/api/v1/listings/{created['id']}",
        token=api.owner,
        json={"title": "Raboteuse révisée", "price": {"amount": "5", "currency": "EUR"}},
    )
    assert status == 200, body
    assert body["title"] == "Raboteuse révisée"
    assert body["price"] == {"amount": "5", "currency": "EUR"}
    assert body["quantity"] == "3"
    assert body["description"] == created["description"]
    assert body["published"] == created["published"]
    assert body["updated"] > created["updated"]
    _, again, _ = await api.call("GET", f"/api/v1/listings/{created['id']}")
    assert again == body


async def test_patch_can_clear_optional_fields(api: Api) -> None:
    """null clears price and location (a sale becomes a gift, a place is removed)."""
    created = await api.publish(
        price={"amount": "10", "currency": "EUR"}, location={"commune": "Pau"}
    )
    status, body, _ = await api.call(
        "PATCH",
        f"/api/v1/listings/{created['id']}",
        token=api.owner,
        json={"price": None, "location": None, "modality": "give"},
    )
    assert status == 200, body
    assert body["price"] is None
    assert body["location"] is None


async def test_delete_withdraws(api: Api) -> None:
    """DELETE marks the listing withdrawn (kept for the Delete activity), out of default lists."""
    created = await api.publish()
    status, body, _ = await api.call("DELETE", f"/api/v1/listings/{created['id']}", token=api.owner)
    assert status == 200
    assert body["status"] == "withdrawn"
    _, again, _ = await api.call("GET", f"/api/v1/listings/{created['id']}", token=api.owner)
    assert again["status"] == "withdrawn"
    assert await _ids(api, "") == []
    status, page, _ = await api.call("GET", "/api/v1/listings?status=withdrawn", token=api.owner)
    assert [item["id"] for item in page["items"]] == [created["id"]]
    # Anyone else: gone (tests/security/test_withheld_content.py).
    status, _, _ = await api.call("GET", f"/api/v1/listings/{created['id']}")
    assert status == 404
    assert await _ids(api, "status=withdrawn") == []
    status, body, _ = await api.call("DELETE", f"/api/v1/listings/{created['id']}", token=api.owner)
    assert status == 200  # withdrawing twice is harmless


async def test_moderator_may_edit_and_withdraw_any_listing(api: Api) -> None:
    """Moderators act on every local listing (to fix or remove abuse), without membership."""
    created = await api.publish()
    path = f"/api/v1/listings/{created['id']}"
    status, body, _ = await api.call("PATCH", path, token=api.moderator, json={"title": "Modéré"})
    assert status == 200, body
    assert body["title"] == "Modéré"
    status, body, _ = await api.call("DELETE", path, token=api.moderator)
    assert status == 200
    assert body["status"] == "withdrawn"


@sqlite_only
async def test_moderator_may_not_publish_for_a_structure(api: Api) -> None:
    """Publishing speaks for a structure: its members only, not a moderator (who fixes or
    withdraws what was published; see tests/security/test_acting_for_others.py)."""
    status, body, _ = await api.call(
        "POST", "/api/v1/listings", token=api.moderator, json=listing_body()
    )
    assert status == 403, body


# --- the node -----------------------------------------------------------------


@shared
async def test_categories(shared_api: Api) -> None:
    """The eight category ids of docs/interface.md, each with a French and an English label."""
    status, body, _ = await shared_api.call("GET", "/api/v1/categories")
    assert status == 200
    assert [c["id"] for c in body] == [
        "equipment",
        "vehicles",
        "premises",
        "skills",
        "materials",
        "services",
        "food",
        "other",
    ]
    for category in body:
        assert set(category) == {"id", "label_fr", "label_en"}
        assert category["label_fr"]
        assert category["label_en"]
    assert {c["id"]: c["label_fr"] for c in body}["vehicles"].startswith("Véhicules")


async def test_instance_counts(api: Api) -> None:
    """Counts follow approved structures and open listings; no token needed."""
    await api.node.structure("attente", owner=OWNER, approved=False)
    await api.publish()
    withdrawn = await api.publish(title="Retirée")
    await api.call("DELETE", f"/api/v1/listings/{withdrawn['id']}", token=api.owner)
    status, body, _ = await api.call("GET", "/api/v1/instance")
    assert status == 200
    assert body["name"] == "Territoire A"
    assert body["domain"] == "a.test"
    assert body["territory"] == "https://a.test/actors/territory"
    assert body["software"] == "entraide"
    assert body["version"]
    assert body["counts"] == {
        "structures": 1,
        "listings": 1,
        "local_listings": 1,
        "remote_listings": 0,
        "peers": 0,
    }


@shared
async def test_openapi_document(shared_api: Api) -> None:
    """/api/openapi.json is an OpenAPI 3 document describing the listings endpoints."""
    response = await shared_api.node.client().get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(await response.get_data())
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    paths = document["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/listings"])
    one = next(p for p in paths if p.startswith("/api/v1/listings/{"))
    assert {"get", "patch", "delete"} <= set(paths[one])
    assert "/api/v1/categories" in paths
    assert "/api/v1/instance" in paths
    create = paths["/api/v1/listings"]["post"]
    assert "requestBody" in create
    assert "201" in create["responses"]


@shared
async def test_api_docs_page(shared_api: Api) -> None:
    """/api/docs is a browsable HTML page pointing at the document."""
    response = await shared_api.node.client().get("/api/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/api/openapi.json" in (await response.get_data(as_text=True))
