"""Inbox benchmark: signed activities accepted per second by one ``entraide serve``,
set against the same server's rate on a trivial endpoint.

Accepting an activity is the inbox's whole synchronous job (docs/interface.md,
STYLE.md "the inbox is fast and boring"): parse, check the domain, verify the
HTTP signature with a cached key, check the origin, store the row, answer 202.
The ratio to a trivial request on the same server, with the same client, on
the same machine, says what that job costs whatever the machine.

How it runs, all on 127.0.0.1:

1. **Node.** ``entraide init`` then ``entraide serve`` on SQLite (the real
   console script; ``ENTRAIDE_RATELIMIT__ENABLED=false``; the inbox processor
   runs in the same process, as it does by default, and works through the
   stored activities while they arrive).
2. **Remote actor.** This process plays a remote server: a tiny ASGI app under
   Hypercorn serves its actor document (a ``Person`` with a fixed RSA-2048
   key, the one Mastodon's own test suite publishes), so the node can fetch
   the key once; from then on the key comes from the node's cache.
3. **Requests.** ``Create(Note)`` activities, each with its own id, signed with
   ``federation.signatures.sign_request`` (draft-cavage with ``Digest``, as
   Mastodon sends them). RSA signing costs this process about a millisecond a
   request, so they are signed beforehand, while the node starts (300 to
   1,500 with ``--quick``, 15,000 to 20,000 without: more while the node is
   not up yet), and the load generator then only writes bytes. If they run
   out before the time is up, the window is shorter; the rate is still
   complete exchanges over the time they took.
4. **Load.** 32 keep-alive connections, one request in flight each
   (``bench.load.hammer``): first ``GET /healthz`` (``GET /api/v1/instance``
   where the node has no ``/healthz``) for the trivial rate, then the signed
   POSTs to the shared inbox for the accept rate. One warm-up request of each
   kind comes first (the first POST makes the node fetch the key).

``python bench/inbox.py [--quick]`` (1.5 s + 1 s quick, 15 s + 10 s full);
``bench/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    HOST,
    Row,
    answers,
    format_row,
    free_port,
    http_body,
    init_node,
    start_server,
)
from bench.inbox_listings import Costs, bursts, listings_stored, pool_of, proposal_create
from bench.keys import MASTODON_KEY_PEM
from bench.load import LoadResult, hammer, http_request
from bench.procstats import cpu_ms

CONNECTIONS = 32
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"


class Sizes:
    def __init__(self, quick: bool) -> None:
        self.accept_seconds = 1.5 if quick else 15.0
        self.trivial_seconds = 1.0 if quick else 10.0
        # Activities are signed while the node starts: at least min_pool, and more until
        # it answers (no extra time), up to max_pool. Quick: enough for 100/s over 3 s,
        # 500/s if the node is slow to start; full: 1,000/s over 15 s (15 s of signing).
        self.min_pool = 300 if quick else 15_000
        self.max_pool = 1_500 if quick else 20_000
        self.listings = 200 if quick else 1_000  # each burst of listings, all sent


class RemoteActor:
    """The load generator as a remote server: its actor document, and the signed requests."""

    def __init__(self, port: int, inbox_url: str) -> None:
        from cryptography.hazmat.primitives import serialization

        from federation.signatures import SigningKey

        self.base = f"http://{HOST}:{port}"
        self.uri = f"{self.base}/actor"
        self.inbox_url = inbox_url
        private = serialization.load_pem_private_key(MASTODON_KEY_PEM.encode(), password=None)
        self.public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.key = SigningKey(f"{self.uri}#main-key", private)  # type: ignore[arg-type]

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": "charge",
            "name": "Générateur de charge",
            "inbox": f"{self.base}/inbox",
            "outbox": f"{self.base}/outbox",
            "followers": f"{self.base}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": self.key.key_id,
                "owner": self.uri,
                "publicKeyPem": self.public_pem,
            },
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: the actor document at ``/actor``, 404 elsewhere."""
        if await http_body(scope, receive, send) is None:
            return
        found = scope["method"] == "GET" and scope["path"] == "/actor"
        body = json.dumps(self.document()).encode() if found else b""
        headers = [(b"content-type", ACTIVITY_JSON.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        status = 200 if found else 404
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def signed_listing(self, i: int) -> bytes:
        """The bytes of a signed POST of a listing (FEP-0837) to the node's shared inbox."""
        return self.signed(proposal_create(self.base, self.uri, i))

    def signed(self, activity: dict[str, Any]) -> bytes:
        from federation.signatures import sign_request

        body = json.dumps(activity).encode()
        headers = {"Content-Type": ACTIVITY_JSON}
        headers |= sign_request("POST", self.inbox_url, headers, body, self.key)
        host = headers.pop("Host")
        return http_request("POST", "/inbox", host, headers, body)

    def signed_create(self, i: int) -> bytes:
        """The bytes of a signed POST of a ``Create(Note)`` to the node's shared inbox."""

        note = f"{self.base}/notes/{i}"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.base}/activities/{i}",
            "type": "Create",
            "actor": self.uri,
            "published": "2026-01-01T00:00:00Z",
            "to": [PUBLIC],
            "cc": [f"{self.base}/followers"],
            "object": {
                "id": note,
                "type": "Note",
                "attributedTo": self.uri,
                "url": note,
                "published": "2026-01-01T00:00:00Z",
                "to": [PUBLIC],
                "cc": [f"{self.base}/followers"],
                "content": f"<p>Message de charge numéro {i} : qui a une remorque à prêter ?</p>",
            },
        }
        return self.signed(activity)


