"""Crash safety: two peered nodes killed with ``kill -9`` over and over while they work.

Two real ``entraide serve`` processes on 127.0.0.1 (SQLite), A and B, peered
through the CLI; a structure on each (``menuiserie`` on A, ``atelier`` on B)
follows the other through the API, so a listing travels both as the
structure's ``Create`` and as its territory's ``Announce``. Then, for
:data:`CHAOS` seconds, one client thread per node creates listings
(``POST /api/v1/listings``) and sends direct messages to the other node's
structure (``POST /api/v1/messages``), while the main thread kills A and B
with SIGKILL at seeded random moments — several times each, during requests,
deliveries, inbox processing and even start-up — and starts them again after
a random pause. ``ENTRAIDE_CRASH_SEED`` picks another schedule (the seed is
printed, with the schedule).

Once both serve again and are left alone, the test waits (polling, bounded)
until both queues are empty. Retries already scheduled in the future are made
due at once by writing ``next_attempt_at`` in each SQLite file from outside —
what the clock would do, minutes faster. Then:

* every listing and message answered 201 exists exactly once on its node and
  exactly once on the other (counted by ``ap_id``); so does every local
  listing and message committed without the client hearing back (a kill
  between the commit and the answer);
* every delivery is ``done`` (none dead, none pending), and each activity a
  node delivered (the peer's inbox answered 2xx) is in the peer's
  ``inbox_items`` exactly once, in a final state; no item failed;
* both databases pass ``PRAGMA integrity_check`` and ``foreign_key_check``
  after a graceful stop.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    LISTING,
    PAST,
    Cluster,
    Node,
    in_parallel,
    peer_through_cli,
    start_all,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHAOS = 24.0  # seconds of work under kills (each node is still killed KILLS_PER_NODE times)
KILLS_PER_NODE = 3
SETTLE = 90.0  # seconds to let the queues empty once the kills stop
SEED = int(os.environ.get("ENTRAIDE_CRASH_SEED", "20261124"))
FINAL = ("done", "ignored", "failed")


@dataclass
class Sent:
    """One API call of the workload and what the client heard back."""

    kind: str  # "listing" | "message"
    node: str
    status: int | None  # None: no answer (refused, or cut by a kill)
    ap_id: str | None = None
    error: str = ""


@dataclass
class Workload:
    """A client thread creating listings and messages on ``src`` for ``dst``'s structure."""

    src: Node
    dst: Node
    run: str
    until: float
    rng: random.Random
    sent: list[Sent] = field(default_factory=list)

    def __call__(self) -> None:
        headers = {"Authorization": f"Bearer {self.src.token}"}
        recipient = f"{self.dst.base_url}/actors/{self.dst.structure}"
        with httpx.Client(base_url=self.src.base_url, timeout=15, headers=headers) as client:
            index = 0
            while time.monotonic() < self.until:
                index += 1
                if self.rng.random() < 0.7:
                    kind, path = "listing", "/api/v1/listings"
                    body: dict[str, Any] = {
                        **LISTING,
                        "structure": self.src.structure,
                        "title": f"Crash {self.run} {self.src.name} {index}",
                    }
                else:
                    kind, path = "message", "/api/v1/messages"
                    body = {
                        "from": self.src.structure,
                        "to": recipient,
                        "content": f"Message {self.run} {self.src.name} {index}",
                    }
                try:
                    response = client.post(path, json=body)
                except httpx.TransportError as exc:
                    self.sent.append(Sent(kind, self.src.name, None, error=type(exc).__name__))
                    time.sleep(0.2)  # the node is down: it comes back within seconds
                    continue
                ap_id = response.json().get("ap_id") if response.status_code == 201 else None
                error = "" if ap_id else response.text[:200]
                self.sent.append(Sent(kind, self.src.name, response.status_code, ap_id, error))
                time.sleep(self.rng.uniform(0.05, 0.3))


def kill_schedule(rng: random.Random, nodes: list[Node]) -> list[tuple[float, Node, float]]:
    """``(when, node, pause before restart)``, sorted: KILLS_PER_NODE per node in the window."""
    events = [
        (rng.uniform(2.0, CHAOS - 3.0), node, rng.uniform(0.1, 2.5))
        for node in nodes
        for _ in range(KILLS_PER_NODE)
    ]
    return sorted(events, key=lambda event: event[0])


