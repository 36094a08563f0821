"""Pages while the node writes: what a visitor waits for while structures publish.

On SQLite one connection writes at a time, and each process queues its writers
(``config.database.WriterLock``). A page that reads through a writing session
(``db.session()``) waits in that queue behind every listing being published;
through ``db.read()`` it reads a snapshot beside the writer (WAL) and waits for
nobody. This benchmark shows what a visitor sees:

1. a SQLite node (``entraide init``, a person, a structure, a token), one
   ``entraide serve``; 200 listings published through the JSON API (60 quick);
2. **idle**: one visitor, one keep-alive connection, one request at a time, goes
   round the public pages (``/``, a listing, ``/structures``, the structure's page,
   ``/territoire``): p50 and p95 of the answer time;
3. **writing**: the same visitor while 8 connections publish listings through
   ``POST /api/v1/listings`` as fast as the node takes them (each stored, indexed,
   queued for matching, then matched by the node's worker): p50 and p95 again, and
   the listings published per second meanwhile.

``python bench/pages.py [--quick]``; ``bench/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, Row, cli, format_row, free_port, init_node, serving
from bench.load import _read_response, hammer, http_request
from bench.procstats import percentile

WRITERS = 8
PAGES = ("/", "/listings/1", "/structures", "/@ferme", "/territoire")
ENV = {"ENTRAIDE_RATELIMIT__ENABLED": "false", "ENTRAIDE_WORKERS__POLL_INTERVAL": "0.2"}


def listing_request(host: str, token: str, i: int) -> bytes:
    body = {
        "structure": "ferme",
        "kind": "offer" if i % 2 else "need",
        "title": f"Remorque agricole numéro {i}",
        "description": "Remorque deux essieux, disponible le week-end, à retirer sur place.",
        "category": "equipment",
        "modality": "lend",
        "location": {"commune": "Pau", "lat": 43.3, "lon": -0.37},
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return http_request("POST", "/api/v1/listings", host, headers, json.dumps(body).encode())


async def visit(port: int, host: str, until: float, times: list[float]) -> None:
    """One visitor: the pages in turn on one keep-alive connection until ``until``."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(HOST, port)
    requests = [http_request("GET", path, host, {"Accept": "text/html"}) for path in PAGES]
    try:
        i = 0
        while loop.time() < until:
            began = loop.time()
            writer.write(requests[i % len(requests)])
            status, close = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"GET {PAGES[i % len(PAGES)]} answered {status}")
            times.append((loop.time() - began) * 1000)
            i += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


async def measure(port: int, token: str, seconds: float) -> tuple[list[float], list[float], float]:
    host = f"{HOST}:{port}"
    loop = asyncio.get_running_loop()
    idle: list[float] = []
    await visit(port, host, loop.time() + seconds, idle)
    counter = iter(range(10**9))
    writing: list[float] = []
    load = asyncio.create_task(
        hammer(
            port,
            lambda: listing_request(host, token, 1000 + next(counter)),
            connections=WRITERS,
            duration=seconds,
        )
    )
    await asyncio.sleep(0.5)  # the writers are under way
    await visit(port, host, loop.time() + seconds - 1.0, writing)
    result = await load
    if set(result.statuses) != {201} or result.errors:
        raise RuntimeError(f"publishing: {dict(result.statuses)}, {result.errors} errors")
    return idle, writing, result.rate(201)


def run(quick: bool) -> list[Row]:
    seed, seconds = (60, 4.0) if quick else (200, 20.0)
    with tempfile.TemporaryDirectory(prefix="entraide-bench-pages-") as tmp:
        data_dir = Path(tmp) / "node"
        port = free_port()
        init_node(data_dir, port, "Vallée")
        cli(data_dir, "user", "create", "--email", "f@bench.test", "--password", "long password 1")
        cli(data_dir, "structure", "create", "--handle", "ferme", "--name", "Ferme",
            "--owner", "f@bench.test")  # fmt: skip
        token = cli(data_dir, "token", "create", "--email", "f@bench.test").strip()
        with serving(data_dir, port, env=ENV):
            began = time.monotonic()
            seeds = (listing_request(f"{HOST}:{port}", token, i) for i in range(seed))
            published = asyncio.run(
                hammer(port, lambda: next(seeds, None), connections=4, duration=120)
            )
            print(
                f"pages: {published.statuses[201]} listings in {time.monotonic() - began:.1f} s",
                file=sys.stderr,
            )
            time.sleep(2.0)  # their matching done
            idle, writing, rate = asyncio.run(measure(port, token, seconds))
    shape = f"one visitor, {len(PAGES)} public pages in turn"
    return [
        ("pages_p50_idle", percentile(idle, 50), "ms", f"{shape}, {len(idle)} requests"),
        ("pages_p95_idle", percentile(idle, 95), "ms", "idle"),
        ("pages_p50_writing", percentile(writing, 50), "ms", f"{len(writing)} requests"),
        (
            "pages_p95_writing",
            percentile(writing, 95),
            "ms",
            f"while {WRITERS} connections publish listings",
        ),
        ("pages_writing_rate", rate, "listings/s", "published meanwhile (201)"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="4 s a phase instead of 20 s")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
