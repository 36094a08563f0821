"""Search correctness, the same expectations on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import TestNode

pytestmark = pytest.mark.dialect  # full-text search: FTS5 on SQLite, tsvector on PostgreSQL

ORTHEZ = (43.4886, -0.7722)


async def _setup(node: TestNode) -> str:
    await node.structure(
        "atelier", owner="s@a.example", commune="Orthez", lat=ORTHEZ[0], lon=ORTHEZ[1]
    )
    return await node.token("s@a.example")


async def _post(node: TestNode, token: str, title: str, **fields: Any) -> dict[str, Any]:
    body = {
        "structure": "atelier",
        "kind": "offer",
        "title": title,
        "description": fields.pop("description", "Disponible rapidement."),
        "category": fields.pop("category", "equipment"),
        "modality": fields.pop("modality", "lend"),
        **fields,
    }
    response = await node.api("POST", "/api/v1/listings", token=token, json=body)
    assert response.status_code == 201, await response.get_data()
    result: dict[str, Any] = await response.get_json()
    return result


async def _search(node: TestNode, query: str) -> dict[str, Any]:
    response = await node.api("GET", f"/api/v1/listings?{query}")
    assert response.status_code == 200, await response.get_data()
    result: dict[str, Any] = await response.get_json()
    return result


async def _titles(node: TestNode, query: str) -> list[str]:
    return [item["title"] for item in (await _search(node, query))["items"]]


async def test_stemming_and_accents(node: TestNode) -> None:
    """« tracteurs » finds « tracteur »; « materiaux » finds « matériaux »; English too."""
    token = await _setup(node)
    await _post(node, token, "Tracteur agricole à prêter")
    await _post(node, token, "Matériaux de réemploi", category="materials", modality="give")
    await _post(node, token, "Delivery vans to share", description="Two vans, shared weekly.")
    await _post(node, token, "Salle de réunion")
    assert await _titles(node, "q=tracteurs") == ["Tracteur agricole à prêter"]
    assert await _titles(node, "q=materiaux") == ["Matériaux de réemploi"]
    assert await _titles(node, "q=MAT%C3%89RIAU") == ["Matériaux de réemploi"]
    assert await _titles(node, "q=van") == ["Delivery vans to share"]
    assert await _titles(node, "q=sharing") == ["Delivery vans to share"]
    assert await _titles(node, "q=tracteur+reemploi") == []
    assert await _titles(node, "q=le+la+de") == []


async def test_relevance_prefers_title(node: TestNode) -> None:
    token = await _setup(node)
    await _post(node, token, "Local de stockage", description="Pour vos palettes.")
    await _post(node, token, "Palettes Europe", description="Vingt palettes en bon état.")
    titles = await _titles(node, "q=palette&sort=relevance")
    assert titles[0] == "Palettes Europe"
    assert set(titles) == {"Palettes Europe", "Local de stockage"}


@pytest.mark.parametrize("radius", [9, 11])
async def test_distance_boundary(node: TestNode, radius: int) -> None:
    """A listing 10 km north of the point is inside 11 km and outside 9 km."""
    token = await _setup(node)
    north = ORTHEZ[0] + 10 / 111.195
    await _post(
        node, token, "Dix km au nord", location={"commune": "Nord", "lat": north, "lon": ORTHEZ[1]}
    )
    await _post(
        node, token, "Sur place", location={"commune": "Orthez", "lat": ORTHEZ[0], "lon": ORTHEZ[1]}
    )
    page = await _search(node, f"near={ORTHEZ[0]},{ORTHEZ[1]}&radius_km={radius}&sort=distance")
    titles = [i["title"] for i in page["items"]]
    assert titles == (["Sur place", "Dix km au nord"] if radius == 11 else ["Sur place"])
    distances = [i["distance_km"] for i in page["items"]]
    assert distances[0] == pytest.approx(0, abs=0.01)
    if radius == 11:
        assert distances[1] == pytest.approx(10, abs=0.05)


async def test_paging_has_no_duplicates_or_gaps_while_listings_arrive(node: TestNode) -> None:
    token = await _setup(node)
    first = [await _post(node, token, f"Annonce {i:02d}") for i in range(25)]
    seen: list[int] = []
    page = await _search(node, "limit=10")
    seen += [i["id"] for i in page["items"]]
    for _ in range(3):  # new listings arrive between pages
        await _post(node, token, "Arrivée pendant la pagination")
    while page["next"]:
        page = await _search(node, f"limit=10&cursor={page['next']}")
        seen += [i["id"] for i in page["items"]]
    assert sorted(seen) == sorted(item["id"] for item in first)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("sort", ["distance", "relevance"])
async def test_paging_other_sorts(node: TestNode, sort: str) -> None:
    token = await _setup(node)
    for i in range(12):
        await _post(
            node,
            token,
            f"Perceuse {i}",
            description="perceuse " * (i + 1),
            location={"commune": "X", "lat": ORTHEZ[0] + i / 100, "lon": ORTHEZ[1]},
        )
    query = f"q=perceuse&near={ORTHEZ[0]},{ORTHEZ[1]}&sort={sort}&limit=5"
    page = await _search(node, query)
    seen = [i["id"] for i in page["items"]]
    while page["next"]:
        page = await _search(node, f"{query}&cursor={page['next']}")
        seen += [i["id"] for i in page["items"]]
    assert len(seen) == 12 == len(set(seen))
    if sort == "distance":
        titles = [f"Perceuse {i}" for i in range(12)]
        got = [await _title_of(node, i) for i in seen]
        assert got == titles


async def _title_of(node: TestNode, listing_id: int) -> str:
    response = await node.api("GET", f"/api/v1/listings/{listing_id}")
    title: str = (await response.get_json())["title"]
    return title


async def test_bad_cursor_and_sort(node: TestNode) -> None:
    response = await node.api("GET", "/api/v1/listings?cursor=garbage")
    assert response.status_code == 422
    assert "cursor" in (await response.get_json())["fields"]
    response = await node.api("GET", "/api/v1/listings?sort=distance")
    assert response.status_code == 422
    assert "sort" in (await response.get_json())["fields"]


async def test_relevance_ranks_the_last_arrived_matches_on_postgresql(
    node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ranks only the ``RANKED_CANDIDATES`` last arrived matches when its
    planner expects many more (a common word would rank a quarter of the listings), each
    once across pages, and keeps the filters; SQLite ranks them all."""

    async def many(*_args: Any) -> bool:
        return True

    monkeypatch.setattr("instance.search_filters.RANKED_CANDIDATES", 4)
    monkeypatch.setattr("instance.search.many_matches", many)
    token = await _setup(node)
    ids = []
    for i in range(6):
        kind = "need" if i == 3 else "offer"
        title = "Palettes en bois" if i == 0 else f"Lot {i}"
        listing = await _post(node, token, title, kind=kind, description=f"Palettes, lot {i}.")
        ids.append(listing["id"])
    await _post(node, token, "Tréteaux", description="Sans rapport.")  # newest, no match
    seen: list[int] = []
    query = "q=palette&sort=relevance&kind=offer&limit=2"
    page = await _search(node, query)
    while True:
        seen += [item["id"] for item in page["items"]]
        if not page["next"]:
            break
        page = await _search(node, f"{query}&cursor={page['next']}")
    offers = [listing_id for i, listing_id in enumerate(ids) if i != 3]
    if node.node.db.dialect == "sqlite":
        assert seen[0] == ids[0]  # the title match first
        assert sorted(seen) == sorted(offers)
    else:
        assert sorted(seen) == sorted(offers[-4:])  # the filter applies before the bound
