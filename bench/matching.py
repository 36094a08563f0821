"""Matching one new listing against the open listings of a loaded node.

Usage: ``python bench/matching.py [--quick]``

A node is initialised with the real CLI and loaded with 100,000 listings (2,000 with
``--quick``) of realistic French text spread over a region (``bench/search_data.py``,
the search benchmark's loader), all made open and visible, on SQLite and on a
throwaway PostgreSQL cluster (skipped, with the reason on stderr, without ``initdb``
and ``pg_ctl``). Then, one at a time, a new listing (an offer or a need, drawn from
the same generator with another seed) is inserted and matched by the project's own
``instance.services.matching.match_listing`` — candidates from the full-text index
and the box of its reach, the pure score, pairs stored, both sides told — and
committed: what the matching worker does for each listing it takes from its queue.
Figures per backend: p50 and p95 of that step (target: p95 ≤ 100 ms), on SQLite the
p95 of the CPU time it took (the database works in this process: the cost whatever the
machine's load), and the mean number of matches stored per listing.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import Row, main_of  # noqa: E402
from bench.search_data import (  # noqa: E402
    Prepared,
    fast_search_columns,
    prepare,
    prepare_postgres,
    watchdog,
)

QUICK_LISTINGS, FULL_LISTINGS = 2_000, 100_000
QUICK_MATCHED, FULL_MATCHED = 40, 300
TARGET = "target <= 100 ms"


def _url(node: Prepared) -> str:
    from config.settings import load_settings

    return load_settings(node.data_dir, environ={}).database_url


async def _open_everything(url: str) -> int:
    """Every loaded listing open and visible (the generator closes some); the count."""
    from sqlalchemy import func, select, update

    from config.database import Database
    from domain.models import Listing

    db = Database(url)
    try:
        async with db.session() as session:
            await session.execute(
                update(Listing).values(status="open", hidden=False, expires_at=None)
            )
            return int(await session.scalar(select(func.count()).select_from(Listing)) or 0)
    finally:
        await db.dispose()


async def _match_new_listings(url: str, count: int) -> tuple[list[float], list[float], list[int]]:
    """Insert ``count`` new listings one by one and time matching each: wall clock and
    this process's CPU (ms; on SQLite the database works in this process, so the CPU
    time is the whole cost whatever the machine's load), and the matches stored."""
    from sqlalchemy import select

    from bench.data_fr import generate
    from config.database import Database
    from domain.models import Listing, Structure
    from instance.services.matching import match_listing

    db = Database(url)
    timings: list[float] = []
    cpu: list[float] = []
    stored: list[int] = []
    now = datetime.now(UTC)
    rng = random.Random(23)
    try:
        async with db.session() as session:
            structure = (await session.execute(select(Structure))).scalars().first()
            assert structure is not None and structure.actor_id is not None
            structure_id, author_id = structure.id, structure.actor_id
        fakes = list(generate(count * 2, now, remote_share=0.0, seed=991))
        rng.shuffle(fakes)
        for n, fake in enumerate(fakes[:count]):
            fields: dict[str, Any] = {
                "ap_id": f"http://bench.invalid/new/{n}",
                "url": "",
                "local": True,
                "origin": "bench.invalid",
                "structure_id": structure_id,
                "author_id": author_id,
                "kind": fake.kind,
                "title": fake.title,
                "description": fake.description,
                "category": fake.category,
                "modality": fake.modality,
                "commune": fake.commune,
                "lat": fake.lat,
                "lon": fake.lon,
                "radius_km": fake.radius_km,
                "status": "open",
                "available_from": fake.available_from,
                "available_until": fake.available_until,
                **fast_search_columns(fake),
            }
            async with db.session() as session:
                listing = Listing(**fields)
                session.add(listing)
                await session.flush()
                listing_id = listing.id
            started, cpu_started = time.perf_counter(), time.process_time()
            async with db.session() as session:
                kept = await match_listing(session, db.dialect, listing_id)
                stored.append(len(kept))
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    finally:
        await db.dispose()
    return timings, cpu, stored


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _rows(
    backend: str, loaded: int, timings: list[float], cpu: list[float], stored: list[int]
) -> list[Row]:
    rows: list[Row] = [
        (f"matching_p50_{backend}", statistics.median(timings), "ms", ""),
        (f"matching_p95_{backend}", _p95(timings), "ms", TARGET),
    ]
    if backend == "sqlite":  # PostgreSQL's share of the work is in its own processes
        rows.append((f"matching_cpu_p95_{backend}", _p95(cpu), "ms", ""))
    return [
        *rows,
        (f"matching_stored_mean_{backend}", statistics.mean(stored), "matches/listing", ""),
        (f"matching_open_listings_{backend}", float(loaded), "listings", ""),
    ]


def run(quick: bool) -> list[Row]:
    count = QUICK_LISTINGS if quick else FULL_LISTINGS
    matched = QUICK_MATCHED if quick else FULL_MATCHED
    rows: list[Row] = []
    run_dir = Path(tempfile.mkdtemp(prefix="entraide-bench-matching-"))
    guard = watchdog(run_dir)
    nodes: list[Prepared] = []
    try:
        nodes.append(prepare("sqlite", count, run_dir))
        pg, reason = prepare_postgres(count, run_dir)
        if pg is None:
            print(f"matching: PostgreSQL skipped: {reason}", file=sys.stderr)
        else:
            nodes.append(pg)
        for node in nodes:
            url = _url(node)
            loaded = asyncio.run(_open_everything(url))
            timings, cpu, stored = asyncio.run(_match_new_listings(url, matched))
            rows += _rows(node.backend, loaded, timings, cpu, stored)
    finally:
        for node in nodes:
            node.close()
        shutil.rmtree(run_dir, ignore_errors=True)
        with suppress(Exception):
            guard.wait(timeout=5)
    return rows


def main() -> int:
    return main_of("matching", __doc__ or "", run, f"{QUICK_LISTINGS:,} listings")


if __name__ == "__main__":
    sys.exit(main())
