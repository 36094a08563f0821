"""Expensive searches against a real ``entraide serve``: SIGTERM must not wait for them.

The outside attack run found that a node sent SIGTERM while it answered one
expensive search stayed alive for minutes (an idle node exits in 2 s):
Hypercorn waited for the request, and once it gave up, closing the database
waited for the statement still running in SQLite's thread. Here four clients
keep sending the worst searches of that run (many two-letter words, each sort,
through the API, the search page and the Atom feed) to a node of 10,000
listings that never ran ``ANALYZE``; the node gets SIGTERM while they
run and must exit, with status 0, within a few seconds.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bench.search_data import load_listings
from tests.databases import DatabaseTemplates
from tests.e2e.harness import Cluster, Node, wait_for

pytestmark = pytest.mark.e2e

LISTINGS = 10_000
SEVENTY_TWO = " ".join(a + b for a in "pbcvtmlsdfgrnh" for b in "aeiou")
H2_WORDS = "pa bo ch ve ou tr br sa ca ma ta ch lo bu at ja"
WORST = [
    f"/api/v1/listings?{urlencode({'q': SEVENTY_TWO, 'sort': 'recent'})}",
    f"/feeds/listings.atom?{urlencode({'q': H2_WORDS, 'sort': 'recent'})}",
    f"/search?{urlencode({'q': SEVENTY_TWO, 'sort': 'relevance'})}",
    f"/api/v1/listings?{urlencode({'q': H2_WORDS, 'sort': 'distance', 'near': '43.3,-0.37'})}",
]
# Seconds from SIGTERM to exit: an idle node takes about 2.
EXIT_BOUND = 6.0


@pytest.fixture(params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest, tmp_path: Path, templates: DatabaseTemplates
) -> Iterator[Node]:
    """A node with ``LISTINGS`` listings of its publisher and of four peers, never analysed."""
    database_url = ""
    if request.param == "postgresql":
        if templates.cluster is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
        database_url = templates.empty_postgres_url()
    with Cluster(tmp_path) as cluster:
        node = cluster.add("a", database_url=database_url)
        node.init()
        node.add_publisher()
        assert node.structure is not None
        url = database_url or f"sqlite+aiosqlite:///{node.db_path}"
        asyncio.run(
            load_listings(
                url,
                node.base_url,
                LISTINGS,
                datetime.now(UTC),
                structure_handle=node.structure,
                analyze=False,
            )
        )
        yield node


def test_sigterm_during_expensive_searches_exits_within_seconds(loaded: Node) -> None:
    node = loaded
    node.start()
    stop = threading.Event()
    sent: list[int] = []

    def hammer(path: str) -> list[int | None]:
        statuses: list[int | None] = []
        with httpx.Client(base_url=node.base_url, timeout=120) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get(path).status_code)
                except httpx.TransportError:  # refused or cut: the node is going away
                    statuses.append(None)
                    return statuses
                sent.append(1)
        return statuses

    assert node.process is not None
    with ThreadPoolExecutor(max_workers=len(WORST)) as pool:
        futures = [pool.submit(hammer, path) for path in WORST]
        try:
            wait_for(lambda: len(sent) >= 8, 60, what="the first searches to be answered")
            node.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = node.wait_exit(timeout=60)
            exited = time.monotonic() - signalled
        finally:
            stop.set()
        outcomes = [status for future in futures for status in future.result()]
    assert code == 0, node.log_tail()
    assert exited < EXIT_BOUND, f"exited {exited:.1f} s after SIGTERM\n{node.log_tail()}"
    # No search failed: answered (200), or cut by the shutdown.
    assert {status for status in outcomes} <= {200, None}, outcomes