def run_chaos(nodes: list[Node], schedule: list[tuple[float, Node, float]], start: float) -> int:
    """Kill and relaunch as scheduled (main thread: PR_SET_PDEATHSIG holds); returns kills."""
    restarts: dict[Node, float] = {}
    pending = list(schedule)
    kills = 0
    while time.monotonic() < start + CHAOS:
        now = time.monotonic() - start
        while pending and pending[0][0] <= now:
            _, node, pause = pending.pop(0)
            node.kill()  # SIGKILL, running or still starting
            kills += 1
            restarts[node] = time.monotonic() + pause
        for node, when in list(restarts.items()):
            if time.monotonic() >= when:
                node.launch()  # no wait: the other node may be killed meanwhile
                del restarts[node]
        time.sleep(0.02)
    for node in nodes:
        if not node.running:
            node.launch()
    for node in nodes:
        node.wait_ready()
    return kills


def queue_counts(node: Node) -> tuple[int, int]:
    """Pending deliveries and pending inbox items."""
    ((deliveries,),) = node.sql("SELECT count(*) FROM deliveries WHERE state = 'pending'")
    ((items,),) = node.sql("SELECT count(*) FROM inbox_items WHERE state = 'pending'")
    return int(deliveries), int(items)


def make_due(node: Node) -> None:
    """Retries scheduled in the future made due now (see the module doc)."""
    for table in ("deliveries", "inbox_items"):
        node.sql_write(
            f"UPDATE {table} SET next_attempt_at = ? "  # noqa: S608 (a fixed table name)
            "WHERE state = 'pending' AND next_attempt_at > ?",
            [PAST, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())],
        )


def counts_by_ap_id(node: Node, table: str, ap_ids: set[str]) -> Counter[str]:
    rows = node.sql(f"SELECT ap_id FROM {table}")  # noqa: S608 (a fixed table name)
    return Counter(ap_id for (ap_id,) in rows if ap_id in ap_ids)


def local_ap_ids(node: Node, run: str) -> dict[str, set[str]]:
    """The listings and messages this node committed in this run (answered or not)."""
    listings = node.sql(
        "SELECT ap_id FROM listings WHERE local = 1 AND title LIKE ?", [f"Crash {run} %"]
    )
    messages = node.sql(
        "SELECT ap_id FROM messages WHERE local = 1 AND content_text LIKE ?", [f"Message {run} %"]
    )
    return {"listings": {r[0] for r in listings}, "messages": {r[0] for r in messages}}


def settled(a: Node, b: Node, expected: dict[Node, dict[str, set[str]]]) -> bool:
    for node in (a, b):
        make_due(node)
    if any(queue_counts(node) != (0, 0) for node in (a, b)):
        return False
    for src, dst in ((a, b), (b, a)):
        for table, ap_ids in expected[src].items():
            if set(counts_by_ap_id(dst, table, ap_ids)) != ap_ids:
                return False
    return True


def integrity(node: Node) -> tuple[list[Any], list[Any]]:
    connection = sqlite3.connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return (
            connection.execute("PRAGMA integrity_check").fetchall(),
            connection.execute("PRAGMA foreign_key_check").fetchall(),
        )
    finally:
        connection.close()


