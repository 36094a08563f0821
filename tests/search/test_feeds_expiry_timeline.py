"""Feeds parse and filter; listings expire; the timeline shows what a structure follows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from sqlalchemy import select, update

from config.database import utcnow
from domain.models import Listing
from federation.models import Activity
from instance.expiry import expire_due
from tests.federation.test_listings_federation import LISTING, peer, publish
from tests.fedinet import network
from tests.search.test_search import _post, _setup
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # search and date arithmetic per dialect


async def test_feeds_parse_and_filter(node: TestNode) -> None:
    token = await _setup(node)
    await _post(node, token, "Camion benne", category="vehicles")
    await _post(node, token, "Perceuse", category="equipment")
    for path in (
        "/feeds/listings.atom",
        "/feeds/listings.rss",
        "/@atelier/feed.atom",
        "/@atelier/feed.rss",
    ):
        response = await node.client().get(path)
        assert response.status_code == 200, path
        body = await response.get_data()
        ElementTree.fromstring(body)  # noqa: S314 - our own output, checked to be well-formed
        parsed = feedparser.parse(body)
        assert not parsed.bozo, (path, parsed.bozo_exception)
        assert len(parsed.entries) == 2
    response = await node.client().get("/feeds/listings.atom?category=vehicles&kind=offer")
    parsed = feedparser.parse(await response.get_data())
    assert [e.title for e in parsed.entries] == ["Offre : Camion benne"]
    assert (await node.client().get("/@nobody/feed.atom")).status_code == 404
    assert (await node.client().get("/feeds/listings.atom?category=nope")).status_code == 422


async def test_expiry_marks_and_federates(node: TestNode) -> None:
    """A listing past its expiry becomes expired and an Update is queued for followers."""
    token = await _setup(node)
    created = await _post(node, token, "Vieille annonce")
    async with node.node.db.session() as session:
        await session.execute(
            update(Listing)
            .where(Listing.id == created["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert await expire_due(node.node) == 1
    response = await node.api("GET", f"/api/v1/listings/{created['id']}")
    assert (await response.get_json())["status"] == "expired"
    async with node.node.db.session() as session:
        types = (await session.execute(select(Activity.type).order_by(Activity.id))).scalars()
        assert list(types)[-1] == "Update"
    assert await expire_due(node.node) == 0


async def test_available_until_sets_expiry(node: TestNode) -> None:
    token = await _setup(node)
    created = await _post(node, token, "Jusqu'à demain", available_until="2030-01-02")
    assert created["expires_at"].startswith("2030-01-03")


async def test_timeline_of_a_structure(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """B's structure follows A's territory (peering): A's listings are in its timeline."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await b.structure("lecteur", owner="l@b.example")
        token = await b.token("l@b.example")
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "lecteur", "target": "acct:territory@a.test"},
        )
        assert response.status_code == 202
        await net.settle()
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        response = await b.api("GET", "/api/v1/timeline?actor=lecteur", token=token)
        assert response.status_code == 200, await response.get_data()
        items = (await response.get_json())["items"]
        assert [(i["type"], i["ap_id"]) for i in items] == [("listing", created["ap_id"])]


async def test_timeline_pages_with_a_cursor(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """The timeline pages like listings (``limit``, ``next``): every item once, and the
    last page says there is no next one."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await b.structure("lecteur", owner="l@b.example")
        token = await b.token("l@b.example")
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "lecteur", "target": "acct:territory@a.test"},
        )
        assert response.status_code == 202
        await peer(net, a, b)
        author, created = await publish(a, title="Annonce numéro 0")
        published = [created["ap_id"]]
        for n in range(1, 5):
            response = await a.api(
                "POST",
                "/api/v1/listings",
                token=author,
                json={**LISTING, "title": f"Annonce numéro {n}"},
            )
            assert response.status_code == 201
            published.append((await response.get_json())["ap_id"])
        await net.settle()
        seen: list[str] = []
        url = "/api/v1/timeline?actor=lecteur&limit=2"
        pages = 0
        while url:
            response = await b.api("GET", url, token=token)
            assert response.status_code == 200, await response.get_data()
            body = await response.get_json()
            assert len(body["items"]) <= 2
            seen += [i["ap_id"] for i in body["items"]]
            pages += 1
            url = (
                f"/api/v1/timeline?actor=lecteur&limit=2&cursor={body['next']}"
                if body["next"]
                else ""
            )
        assert pages == 3
        # Every item once. (Their order is by the time A published them, which the
        # activities carry to the second: listings published within one second tie.)
        assert len(seen) == len(set(seen)) and set(seen) == set(published)
