"""Real ``entraide serve`` processes on 127.0.0.1: peering, delivery, crashes, shutdown.

Each node is made and driven only through the public interface
(docs/interface.md): the console script for init, people, structures, tokens and
peering, HTTP for the JSON API. What a test checks inside a node it reads
from the node's SQLite file through a read-only connection; where a test
writes to that file it says why in its docstring.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.databases import DatabaseTemplates, PgCluster
from tests.e2e.harness import PAST, Cluster, Node, in_parallel, wait_for

pytestmark = pytest.mark.e2e

ARRIVAL = 20.0  # seconds; a listing normally reaches the peer in well under one
BURST = 50


def assert_peered(a: Node, b: Node) -> None:
    """``peer list`` on both nodes prints the docs/interface.md lines ``HOST DIRECTION STATE``."""
    lines_a, lines_b = in_parallel(a.peers, b.peers)
    assert sorted(lines_a) == [f"{b.domain} incoming accepted", f"{b.domain} outgoing accepted"]
    assert sorted(lines_b) == [f"{a.domain} incoming accepted", f"{a.domain} outgoing accepted"]


def arrived(b: Node, ap_id: str, timeout: float = ARRIVAL) -> dict[str, Any]:
    """The listing ``ap_id`` as B's API shows it among remote listings, once it is there."""
    return wait_for(
        lambda: next((i for i in b.listings(origin="remote") if i["ap_id"] == ap_id), None),
        timeout,
        what=f"{ap_id} on {b!r}",
    )


def delivered(a: Node, ap_id: str, timeout: float = ARRIVAL) -> list[tuple[Any, ...]]:
    """A's deliveries of the activities about ``ap_id``, once none is left pending."""
    return wait_for(
        lambda: (rows := a.deliveries_of(ap_id)) and all(r[0] == "done" for r in rows) and rows,
        timeout,
        what=f"A's deliveries of {ap_id} to be done",
    )


def tag() -> str:
    return uuid.uuid4().hex[:8]


def test_peering_through_the_cli_then_a_listing_reaches_the_peer(
    pair: tuple[Node, Node],
) -> None:
    """Given A and B peered with `peer request` on A and `peer approve` on B (fixture),
    `peer list` shows the peering accepted both ways on both, and a listing created
    on A through the API is listed on B as remote within seconds."""
    a, b = pair
    assert_peered(a, b)

    created = a.create_listing(title=f"Chutes de chêne {tag()}")
    seen = arrived(b, created["ap_id"])

    assert seen["origin"] == a.domain
    assert seen["title"] == created["title"]
    assert (seen["kind"], seen["category"], seen["modality"]) == ("offer", "materials", "give")
    assert seen["author"]["id"] == f"{a.base_url}/actors/menuiserie"


def test_a_stopped_peer_gets_the_listing_when_it_is_back(pair: tuple[Node, Node]) -> None:
    """B stopped (SIGTERM) while A publishes: A keeps the deliveries queued, failed once,
    and delivers them when B serves again.

    The first retry comes up to 25 s after the failure (``federation.retry``);
    to keep the test fast, once B is back the test
    sets the pending rows' ``next_attempt_at`` to the past through sqlite3 on
    A's file, which is what the clock would do. A's server does the rest.
    """
    a, b = pair
    assert b.stop() == 0

    created = a.create_listing(title=f"Perceuse à colonne {tag()}")
    rows = wait_for(
        lambda: (
            (found := a.deliveries_of(created["ap_id"])) and all(r[1] >= 1 for r in found) and found
        ),
        ARRIVAL,
        what="A's first (failed) delivery attempts",
    )
    assert {state for state, *_ in rows} == {"pending"}, rows
    assert all(error for _, _, error, _ in rows), rows  # connection refused, recorded
    assert {kind for *_, kind in rows} >= {"Create", "Announce"}

    b.start()
    a.sql_write(
        "UPDATE deliveries SET next_attempt_at = ? WHERE state = 'pending' AND domain = ?",
        [PAST, b.domain],
    )
    arrived(b, created["ap_id"])
    delivered(a, created["ap_id"])
    assert b.count_by_ap_id(created["ap_id"]) == 1


def test_kill_9_after_201_loses_nothing_and_delivers_once(pair: tuple[Node, Node]) -> None:
    """A killed with SIGKILL right after answering 201 still delivers the listing after a
    restart, and B holds it exactly once.

    B is down when A publishes, so A's worker cannot have delivered before the
    kill: the deliveries found pending in A's file after the kill were committed
    with the listing, before the 201. A's worker may have tried once (B down) or
    not at all, or died holding the rows' lease; before restarting A the test
    sets the pending rows' ``next_attempt_at`` to the past through sqlite3 (a
    tried row would otherwise wait up to 25 s), and leaves the leases alone: on
    SQLite the restarted server frees its own stale leases.
    """
    a, b = pair
    assert b.stop() == 0

    created = a.create_listing(title=f"Bétonnière {tag()}")
    a.kill()
    assert a.process is not None and a.process.returncode == -signal.SIGKILL

    rows = a.deliveries_of(created["ap_id"])
    assert rows, "the listing's deliveries were not committed with it"
    assert {state for state, *_ in rows} == {"pending"}, rows
    a.sql_write(
        "UPDATE deliveries SET next_attempt_at = ? WHERE state = 'pending' AND domain = ?",
        [PAST, b.domain],
    )

    b.start()  # B first: A, due at once, must not find B still starting (a retry waits)
    a.start()
    arrived(b, created["ap_id"])
    delivered(a, created["ap_id"])
    assert b.count_by_ap_id(created["ap_id"]) == 1
    assert a.count_by_ap_id(created["ap_id"], origin="local") == 1


