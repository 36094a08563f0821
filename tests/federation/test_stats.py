"""``GET /api/v1/stats``: figures equal counts made independently, and nothing private."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.federation.test_listings_federation import LISTING, peer
from tests.federation.test_matching import NEED, get, publish
from tests.fedinet import network

pytestmark = pytest.mark.dialect  # aggregates by month per dialect


async def test_stats_count_what_the_territory_holds_and_nothing_private(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, b, a)
        await publish(a, "menuiserie", LISTING)  # a peer's offer: only under origin
        token, need = await publish(b, "atelier", NEED)
        await publish(b, "atelier", {**NEED, "title": "Recherche tuiles", "kind": "offer"})
        await publish(b, "garage", {**LISTING, "structure": "garage", "category": "vehicles"})
        # Private or invisible: a pending structure, a withdrawn and a hidden listing.
        await b.structure("attente", owner="w@b.example", approved=False)
        _, gone = await publish(b, "atelier", {**NEED, "title": "Retirée"})
        assert (
            await b.api("DELETE", f"/api/v1/listings/{gone['id']}", token=token)
        ).status_code == 200
        _, hidden = await publish(b, "atelier", {**NEED, "title": "Masquée"})
        async with b.node.db.session() as session:
            from domain.models import Listing

            row = await session.get(Listing, hidden["id"])
            assert row is not None
            row.hidden = True
        await net.settle()

        stats = await get(b, "/api/v1/stats")
        assert stats["structures"] == 2  # atelier, garage
        # Offers: atelier's tuiles and garage's; needs: the open need and the withdrawn one.
        assert stats["listings"] == {"offers": 2, "needs": 2, "open": 3}
        assert stats["matches"] == 1  # the need on b and the offer from a
        assert stats["peers"] == 1
        assert stats["exchanges"] == {"done": 0, "value_eur": 0, "co2e_kg": 0}
        assert "groups" not in stats

        by_category = {
            g["key"]: g for g in (await get(b, "/api/v1/stats?group_by=category"))["groups"]
        }
        assert by_category["vehicles"]["listings"] == {"offers": 1, "needs": 0, "open": 1}
        assert by_category["materials"]["listings"] == {"offers": 1, "needs": 2, "open": 2}
        by_origin = (await get(b, "/api/v1/stats?group_by=origin"))["groups"]
        assert [(g["key"], g["listings"]["open"]) for g in by_origin] == [
            ("b.test", 3),
            ("a.test", 1),
        ]
        by_kind = {
            g["key"]: g["structures"]
            for g in (await get(b, "/api/v1/stats?group_by=kind"))["groups"]
        }
        assert by_kind == {"business": 2}
        months = (await get(b, "/api/v1/stats?group_by=month"))["groups"]
        assert len(months) == 1 and months[0]["structures"] == 2

        future = await get(b, "/api/v1/stats?from=2999-01-01")
        assert future["listings"] == {"offers": 0, "needs": 0, "open": 0}
        assert future["structures"] == 0
        for bad in (
            "from=yesterday",
            "to=2026-13-01",
            "group_by=person",
            "from=2027-01-02&to=2027-01-01",
        ):
            response = await b.api("GET", f"/api/v1/stats?{bad}")
            assert response.status_code == 422, bad
        assert need["id"]


async def test_the_dashboard_page_shows_the_figures_in_both_languages(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["b.test"]) as (net, (b,)):
        await publish(b, "atelier", NEED)
        await publish(b, "garage", {**LISTING, "structure": "garage", "category": "vehicles"})
        await net.settle()
        client = b.app.test_client()
        for language, words in (
            ("fr", ("Le territoire en chiffres", "Par catégorie", "Véhicules")),
            ("en", ("The territory in figures", "By category", "Vehicles")),
        ):
            page = await client.get("/territoire", headers={"Accept-Language": language})
            html = (await page.get_data()).decode()
            assert page.status_code == 200
            for word in words:
                assert word in html, (language, word)
            assert html.count("<svg") >= 4  # charts drawn on the server
            assert "<table" in html  # with their figures as tables
        bad = await client.get("/territoire?from=hier")
        assert bad.status_code == 422
