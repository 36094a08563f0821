"""Expensive searches: one anonymous query must not pin a core.

An outside attack run found that, at 30,000 listings, ``GET
/api/v1/listings?q=pa+bo+ch+ve+…&sort=recent`` (16 two-letter words, no
token) took 113 s, and 72 such words kept a core busy for more than seven
minutes after the client had gone; the same through ``/search`` and the Atom
feed. Two causes: every word became a prefix query (``pa*`` matches most of
the index), and SQLite, without statistics (a node never runs ``ANALYZE``),
walked the date index and ran the whole full-text query again for each
listing it met.

What must hold, on both databases, on a node of a few thousand listings that
never ran ``ANALYZE``:

* the worst queries of that run, with each sort, answer within a generous
  bound (the full-text index is read once per search, at most 8 words, and
  words of fewer than 3 letters match whole words only);
* a search that runs past ``listings.search_time_limit`` is stopped by the
  database and answered 422 ``query_too_expensive`` (the API, the feed) or
  with the same message on the search page;
* when the client goes away, the database stops working for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import instance.search
from bench.search_data import load_listings
from instance.search import Page, SearchQuery
from tests.search.busy import database_busy
from tests.support import TestNode, make_settings, running_node

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # search plans per dialect

LISTINGS = 5_000
PAU = "43.2951,-0.3708"
H2_WORDS = "pa bo ch ve ou tr br sa ca ma ta ch lo bu at ja"
SEVENTY_TWO = " ".join(a + b for a in "pbcvtmlsdfgrnh" for b in "aeiou")[: 72 * 3 - 1]
# Seconds. The same queries take a few milliseconds once bounded, and minutes before.
BOUND = 5.0
# A statement that keeps the database busy for minutes, whatever the data.
ENDLESS = (
    "WITH RECURSIVE endless(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM endless"
    " WHERE x < 1000000000) SELECT count(*) FROM endless"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(
    module_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestNode]:
    """A node per backend with ``LISTINGS`` realistic French listings, never analysed."""
    path = tmp_path_factory.mktemp("expensive")
    settings = make_settings(path / "a", module_db())
    async with running_node(settings) as node:
        await node.structure("reseau_bearn", owner="bench@entraide.example")
        await load_listings(
            settings.database_url,
            settings.base_url,
            LISTINGS,
            datetime.now(UTC),
            structure_handle="reseau_bearn",
            analyze=False,
        )
        yield node


async def _timed(node: TestNode, path: str) -> tuple[float, Any]:
    started = time.monotonic()
    response = await node.client().get(path)
    return time.monotonic() - started, response


@pytest.mark.parametrize("words", [H2_WORDS, SEVENTY_TWO], ids=["h2_16_words", "72_words"])
@pytest.mark.parametrize("sort", ["recent", "relevance", "distance"])
async def test_many_short_prefixes_search_is_bounded(
    seeded: TestNode, sort: str, words: str
) -> None:
    """The attack: many two-letter words (each a prefix of most of the index), each sort,
    through the API, the feed and the search page. Each must answer 200 within
    ``BOUND`` seconds."""
    params = {"q": words, "sort": sort}
    if sort == "distance":
        params["near"] = PAU
    query = urlencode(params)
    for path in (f"/api/v1/listings?{query}", f"/feeds/listings.atom?{query}"):
        elapsed, response = await _timed(seeded, path)
        assert response.status_code == 200, (path, await response.get_data())
        assert elapsed < BOUND, f"{path} took {elapsed:.1f} s"
    if sort == "distance":
        query = urlencode({"q": words, "sort": sort, "lat": "43.2951", "lon": "-0.3708"})
    elapsed, response = await _timed(seeded, f"/search?{query}")
    assert response.status_code == 200
    assert elapsed < BOUND, f"/search took {elapsed:.1f} s"


async def test_search_past_its_time_limit_is_refused(
    seeded: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: a search that costs more than the node allows (here a ranked search of a
    common prefix against a limit of a millisecond). The database stops it at the
    limit; the API and the feed answer 422 ``query_too_expensive`` naming ``q``, the
    search page says to narrow it; the next search is served as usual."""
    listings = seeded.settings.listings.model_copy(update={"search_time_limit": 0.001})
    tight = seeded.settings.model_copy(update={"listings": listings})
    monkeypatch.setattr(seeded.node, "settings", tight)
    query = urlencode({"q": "pro", "sort": "relevance", "limit": "100"})
    for path in (f"/api/v1/listings?{query}", f"/feeds/listings.atom?{query}"):
        elapsed, response = await _timed(seeded, path)
        assert response.status_code == 422, (path, await response.get_data())
        body = await response.get_json()
        assert body["error"] == "query_too_expensive"
        assert "narrow it" in body["fields"]["q"]
        assert elapsed < BOUND
    response = await seeded.client().get(f"/search?{query}")
    assert "Cette recherche prend trop de temps" in (await response.get_data(as_text=True))

    monkeypatch.undo()
    response = await seeded.client().get(f"/api/v1/listings?{query}")
    assert response.status_code == 200
    assert len((await response.get_json())["items"]) == 100


async def _database_busy(node: TestNode) -> bool:
    return await database_busy(node.node.db, "RECURSIVE endless")


async def test_search_left_by_its_client_stops_in_the_database(
    seeded: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: send a search that keeps the database busy for minutes, and hang up.
    Before, the statement ran on (SQLite's thread, or a PostgreSQL backend) long after
    the client left. The client's disconnect (ASGI ``http.disconnect``, what Hypercorn
    sends) makes Quart cancel the handler; the database must stop within a second. The
    search stands in for any too-expensive one: its statement counts to a billion, and
    the time limit is set out of the way."""

    async def endless(session: AsyncSession, dialect: str, query: SearchQuery) -> Page:
        await session.execute(text(ENDLESS))
        return Page([], None)

    monkeypatch.setattr(instance.search, "_search", endless)
    listings = seeded.settings.listings.model_copy(update={"search_time_limit": 600.0})
    monkeypatch.setattr(
        seeded.node, "settings", seeded.settings.model_copy(update={"listings": listings})
    )
    disconnected = asyncio.Event()

    async def hang_up() -> None:
        async with seeded.client().request("/api/v1/listings?q=bois") as connection:
            await connection.send_complete()
            await asyncio.sleep(0.5)
            assert await _database_busy(seeded)
            await connection.disconnect()
            disconnected.set()
        # Leaving the block waits for the app to finish the request it cancelled.

    client = asyncio.ensure_future(hang_up())
    await asyncio.wait({client, asyncio.ensure_future(disconnected.wait())}, timeout=BOUND)
    await asyncio.wait({client}, timeout=BOUND)
    assert client.done(), "the handler waited for its statement after the client left"
    client.result()
    assert not await _database_busy(seeded)