def test_sigterm_during_a_burst_exits_cleanly_and_loses_nothing(
    pair: tuple[Node, Node],
) -> None:
    """SIGTERM while 50 listings are being created on A (4 clients), each request with its
    own ``Idempotency-Key``: A exits with 0; every request either got 201, or 503
    "unavailable" with Retry-After (A was stopping and ran nothing of it:
    instance.draining), or could not reach A (no other 5xx); A committed exactly the
    listings it answered 201 for. After a restart the clients send every request again
    with the same key, as a script that lost its answers would: the unanswered ones are
    made, the answered ones replayed (same listing, ``Idempotent-Replayed``); then each
    of the 50 exists once on A and reaches B once."""
    a, b = pair
    run = tag()
    clients: list[httpx.Client] = []
    local = threading.local()
    lock = threading.Lock()

    def create(i: int, *, replay: bool = False) -> tuple[int | None, str]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=a.base_url, timeout=30)
            with lock:
                clients.append(local.client)
        body = {"structure": a.structure, "kind": "need", "title": f"Burst {run} {i}"}
        body |= {"description": "Besoin ponctuel.", "category": "equipment", "modality": "lend"}
        headers = {"Authorization": f"Bearer {a.token}", "Idempotency-Key": f"burst-{run}-{i}"}
        try:
            response = local.client.post("/api/v1/listings", json=body, headers=headers)
        except httpx.TransportError as exc:  # refused or cut: A was no longer serving
            return None, type(exc).__name__
        if response.status_code == 201:
            assert (response.headers.get("Idempotent-Replayed") == "true") is replay
            return 201, str(response.json()["ap_id"])
        if response.status_code == 503 and "Retry-After" in response.headers:
            return None, str(response.json()["error"])  # refused: A was stopping
        return response.status_code, response.text[:200]

    assert a.process is not None
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(create, i) for i in range(BURST)]
            wait_for(
                lambda: sum(1 for f in futures if f.done() and f.result()[0] == 201) >= 10,
                ARRIVAL,
                what="the first 10 listings of the burst",
            )
            a.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            outcomes = [future.result() for future in futures]
        assert a.wait_exit() == 0, a.log_tail()
        stopping = time.monotonic() - signalled

        answered = {i: value for i, (status, value) in enumerate(outcomes) if status == 201}
        others = [(status, value) for status, value in outcomes if status != 201]
        assert all(status is None for status, _ in others), others
        assert len(answered) >= 10
        committed = {
            ap_id
            for (ap_id,) in a.sql(
                "SELECT ap_id FROM listings WHERE local = 1 AND title LIKE ?", [f"Burst {run} %"]
            )
        }
        assert committed == set(answered.values()), (
            sorted(committed - set(answered.values())),
            sorted(set(answered.values()) - committed),
        )

        a.start()
        with ThreadPoolExecutor(max_workers=4) as pool:
            again = list(pool.map(lambda i: create(i, replay=i in answered), range(BURST)))
    finally:
        for client in clients:
            client.close()
    assert all(status == 201 for status, _ in again), again
    assert all(again[i][1] == ap_id for i, ap_id in answered.items())  # replayed, not made
    made = {value for _, value in again}
    assert len(made) == BURST
    count = "SELECT count(*) FROM listings WHERE local = 1 AND title LIKE ?"
    assert a.sql(count, [f"Burst {run} %"]) == [(BURST,)]
    wait_for(
        lambda: made <= {i["ap_id"] for i in b.listings(origin=a.domain, status="any")},
        ARRIVAL,
        what=f"the {BURST} listings of the burst on B",
    )
    on_b = [
        i["ap_id"]
        for i in b.listings(origin=a.domain, status="any")
        if i["title"].startswith(f"Burst {run} ")
    ]
    assert sorted(on_b) == sorted(made)  # each once, and nothing else
    refused = Counter(value for _, value in others)
    print(f"burst: {len(answered)} created, refused {dict(refused)}, stopped in {stopping:.1f} s")


def test_postgresql_nodes_peer_and_share_a_listing(
    cluster: Cluster, pg_cluster: PgCluster | None, templates: DatabaseTemplates
) -> None:
    """The first scenario with both nodes on PostgreSQL (`init --database-url` on an empty
    database migrates it)."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL e2e test skipped")
    urls = (templates.empty_postgres_url(), templates.empty_postgres_url())
    a, b = cluster.peered_pair(database_urls=urls)
    assert_peered(a, b)

    created = a.create_listing(title=f"Chutes de chêne {tag()}")
    seen = arrived(b, created["ap_id"])
    assert seen["origin"] == a.domain
    assert b.count_by_ap_id(created["ap_id"]) == 1