def follow_each_other(a: Node, b: Node) -> None:
    for src, dst in ((a, b), (b, a)):
        target = f"{dst.base_url}/actors/{dst.structure}"
        response = src.api("POST", "follows", json={"actor": src.structure, "target": target})
        assert response.status_code == 202, response.text
    for src in (a, b):
        wait_for(
            lambda src=src: (
                [
                    f["state"]
                    for f in src.api("GET", "follows", params={"actor": src.structure}).json()[
                        "items"
                    ]
                ]
                == ["accepted"]
            ),
            30,
            what=f"{src.structure}'s follow to be accepted",
        )


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    run = uuid.uuid4().hex[:6]
    a, b = cluster.add("a"), cluster.add("b")
    in_parallel(a.init, b.init)
    in_parallel(a.add_publisher, lambda: b.add_publisher(email="o@atelier.test", handle="atelier"))
    start_all(a, b)
    peer_through_cli(a, b)
    follow_each_other(a, b)
    ready = time.monotonic()

    schedule = kill_schedule(rng, [a, b])
    print(f"\nseed {SEED}: kills at " + ", ".join(f"{t:.1f}s {n.name}" for t, n, _ in schedule))
    start = time.monotonic()
    workloads = [
        Workload(a, b, run, start + CHAOS, random.Random(rng.random())),
        Workload(b, a, run, start + CHAOS, random.Random(rng.random())),
    ]
    threads = [threading.Thread(target=w, daemon=True) for w in workloads]
    for thread in threads:
        thread.start()
    kills = run_chaos([a, b], schedule, start)
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a client thread is stuck"
    chaos_end = time.monotonic()

    sent = [s for w in workloads for s in w.sent]
    answered: dict[Node, dict[str, set[str]]] = {
        node: {
            table: {s.ap_id for s in sent if s.node == node.name and s.kind == kind and s.ap_id}
            for table, kind in (("listings", "listing"), ("messages", "message"))
        }
        for node in (a, b)
    }
    committed = {node: local_ap_ids(node, run) for node in (a, b)}
    for node in (a, b):
        for table in ("listings", "messages"):
            # A 201 is only sent after the commit: nothing answered is missing locally.
            assert answered[node][table] <= committed[node][table], (node, table)

    problems: list[str] = []
    try:
        wait_for(lambda: settled(a, b, committed), SETTLE, what="both queues", interval=0.5)
    except AssertionError as exc:  # what is missing is said below
        problems.append(str(exc))
    settle_end = time.monotonic()

    for src, dst in ((a, b), (b, a)):
        for table, ap_ids in committed[src].items():
            for where in (src, dst):
                counts = counts_by_ap_id(where, table, ap_ids)
                wrong = {i: counts.get(i, 0) for i in ap_ids if counts.get(i, 0) != 1}
                if wrong:
                    problems.append(f"{table} of {src.name} on {where.name}: {wrong}")
    for src, dst in ((a, b), (b, a)):
        states = Counter(state for (state,) in src.sql("SELECT state FROM deliveries"))
        if set(states) != {"done"}:
            problems.append(f"deliveries of {src.name}: {dict(states)}")
        delivered = {
            uri
            for (uri,) in src.sql(
                "SELECT DISTINCT a.uri FROM deliveries d JOIN activities a "
                "ON a.id = d.activity_id WHERE d.state = 'done' AND d.domain = ?",
                [dst.domain],
            )
        }
        items = Counter(
            uri for (uri,) in dst.sql("SELECT activity_uri FROM inbox_items")
        )  # unique by schema; counted all the same
        missing = delivered - set(items)
        if missing:
            problems.append(f"{len(missing)} activities of {src.name} accepted, not stored")
        if any(count != 1 for count in items.values()):
            problems.append(f"an activity stored twice on {dst.name}")
        unfinished = dst.sql(
            "SELECT activity_uri, state FROM inbox_items WHERE state NOT IN "
            "('done', 'ignored', 'failed')"
        )
        failed = dst.sql("SELECT activity_type, error FROM inbox_items WHERE state = 'failed'")
        if unfinished or failed:
            problems.append(f"{dst.name}: unfinished {unfinished}, failed {failed}")

    # What the run did, for the report (pytest -s).
    print(
        f"run {run}: {kills} kills; set-up {ready - began:.0f} s, chaos {chaos_end - start:.0f} s, "
        f"settled in {settle_end - chaos_end:.0f} s"
    )
    for node in (a, b):
        heard = Counter(f"{s.kind} {s.status}" for s in sent if s.node == node.name)
        unanswered = {
            t: len(committed[node][t] - answered[node][t]) for t in ("listings", "messages")
        }
        items = Counter(
            f"{t} {s}" for t, s in node.sql("SELECT activity_type, state FROM inbox_items")
        )
        print(
            f"  {node.name} (started {node.starts} times): API {dict(sorted(heard.items()))}; "
            f"committed without an answer {unanswered}; inbox {dict(sorted(items.items()))}"
        )
    assert not problems, problems

    for node in (a, b):
        assert node.stop() == 0, node.log_tail()
        checked, foreign = integrity(node)
        assert checked == [("ok",)], (node, checked)
        assert foreign == [], (node, foreign)
    print(f"  total {time.monotonic() - began:.0f} s; both databases pass integrity checks")
