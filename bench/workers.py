"""Delivery throughput on PostgreSQL with one and with two ``entraide worker`` processes.

Measured in the same run, on one throwaway PostgreSQL cluster (the test suite's
``PgCluster``, on 127.0.0.1): N deliveries are queued for the counting receiver
of ``bench/delivery.py`` (16 "servers" on 127.0.0.1), then 1 (or 2) ``entraide
worker`` processes drain the queue. Rate = N / (last POST received − first
POST received; process start-up is left out). The ratio says how much a second
process adds on this machine (with 2 cores, the receiver and PostgreSQL compete
with the workers for them).

``python bench/workers.py [--quick]`` (N = 300 quick, 4,000 full).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, cli, entraide_command, format_row, free_port
from bench.delivery import PORTS, Receiver, enqueue_deliveries

QUICK_N = 300
FULL_N = 4_000


async def _drain_with(workers: int, data_dir: Path, base: str, n: int, first: int) -> float:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    ports = [free_port() for _ in range(PORTS)]
    receiver = Receiver(n)
    config = Config()
    config.bind = [f"127.0.0.1:{port}" for port in ports]
    config.accesslog = None
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    server = asyncio.create_task(serve(receiver, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.sleep(0.3)
        await enqueue_deliveries(data_dir, base, ports, n, first=first)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
        env.update(ENTRAIDE_WORKERS__POLL_INTERVAL="0.2", ENTRAIDE_LOG__LEVEL="WARNING")
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [*entraide_command(), "--data-dir", str(data_dir), "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        await asyncio.wait_for(receiver.complete.wait(), 600)
        # From the first POST received: process start-up (imports, connections) is not
        # delivery work.
        return n / (receiver.last - receiver.first)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        stop.set()
        await server


def run(quick: bool) -> list[Row]:
    from bench.postgres import PgCluster

    n = QUICK_N if quick else FULL_N
    try:
        cluster = PgCluster.start()
    except FileNotFoundError:
        return [("workers_postgresql", 0.0, "skipped", "PostgreSQL binaries not found")]
    rows: list[Row] = []
    try:
        rates = {}
        asyncio.run(cluster.execute("CREATE DATABASE workers"))
        with tempfile.TemporaryDirectory(prefix="entraide-bench-") as tmp:
            data_dir = Path(tmp) / "node"
            cli(
                data_dir,
                "init",
                "--domain",
                "127.0.0.1:9",
                "--name",
                "Banc",
                "--scheme",
                "http",
                "--allow-private-addresses",
                "--database-url",
                cluster.url("workers"),
            )
            for workers in (1, 2):
                # One node for both runs; the second run's activities have other ids.
                rates[workers] = asyncio.run(
                    _drain_with(workers, data_dir, "http://127.0.0.1:9", n, first=workers * 100)
                )
        rows.append(("delivery_rate_pg_1_worker", rates[1], "deliveries/s", f"{n} POSTs"))
        rows.append(("delivery_rate_pg_2_workers", rates[2], "deliveries/s", f"{n} POSTs"))
        rows.append(
            (
                "delivery_pg_2_over_1",
                rates[2] / rates[1],
                "x",
                "second worker process, same machine",
            )
        )
    finally:
        cluster.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