def _pending(database: Path, base: str) -> tuple[int, int]:
    """(rows of the load's activities, of them not processed yet), read with sqlite3."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        row = db.execute(
            "SELECT count(*), sum(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END) "
            "FROM inbox_items WHERE activity_uri LIKE ?",
            (f"{base}/activities/%",),
        ).fetchone()
    return int(row[0]), int(row[1] or 0)


async def measure(
    actor: RemoteActor, actor_port: int, node_port: int, trivial: bytes, signed: list[bytes],
    listings: list[bytes], sizes: Sizes, cpu: Callable[[], float], database: Path, costs: Costs,
) -> tuple[LoadResult, LoadResult]:  # fmt: skip
    """Serve the actor document, warm up, then the trivial run and the inbox run, and
    the node's CPU over each (the inbox run's until what it stored is processed)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{HOST}:{actor_port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    server = asyncio.create_task(serve(actor, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.3)  # the actor server binds its port
        warm = await hammer(node_port, pool_of(signed[:1]), connections=1, duration=30)
        if warm.statuses[202] != 1:
            raise RuntimeError(f"the node did not accept the first activity: {warm.statuses}")
        await hammer(node_port, pool_of([trivial] * 100), connections=4, duration=5)
        while _pending(database, actor.base)[1]:  # the warm-up activity, processed
            await asyncio.sleep(0.05)
        before = cpu()
        trivial_run = await hammer(
            node_port, lambda: trivial, connections=CONNECTIONS, duration=sizes.trivial_seconds
        )
        costs.trivial_ms = cpu() - before
        before = cpu()
        accept_run = await hammer(
            node_port, pool_of(signed[1:]), connections=CONNECTIONS, duration=sizes.accept_seconds
        )
        accepted = cpu()
        costs.accept_ms = accepted - before
        began = time.monotonic()
        deadline = began + max(60.0, 4 * sizes.accept_seconds)
        while True:
            costs.stored, costs.unprocessed = _pending(database, actor.base)
            if not costs.unprocessed or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        costs.drain_ms = cpu() - accepted
        costs.drain_seconds = time.monotonic() - began
        await bursts(actor, node_port, listings, cpu, database, costs)
        return trivial_run, accept_run
    finally:
        stop.set()
        await server


def run(quick: bool) -> list[Row]:
    """Rows ``(name, value, unit, bound)``."""
    sizes = Sizes(quick)
    with tempfile.TemporaryDirectory(prefix="entraide-bench-inbox-") as tmp:
        data_dir = Path(tmp) / "node"
        node_port, actor_port = free_port(), free_port()
        began = time.monotonic()
        init_node(data_dir, node_port, "Réception")
        initialised = time.monotonic()
        node = start_server(data_dir, node_port)
        try:
            actor = RemoteActor(actor_port, f"http://{HOST}:{node_port}/inbox")
            started = time.monotonic()
            signed: list[bytes] = []
            ready = False
            while len(signed) < sizes.max_pool and not (ready and len(signed) >= sizes.min_pool):
                signed += [actor.signed_create(len(signed) + i) for i in range(50)]
                ready = ready or answers(f"{node.base_url}/api/v1/instance")
            listings = [actor.signed_listing(i) for i in range(2 * sizes.listings)]
            signing = time.monotonic() - started
            node.wait_ready()
            print(
                f"inbox: init {initialised - began:.1f} s, serve ready "
                f"{time.monotonic() - initialised:.1f} s ({len(signed)} activities signed "
                f"meanwhile in {signing:.1f} s)",
                file=sys.stderr,
            )
            host = f"{HOST}:{node_port}"
            path = "/healthz" if answers(f"http://{host}/healthz") else "/api/v1/instance"
            trivial = http_request("GET", path, host, {"Accept": "application/json"})
            costs = Costs()
            trivial_run, accept_run = asyncio.run(
                measure(
                    actor, actor_port, node_port, trivial, signed, listings, sizes,
                    lambda: cpu_ms([node.process.pid]), data_dir / "entraide.db", costs,
                )
            )  # fmt: skip
            rss = node.rss_mb()
            kept = listings_stored(data_dir / "entraide.db", actor.base)
        finally:
            node.stop()
    accepted = accept_run.rate(202)
    trivial_rate = trivial_run.rate(200)
    refused = sum(n for status, n in accept_run.statuses.items() if status != 202)
    if refused or accept_run.errors or trivial_run.errors:
        print(
            f"inbox: accept run {dict(accept_run.statuses)} errors {accept_run.errors}; "
            f"trivial run {dict(trivial_run.statuses)} errors {trivial_run.errors}",
            file=sys.stderr,
        )
    if accept_run.exhausted:
        print(
            f"inbox: the {len(signed)} pre-signed activities ran out after "
            f"{accept_run.elapsed:.1f} s (signing them took {signing:.1f} s)",
            file=sys.stderr,
        )
    window = f"{CONNECTIONS} connections, {accept_run.elapsed:.1f} s"
    per_get = costs.trivial_ms / max(1, trivial_run.statuses[200])
    per_activity = (costs.accept_ms + costs.drain_ms) / max(1, accept_run.statuses[202])
    accept_only = costs.accept_ms / max(1, accept_run.statuses[202])
    return [
        (
            "inbox_accept_rate",
            accepted,
            "activities/s",
            f"target >= 1000; signed Create(Note), RSA-2048, {window}",
        ),
        (
            "inbox_trivial_rate",
            trivial_rate,
            "requests/s",
            f"GET {path}, {CONNECTIONS} connections, {trivial_run.elapsed:.1f} s",
        ),
        (
            "inbox_accept_over_trivial",
            accepted / trivial_rate,
            "x",
            "target >= 0.40; cost of verify + store",
        ),
        ("inbox_refused", float(refused + accept_run.errors), "requests", "expected 0"),
        (
            "inbox_cpu_per_activity",
            per_activity,
            "ms",
            f"node CPU (/proc), accept + processing, {accept_only:.2f} ms accepting; "
            f"drained in {costs.drain_seconds:.1f} s",
        ),
        ("inbox_cpu_per_get", per_get, "ms", f"node CPU per GET {path}, same run"),
        (
            "inbox_cpu_activity_over_get",
            per_activity / per_get if per_get else float("nan"),
            "x",
            "target <= 2.5",
        ),
        *_burst_rows(costs, kept, per_get),
        (
            "inbox_lost",
            float(
                accept_run.statuses[202]
                + 1
                - costs.stored
                + costs.unprocessed
                + costs.with_matching.accepted
                + costs.without_matching.accepted
                - kept
            ),
            "activities",
            "expected 0: accepted (with the warm-up) = stored and processed; listings kept",
        ),
        ("inbox_node_rss", rss, "MB", "target <= 300 MB loaded; after the run"),
    ]


def _burst_rows(costs: Costs, kept: int, per_get: float) -> list[Row]:
    """The bursts of listings: CPU per listing and acceptance, without and with matching."""
    without, with_ = costs.without_matching, costs.with_matching
    done = f"{kept} kept in all"
    return [
        (
            "inbox_listing_cpu_per_activity",
            with_.per_listing,
            "ms",
            f"{with_.accepted} listings from a followed actor, accepted, stored, indexed and "
            f"matched in {with_.seconds:.1f} s; {done}",
        ),
        ("inbox_listing_over_get", with_.per_listing / (per_get or float("nan")), "x", "vs a GET"),
        (
            "inbox_listing_nomatch_cpu_per_activity",
            without.per_listing,
            "ms",
            f"the same burst, matching jobs dropped as queued ({without.accepted} accepted, "
            f"processed in {without.seconds:.1f} s)",
        ),
        (
            "inbox_listing_matching_cpu",
            with_.per_listing - without.per_listing,
            "ms",
            "what matching adds per listing (the difference)",
        ),
        ("inbox_listing_accept_rate", with_.accept_rate, "listings/s", "with matching"),
        ("inbox_listing_nomatch_accept_rate", without.accept_rate, "listings/s", "without"),
        (
            "inbox_listing_accept_with_over_without",
            with_.accept_rate / without.accept_rate if without.accept_rate else float("nan"),
            "x",
            "target >= 0.90 (issue 14: within 10 %)",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1.5 s + 1 s instead of 15 s + 10 s")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
