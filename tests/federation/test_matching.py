"""Needs meet offers: matched on one node and across two peered nodes, both sides told.

Matching runs in the worker (``instance.services.matching``); ``net.settle`` drains it
with the inbox and the deliveries, as the background loops would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.matches import Match, MatchJob
from domain.models import Person, Structure
from domain.social import Notification
from tests.federation.test_listings_federation import LISTING, peer
from tests.fedinet import network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # matching queries per dialect

NEED = {
    "structure": "atelier",
    "kind": "need",
    "title": "Recherche chutes de bois",
    "description": "Pour un atelier de meubles : planches, chutes de chêne ou de hêtre.",
    "category": "materials",
    "modality": "give",
    "location": {"commune": "Mourenx"},  # placed from the gazetteer, 17 km from Orthez
}


async def publish(node: TestNode, handle: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    owner = f"{handle}@{node.domain}.example"
    async with node.node.db.session() as session:
        known = await session.scalar(select(Structure.id).where(Structure.handle == handle))
    if known is None:
        await node.structure(handle, owner=owner)
    token = await node.token(owner)
    response = await node.api("POST", "/api/v1/listings", token=token, json=body)
    assert response.status_code == 201, await response.get_data()
    return token, await response.get_json()


async def get(node: TestNode, path: str, token: str | None = None) -> Any:
    response = await node.api("GET", path, token=token)
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def told_kind(node: TestNode, email: str, kind: str) -> list[dict[str, Any]]:
    async with node.node.db.session() as session:
        rows = await session.execute(
            select(Notification.data)
            .join(Person, Notification.person_id == Person.id)
            .where(Notification.kind == kind, Person.email == email)
            .order_by(Notification.id)
        )
        return [dict(data) for data in rows.scalars()]


async def told(node: TestNode, email: str) -> list[dict[str, Any]]:
    return await told_kind(node, email, "match")


async def test_an_offer_and_a_need_on_one_node_meet(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        offer_token, offer = await publish(a, "menuiserie", LISTING)
        need_token, need = await publish(a, "atelier", NEED)
        await net.settle()

        found = await get(a, f"/api/v1/listings/{need['id']}/matches")
        assert [item["listing"]["id"] for item in found["items"]] == [offer["id"]]
        item = found["items"][0]
        assert 0 < item["score"] <= 1
        assert item["distance_km"] is not None and 10 < item["distance_km"] < 25
        assert "category:materials" in item["reasons"]
        assert any(r.startswith("words:") and "chutes" in r for r in item["reasons"])
        reverse = await get(a, f"/api/v1/listings/{offer['id']}/matches")
        assert [i["listing"]["id"] for i in reverse["items"]] == [need["id"]]
        # The listing's page shows them (« Correspondances »), in French and English.
        for language, heading in (("fr", "Correspondances"), ("en", "Matches")):
            page = await a.app.test_client().get(
                f"/listings/{need['id']}", headers={"Accept-Language": language}
            )
            html = (await page.get_data()).decode()
            assert page.status_code == 200
            assert heading in html and f'href="/listings/{offer["id"]}"' in html, language

        mine = await get(a, "/api/v1/matches?actor=atelier", need_token)
        assert [i["for"]["id"] for i in mine["items"]] == [need["id"]]
        assert mine["items"][0]["listing"]["id"] == offer["id"]
        assert mine["next"] is None

        # Both structures are told, once each.
        assert [n["match"] for n in await told(a, "atelier@a.test.example")] == [offer["id"]]
        assert [n["match"] for n in await told(a, "menuiserie@a.test.example")] == [need["id"]]
        # Editing a side updates the pair without telling again.
        response = await a.api(
            "PATCH",
            f"/api/v1/listings/{need['id']}",
            token=need_token,
            json={"title": "Recherche chutes de chêne"},
        )
        assert response.status_code == 200
        await net.settle()
        assert len(await told(a, "atelier@a.test.example")) == 1
        async with a.node.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Match)) == 1
            assert await session.scalar(select(func.count()).select_from(MatchJob)) == 0

        # A change that no longer fits (another category) drops the pair.
        response = await a.api(
            "PATCH",
            f"/api/v1/listings/{need['id']}",
            token=need_token,
            json={"category": "equipment"},
        )
        assert response.status_code == 200
        await net.settle()
        assert (await get(a, f"/api/v1/listings/{offer['id']}/matches"))["items"] == []

        # Back in the category, then the offer is withdrawn: no match is left.
        await a.api(
            "PATCH", f"/api/v1/listings/{need['id']}", token=need_token,
            json={"category": "materials"},
        )  # fmt: skip
        await net.settle()
        assert len((await get(a, f"/api/v1/listings/{need['id']}/matches"))["items"]) == 1
        response = await a.api("DELETE", f"/api/v1/listings/{offer['id']}", token=offer_token)
        assert response.status_code == 200
        await net.settle()
        assert (await get(a, f"/api/v1/listings/{need['id']}/matches"))["items"] == []


async def test_what_does_not_fit_is_not_matched(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Too far (Pau, 37 km), or of one structure, or a sale for a gift: no match."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        _, offer = await publish(a, "menuiserie", LISTING)
        await publish(a, "atelier", {**NEED, "location": {"commune": "Pau"}})
        await publish(a, "vendeur", {**NEED, "structure": "vendeur", "modality": "sell"})
        await publish(a, "menuiserie", {**NEED, "structure": "menuiserie"})
        await net.settle()
        found = await get(a, f"/api/v1/listings/{offer['id']}/matches")
        # Only the sale need fits: a gift answers a need to buy.
        assert [i["listing"]["structure"] for i in found["items"]] == ["vendeur"]


async def test_a_need_on_b_meets_an_offer_on_a(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Two peered nodes: each matches what it knows, and each tells its own structure."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await peer(net, b, a)
        _, offer = await publish(a, "menuiserie", LISTING)
        need_token, need = await publish(b, "atelier", NEED)
        await net.settle()

        on_b = await get(b, f"/api/v1/listings/{need['id']}/matches")
        assert [i["listing"]["ap_id"] for i in on_b["items"]] == [offer["ap_id"]]
        assert on_b["items"][0]["listing"]["origin"] == "a.test"
        on_a = await get(a, f"/api/v1/listings/{offer['id']}/matches")
        assert [i["listing"]["ap_id"] for i in on_a["items"]] == [need["ap_id"]]
        assert [n["match_title"] for n in await told(b, "atelier@b.test.example")] == [
            offer["title"]
        ]
        assert [n["match_title"] for n in await told(a, "menuiserie@a.test.example")] == [
            need["title"]
        ]
        mine = await get(b, "/api/v1/matches?actor=atelier", need_token)
        assert mine["items"][0]["listing"]["origin"] == "a.test"


async def test_matches_of_a_structure_need_its_membership(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        offer_token, _ = await publish(a, "menuiserie", LISTING)
        await publish(a, "atelier", NEED)
        await net.settle()
        response = await a.api("GET", "/api/v1/matches?actor=atelier", token=offer_token)
        assert response.status_code == 403
        response = await a.api("GET", "/api/v1/matches?actor=atelier")
        assert response.status_code == 401
        for bad in ("limit=0", "limit=x", "cursor=zzz"):
            response = await a.api(
                "GET", f"/api/v1/matches?actor=menuiserie&{bad}", token=offer_token
            )
            assert response.status_code == 422, bad


async def test_a_saved_search_on_b_is_told_of_a_new_listing_on_a(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, b, a)
        token, _ = await publish(b, "atelier", NEED)
        response = await b.api(
            "POST",
            "/api/v1/saved-searches",
            token=token,
            json={
                "actor": "atelier",
                "name": "Bois près de Mourenx",
                "query": {"q": "chêne", "kind": "offer", "near": "Mourenx", "radius_km": 40},
            },
        )
        assert response.status_code == 201, await response.get_data()
        saved = await response.get_json()
        assert saved["query"] == {
            "q": "chêne", "kind": "offer", "near": "Mourenx", "radius_km": "40",
        }  # fmt: skip
        listed = await get(b, "/api/v1/saved-searches?actor=atelier", token)
        assert [s["id"] for s in listed["items"]] == [saved["id"]]

        await publish(a, "menuiserie", LISTING)  # fits: an offer of chêne at Orthez
        await publish(a, "menuiserie", {**LISTING, "title": "Tuiles", "description": "Tuiles"})
        await net.settle()
        alerts = [n for n in await told_kind(b, "atelier@b.test.example", "saved_search")]
        assert [(n["name"], n["listing_title"], n["origin"]) for n in alerts] == [
            ("Bois près de Mourenx", LISTING["title"], "a.test")
        ]
        # Told once: the listing edited on A does not alert again.
        await net.settle()
        assert len(await told_kind(b, "atelier@b.test.example", "saved_search")) == 1

        response = await b.api("DELETE", f"/api/v1/saved-searches/{saved['id']}", token=token)
        assert response.status_code == 204
        assert (await get(b, "/api/v1/saved-searches?actor=atelier", token))["items"] == []


async def test_saved_searches_refuse_bad_queries_and_strangers(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (_net, (a,)):
        token, _ = await publish(a, "atelier", NEED)
        other, _ = await publish(a, "menuiserie", LISTING)
        for body, field in (
            ({"actor": "atelier", "name": "x", "query": {"kind": "maybe"}}, "query.kind"),
            ({"actor": "atelier", "name": "x", "query": {"nope": "1"}}, "query"),
            ({"actor": "atelier", "name": "x", "query": "q=bois"}, "query"),
            ({"actor": "atelier", "name": "", "query": {}}, "name"),
            ({"actor": "atelier", "name": "x", "query": {"near": "Nulle-Part"}}, "query.near"),
        ):
            response = await a.api("POST", "/api/v1/saved-searches", token=token, json=body)
            assert response.status_code == 422, body
            assert field in (await response.get_json())["fields"], body
        response = await a.api(
            "POST", "/api/v1/saved-searches", token=other,
            json={"actor": "atelier", "name": "x", "query": {}},
        )  # fmt: skip
        assert response.status_code == 403
        response = await a.api(
            "POST", "/api/v1/saved-searches", token=token,
            json={"actor": "atelier", "name": "x", "query": {"q": "bois"}},
        )  # fmt: skip
        saved = await response.get_json()
        response = await a.api("DELETE", f"/api/v1/saved-searches/{saved['id']}", token=other)
        assert response.status_code == 404
