"""Commune autocomplete: ``GET /api/v1/places?q=`` over every French commune.

Usage: ``python bench/places.py [--quick]``

A real ``entraide serve`` on SQLite (and on a throwaway PostgreSQL cluster when its
binaries are present), with the gazetteer its migrations load (35,014 communes).
The queries are what a person types into a commune field, letter by letter: every
prefix (1 to 12 characters) of communes drawn at random, written with or without
accents and hyphens, and postcode prefixes (2 to 5 digits). Each is answered with up to
10 suggestions. Figures: latency p50 and p95 per backend (target: p95 ≤ 20 ms).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import Row, cli, free_port, init_node, main_of, serving  # noqa: E402

QUICK_COMMUNES, FULL_COMMUNES = 40, 400
TARGET = "target <= 20 ms"


def typed_queries(count: int, seed: int = 7) -> list[str]:
    """Prefixes as a person types them: names (some without accents) and postcodes."""
    data = Path(HERE.parent / "domain" / "data" / "communes.csv.gz").read_bytes()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(data).decode())))
    rng = random.Random(seed)
    queries: list[str] = []
    for row in rng.sample(rows, count):
        name = row["name"]
        if rng.random() < 0.5:
            name = name.replace("-", " ").lower()
        queries += [name[:n] for n in range(1, min(len(name), 12) + 1)]
        postcode = row["postcodes"].split()[0] if row["postcodes"] else ""
        queries += [postcode[:n] for n in range(2, len(postcode) + 1)]
    rng.shuffle(queries)
    return queries


def measure(base_url: str, queries: list[str]) -> list[float]:
    timings: list[float] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for q in queries[:20]:  # warm up
            client.get("/api/v1/places", params={"q": q})
        for q in queries:
            started = time.perf_counter()
            response = client.get("/api/v1/places", params={"q": q})
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"places?q={q!r} answered {response.status_code}")
    return timings


def _rows(backend: str, timings: list[float]) -> list[Row]:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return [
        (f"places_p50_{backend}", statistics.median(ordered), "ms", ""),
        (f"places_p95_{backend}", p95, "ms", TARGET),
        (f"places_queries_{backend}", float(len(ordered)), "requests", ""),
    ]


def _node(run_dir: Path, name: str, database_url: str = "") -> tuple[Path, int]:
    data_dir = run_dir / name
    port = free_port()
    if database_url:
        cli(data_dir, "init", "--domain", f"127.0.0.1:{port}", "--name", "Banc", "--scheme",
            "http", "--database-url", database_url)  # fmt: skip
    else:
        init_node(data_dir, port)
    return data_dir, port


def run(quick: bool) -> list[Row]:
    queries = typed_queries(QUICK_COMMUNES if quick else FULL_COMMUNES)
    rows: list[Row] = []
    run_dir = Path(tempfile.mkdtemp(prefix="entraide-bench-places-"))
    try:
        data_dir, port = _node(run_dir, "sqlite")
        with serving(data_dir, port) as server:
            rows += _rows("sqlite", measure(server.base_url, queries))
        from bench.postgres import PgCluster, pg_binaries

        if pg_binaries() is None:
            print("places: PostgreSQL skipped: binaries not found", file=sys.stderr)
            return rows
        cluster = PgCluster.start()
        try:
            asyncio.run(cluster.execute("CREATE DATABASE bench_places"))
            data_dir, port = _node(run_dir, "postgresql", cluster.url("bench_places"))
            with serving(data_dir, port) as server:
                rows += _rows("postgresql", measure(server.base_url, queries))
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return rows


def main() -> int:
    return main_of("places", __doc__ or "", run, f"{QUICK_COMMUNES} communes typed")


if __name__ == "__main__":
    sys.exit(main())
