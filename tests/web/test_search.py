"""The search page: filters of the listings API, a list, and the map's data."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import TestNode
from tests.web.browser import MAP_DATA, Browser, Page
from tests.web.data import remote_listing

pytestmark = pytest.mark.dialect  # full-text search


async def _listings(node: TestNode) -> None:
    await node.structure(
        "menuiserie",
        owner="ana@example.org",
        name="Menuiserie Lasserre",
        commune="Orthez",
        lat=43.4886,
        lon=-0.7722,
    )
    token = await node.token("ana@example.org")
    for title, kind, category, modality in (
        ("Chutes de bois massif", "offer", "materials", "give"),
        ("Camion benne pour un week-end", "need", "vehicles", "lend"),
    ):
        response = await node.api(
            "POST",
            "/api/v1/listings",
            token=token,
            json={
                "structure": "menuiserie",
                "kind": kind,
                "title": title,
                "description": "Voir avec Claire.",
                "category": category,
                "modality": modality,
            },
        )
        assert response.status_code == 201
    await remote_listing(node)


def _points(page: Page) -> list[dict[str, object]]:
    found = MAP_DATA.search(page.text)
    assert found
    points: list[dict[str, object]] = json.loads(found.group(1))
    return points


async def test_search_lists_and_maps_local_and_remote(node: TestNode) -> None:
    await _listings(node)
    page = await Browser(node).get("/search")
    assert page.status == 200
    assert "3 annonces" in page
    for title in (
        "Chutes de bois massif",
        "Camion benne pour un week-end",
        "Cherche bâche agricole",
    ):
        assert title in page
    assert '<div id="map"' in page
    # Leaflet and its clustering plugin are served by the node (static/vendor/README.md).
    for path in (
        "/static/vendor/leaflet-1.9.4/leaflet.js",
        "/static/vendor/leaflet-1.9.4/leaflet.css",
        "/static/vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
    ):
        assert f'"{path}"' in page.text
        assert (await Browser(node).get(path)).status == 200, path
    assert "unpkg.com" not in page.text
    points = _points(page)
    assert len(points) == 3  # the structure's position is used when the listing has none
    origins = {(p["origin"], p["local"]) for p in points}
    assert origins == {("a.test", True), ("b.test", False)}
    assert all(str(p["url"]).startswith("/listings/") for p in points)


async def test_filters(node: TestNode) -> None:
    await _listings(node)
    browser = Browser(node)
    page = await browser.get("/search?kind=need&origin=local")
    assert "1 annonce" in page
    assert "Camion benne" in page
    assert "Chutes de bois" not in page
    assert 'option value="need" selected' in page

    page = await browser.get("/search?q=bois")
    assert "Chutes de bois massif" in page
    assert "Camion benne" not in page

    page = await browser.get("/search?origin=b.test")
    assert "Cherche bâche agricole" in page
    assert "Chutes de bois" not in page

    page = await browser.get("/search?category=vehicles&modality=lend")
    assert "Camion benne" in page
    assert "Chutes de bois" not in page


async def test_near_a_commune_and_errors(node: TestNode) -> None:
    await _listings(node)
    browser = Browser(node)
    page = await browser.get("/search?commune=orthez&radius_km=30")
    assert page.status == 200
    assert 'value="orthez"' in page
    assert '<option value="Orthez">' in page  # suggested communes

    page = await browser.get("/search?commune=Atlantis")
    assert "Cette commune n’est pas encore connue ici" in page
    page = await browser.get("/search?lat=43.4")
    assert "Latitude et longitude vont ensemble" in page
    page = await browser.get("/search?kind=gift")
    assert "Doit être l’une des valeurs suivantes : offer, need." in page
    page = await browser.get("/search?sort=distance")
    assert "Pour trier par distance, indiquez une commune ou une position." in page


async def test_paging(node: TestNode) -> None:
    await _listings(node)
    browser = Browser(node)
    page = await browser.get("/search?limit=1&origin=local")
    assert "Page suivante" in page
    found = re.search(r'href="(/search\?[^"]*cursor=[^"]+)"', page.text)
    assert found
    next_path = found.group(1).replace("&amp;", "&")
    assert "origin=local" in next_path
    following = await browser.get(next_path)
    assert "1 annonce" in following
    assert "Page suivante" not in following
    assert "Chutes de bois massif" in following  # the oldest comes last
    page = await browser.get("/search?cursor=nonsense")
    assert "Ce curseur ne vient pas d’une page précédente." in page
