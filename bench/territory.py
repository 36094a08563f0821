"""The territory's dashboard and open data at 100,000 listings and 5,000 structures.

1. a node is loaded as the search benchmark loads it (``search_data.prepare``:
   100,000 listings, 20 % from peers; 600 with ``--quick``), then given 5,000 approved
   structures (60 quick) of every kind in the region's communes, approved over a year,
   which the local listings are spread over, and one match per 20 listings; the peer
   territories it follows follow it back (for 60 days);
2. the days the database triggers listed are computed as the worker computes them
   (``instance.services.stats_cells.refresh``), timed (``stats_refresh_all_*``);
3. one ``entraide serve`` answers, one request at a time over one keep-alive
   connection: ``GET /territoire``, ``GET /api/v1/stats`` alone, with a period, and with
   each ``group_by`` (p50 / p95, target p95 ≤ 200 ms);
4. ``/data/listings.csv`` and ``/data/listings.geojson`` are downloaded whole while the
   server's resident memory is sampled every 20 ms: the rise over its memory before the
   download (target < 50 MB each).

SQLite, then PostgreSQL on a throwaway cluster (skipped, with the reason on stderr,
without ``initdb`` and ``pg_ctl``).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from bench.common import Row, main_of, serving  # noqa: E402
from bench.data_fr import COMMUNES  # noqa: E402
from bench.procstats import cpu_ms, database_backends, memory_mb, percentile  # noqa: E402
from bench.search_data import Prepared, prepare, prepare_postgres, watchdog  # noqa: E402

FULL = (100_000, 5_000)
QUICK = (600, 60)
FULL_REQUESTS, QUICK_REQUESTS = 200, 30
P95_TARGET_MS = 200.0
EXPORT_TARGET_MB = 50.0
SERVER_ENV = {"ENTRAIDE_WORKERS__POLL_INTERVAL": "2.0", "ENTRAIDE_RATELIMIT__ENABLED": "false"}
KINDS = ("business", "association", "public", "other")
GROUPS = ("month", "category", "commune", "kind", "origin")


async def add_structures(url: str, count: int) -> float:
    """``count`` approved structures over a year, the local listings spread over them, one
    match per 20 listings; then the worker's refresh of every day. Its seconds."""
    from config.database import Database
    from domain.figures import StatsDirty
    from domain.matches import Match
    from domain.models import Listing, Structure
    from federation.models import Actor, Follow
    from instance.services.stats_cells import refresh

    db = Database(url)
    rng = random.Random(16)
    now = datetime.now(UTC)
    try:
        async with db.engine.begin() as conn:
            rows = []
            for n in range(count):
                commune = rng.choices(COMMUNES, weights=[c[3] for c in COMMUNES])[0][0]
                decided = now - timedelta(seconds=rng.randint(3_600, 365 * 86_400))
                rows.append(
                    {
                        "handle": f"structure_{n}", "name": f"Structure {n} de {commune}",
                        "kind": KINDS[n % len(KINDS)], "description": "", "commune": commune,
                        "placed": "commune", "website": "", "contact_email": "",
                        "status": "approved", "rejection_reason": "",
                        "created_at": decided, "decided_at": decided,
                    }
                )  # fmt: skip
            for start in range(0, len(rows), 1_000):
                await conn.execute(insert(Structure), rows[start : start + 1_000])
            first = await conn.scalar(select(Structure.id).where(Structure.handle == "structure_0"))
            await conn.execute(
                text(
                    "UPDATE listings SET structure_id = :first + (id % :count) WHERE local = true"
                ),
                {"first": first, "count": count},
            )
            listings = (
                await conn.execute(select(Listing.id, Listing.kind, Listing.published_at))
            ).all()
            needs = [r for r in listings if r.kind == "need"]
            offers = [r.id for r in listings if r.kind == "offer"]
            pairs = set()
            for _ in range(len(listings) // 20):
                need = rng.choice(needs)
                pairs.add((need.id, rng.choice(offers), need.published_at))
            matches = [
                {"need_id": need, "offer_id": offer, "score": 0.5, "reasons": [],
                 "created_at": at, "updated_at": at}
                for need, offer, at in pairs
            ]  # fmt: skip
            for start in range(0, len(matches), 1_000):
                await conn.execute(insert(Match), matches[start : start + 1_000])
            # Peering is mutual: each peer territory has followed this one for 60 days (the
            # listings sent to it).
            territory = select(Actor.id).where(Actor.local.is_(True), Actor.is_territory.is_(True))
            peers = await conn.scalars(
                select(Actor.id).where(Actor.local.is_(False), Actor.is_territory.is_(True))
            )
            since = now - timedelta(days=60)
            await conn.execute(
                insert(Follow),
                [
                    {"follower_id": peer, "followed_id": await conn.scalar(territory),
                     "state": "accepted", "created_at": since, "updated_at": since}
                    for peer in peers.all()
                ],
            )  # fmt: skip
        started = time.monotonic()
        while True:
            async with db.session() as session:
                if not await refresh(session, db.dialect):
                    break
        seconds = time.monotonic() - started
        async with db.session() as session:
            assert not await session.scalar(select(StatsDirty.id).limit(1))
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return seconds
    finally:
        await db.dispose()


PAGES = (
    ("territoire", "/territoire"),
    ("stats", "/api/v1/stats"),
    ("stats_period", "/api/v1/stats?from={from_}&to={to}"),
    *((f"stats_{g}", f"/api/v1/stats?group_by={g}") for g in GROUPS),
)


def measure_pages(
    base_url: str, requests: int, pids: list[int], pid_file: Path | None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Latency (ms) of each page, and the CPU time (ms) the server's process and, on
    PostgreSQL, its pool's backends spent on it (``/proc``: whatever the machine's load)."""
    today = datetime.now(UTC).date()
    dates = {"from_": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
    times: dict[str, list[float]] = {name: [] for name, _ in PAGES}
    cpu: dict[str, list[float]] = {name: [] for name, _ in PAGES}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _, path in PAGES:  # warm-up
            client.get(path.format(**dates)).raise_for_status()
        pids = pids + database_backends(pid_file)  # the pool is open by now
        for _ in range(requests):
            for name, path in PAGES:
                spent = cpu_ms(pids)
                started = time.perf_counter()
                response = client.get(path.format(**dates))
                times[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append(cpu_ms(pids) - spent)
                response.raise_for_status()
    return times, cpu


def export_rise(base_url: str, pid: int, path: str) -> tuple[float, int]:
    """MB the server's RSS rose over its level before the download, and bytes received."""
    before = memory_mb(pid)["VmRSS"]
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, memory_mb(pid)["VmRSS"])
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    received = 0
    try:
        with (
            httpx.Client(base_url=base_url, timeout=300) as client,
            client.stream("GET", path) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                received += len(chunk)
    finally:
        done.set()
        sampler.join()
    return peak - before, received


def measure(node: Prepared, structures: int, requests: int) -> list[Row]:
    backend = node.backend
    refresh_s = asyncio.run(add_structures(node.database_url, structures))
    rows: list[Row] = [(f"stats_refresh_all_{backend}", refresh_s, "s", "every day, once")]
    with serving(node.data_dir, node.port, env=SERVER_ENV) as server:
        times, cpu = measure_pages(
            server.base_url, requests, [server.process.pid], node.postmaster_pid_file
        )
        for name, _ in PAGES:
            rows.append((f"{name}_p50_{backend}", percentile(times[name], 50), "ms", ""))
            rows.append(
                (f"{name}_p95_{backend}", percentile(times[name], 95), "ms",
                 f"target <= {P95_TARGET_MS:g} ms")
            )  # fmt: skip
            rows.append(
                (f"{name}_cpu_p50_{backend}", percentile(cpu[name], 50), "ms",
                 "server CPU per request" + (" (with its database backends)"
                                             if node.postmaster_pid_file else ""))
            )  # fmt: skip
            rows.append((f"{name}_cpu_p95_{backend}", percentile(cpu[name], 95), "ms", ""))
        for fmt in ("csv", "geojson"):
            rise, size = export_rise(server.base_url, server.process.pid, f"/data/listings.{fmt}")
            rows.append(
                (f"export_{fmt}_rss_rise_{backend}", rise, "MB",
                 f"target < {EXPORT_TARGET_MB:g} MB ({size / 1e6:.1f} MB sent)")
            )  # fmt: skip
    return rows


def run(quick: bool) -> list[Row]:
    """Both backends; rows ``(name, value, unit, bound)``."""
    count, structures = QUICK if quick else FULL
    requests = QUICK_REQUESTS if quick else FULL_REQUESTS
    rows: list[Row] = []
    nodes: list[Prepared] = []
    reason = ""
    run_dir = Path(tempfile.mkdtemp(prefix="entraide-bench-territory-"))
    guard = watchdog(run_dir)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pg_future: Future[tuple[Prepared | None, str]] = pool.submit(
            prepare_postgres, count, run_dir
        )
        try:
            nodes.append(prepare("sqlite", count, run_dir))
        finally:
            pg, reason = pg_future.result()
            if pg is not None:
                nodes.append(pg)
        for node in nodes:
            rows.extend(measure(node, structures, requests))
    finally:
        pool.shutdown()
        for node in nodes:
            node.close()
        shutil.rmtree(run_dir, ignore_errors=True)
        with suppress(subprocess.TimeoutExpired):
            guard.wait(timeout=5)
    if reason:
        print(f"territory: PostgreSQL skipped: {reason}", file=sys.stderr)
    return rows


def main() -> int:
    return main_of("territory", __doc__ or "", run, "600 listings, 60 structures")


if __name__ == "__main__":
    sys.exit(main())
