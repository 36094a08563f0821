"""The directory (``GET /api/v1/structures``) and remote structure pages (``/@handle@host``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.federation.test_listings_federation import peer
from tests.federation.test_matching import NEED, get, publish
from tests.fedinet import network
from tests.web.browser import Browser


async def test_the_directory_lists_local_and_known_remote_structures(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, b, a)
        await a.structure(
            "menuiserie", owner="menuiserie@a.test.example", commune="Orthez", kind="business"
        )
        await publish(a, "menuiserie", {**NEED, "structure": "menuiserie"})
        await b.structure("atelier", owner="at@b.example", commune="Mourenx", kind="association")
        await b.structure("attente", owner="w@b.example", approved=False)
        await net.settle()

        everything = await get(b, "/api/v1/structures")
        by_handle = {e["handle"]: e for e in everything["items"]}
        assert set(by_handle) == {"atelier", "menuiserie@a.test"}  # not the pending one
        remote = by_handle["menuiserie@a.test"]
        assert remote["id"] == "https://a.test/actors/menuiserie"
        assert (remote["origin"], remote["kind"], remote["commune"]) == (
            "a.test", "business", "Orthez",
        )  # fmt: skip
        assert remote["listings"] == 1
        assert remote["url"] == "/@menuiserie@a.test"
        assert remote["lat"] is not None
        local = by_handle["atelier"]
        assert (local["origin"], local["kind"], local["url"]) == (
            "b.test",
            "association",
            "/@atelier",
        )

        async def handles(query: str) -> list[str]:
            page: dict[str, Any] = await get(b, f"/api/v1/structures?{query}")
            return [e["handle"] for e in page["items"]]

        assert await handles("origin=remote") == ["menuiserie@a.test"]
        assert await handles("origin=local") == ["atelier"]
        assert await handles("origin=a.test") == ["menuiserie@a.test"]
        assert await handles("kind=association") == ["atelier"]
        assert await handles("commune=orth") == ["menuiserie@a.test"]
        assert await handles("q=MENUI") == ["menuiserie@a.test"]
        # By what their open listings are about (menuiserie's one need is "materials").
        assert await handles("category=materials") == ["menuiserie@a.test"]
        assert await handles("category=equipment") == []
        first = await get(b, "/api/v1/structures?limit=1")
        second = await get(b, f"/api/v1/structures?limit=1&cursor={first['next']}")
        assert [e["handle"] for e in first["items"] + second["items"]] == [
            "atelier", "menuiserie@a.test",
        ]  # fmt: skip
        assert second["next"] is None
        for bad in ("kind=castle", "category=castles", "limit=0", "cursor=abc"):
            response = await b.api("GET", f"/api/v1/structures?{bad}")
            assert response.status_code == 422, bad

        # Its page on this node, in French and English.
        for language in ("fr", "en"):
            page = await b.app.test_client().get(
                "/@menuiserie@a.test", headers={"Accept-Language": language}
            )
            html = (await page.get_data()).decode()
            assert page.status_code == 200, language
            assert "@menuiserie@a.test" in html
            assert NEED["title"] in html  # its listings known here
        missing = await b.app.test_client().get("/@nobody@a.test")
        assert missing.status_code == 404
        # The directory page lists both, and filters like the API.
        for language, heading in (("fr", "Structures"), ("en", "Structures")):
            page = await b.app.test_client().get(
                "/structures", headers={"Accept-Language": language}
            )
            html = (await page.get_data()).decode()
            assert page.status_code == 200 and heading in html
            assert 'href="/@menuiserie@a.test"' in html and 'href="/@atelier"' in html
            assert "attente" not in html
        page = await b.app.test_client().get("/structures?origin=remote")
        html = (await page.get_data()).decode()
        assert 'href="/@menuiserie@a.test"' in html and 'href="/@atelier"' not in html
        page = await b.app.test_client().get("/structures?category=materials")
        html = (await page.get_data()).decode()
        assert 'href="/@menuiserie@a.test"' in html and 'href="/@atelier"' not in html
        # The placed structures of the page go on its map, named by their territory.
        page = await b.app.test_client().get("/structures", headers={"Accept-Language": "en"})
        html = (await page.get_data()).decode()
        points = json.loads(html.split('id="map-data">', 1)[1].split("</script>", 1)[0])
        placed = {p["url"]: p for p in points}
        assert placed["/@menuiserie@a.test"]["local"] is False
        assert (placed["/@menuiserie@a.test"]["lat"], placed["/@menuiserie@a.test"]["lon"]) == (
            remote["lat"],
            remote["lon"],
        )
        assert placed["/@atelier"]["local"] is True and placed["/@atelier"]["lat"] is not None
        assert "Map of the structures" in html
        # A structure's person writes to any of them from the directory.
        owner = Browser(b)
        await owner.login("at@b.example")
        page = await owner.get("/structures", headers={"Accept-Language": "en"})
        assert 'href="/messages/new?to=acct%3Amenuiserie%40a.test"' in page
        assert 'href="/messages/new?to=acct%3Aatelier%40b.test"' not in page  # its own
        assert 'href="/structures"' in await owner.get("/messages/new")
