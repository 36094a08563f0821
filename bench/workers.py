"""Delivery throughput on PostgreSQL with one and with two ``entraide worker`` processes,
and where the CPU goes while they drain the queue.

Measured in the same run, on one throwaway PostgreSQL cluster (the test suite's
``PgCluster``, on 127.0.0.1): 1 (then 2) ``entraide worker`` processes are started
and left to settle (their start-up is not delivery work), then N deliveries are
queued for the counting receiver of ``bench/receiver.py`` (16 "servers" on
127.0.0.1, a child process) and the workers drain the queue. Rate = N / (last POST
received − first POST received).

For each run, from ``/proc`` over the drain (the commit of the queued rows to the
last POST): each worker's CPU per POST, the PostgreSQL processes' (the postmaster
and all its children: the workers' backends, the WAL writer…), the receiver's, the
sum of all of them over wall time × cores, and the machine's busy share of all its
cores from ``/proc/stat`` (which counts everything else running too). Cores nearly
full while the second worker adds little: the machine bounds the ratio. Cores idle
while the workers wait: the queue does.

``python bench/workers.py [--quick]`` (N = 300 quick, 12,000 full: at 4,000 the two-worker
drain lasts about 2 s, and its first and last claims weigh on the rate).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, cli, entraide_command, format_row
from bench.delivery import enqueue_deliveries
from bench.procstats import children_of, cpu_ms, machine_ticks
from bench.receiver import PORTS, ReceiverProcess

QUICK_N = 300
FULL_N = 12_000
SETTLE_LIMIT = 60.0  # seconds a worker may take to start


@dataclass
class Drain:
    """One run: the rate and the CPU of each process over the drain, in ms."""

    rate: float
    wall: float  # seconds, from the commit to the last POST
    workers: list[float]
    postgres: float
    receiver: float
    benchmark: float
    machine_busy: float  # share of all cores busy (/proc/stat), 0..1

    def measured_share(self) -> float:
        """The processes measured here, over wall time × cores."""
        total = sum(self.workers) + self.postgres + self.receiver + self.benchmark
        return total / 1000 / (self.wall * (os.cpu_count() or 1))


def _started(log: Path) -> bool:
    try:
        return "worker: processing" in log.read_text(errors="replace")
    except OSError:
        return False


def _postgres_cpu(pid_file: Path) -> dict[int, float]:
    return {pid: cpu_ms([pid]) for pid in children_of(pid_file)}


async def _drain_with(
    workers: int, data_dir: Path, pid_file: Path, base: str, n: int, first: int
) -> Drain:
    processes: list[subprocess.Popen[bytes]] = []
    with ReceiverProcess(PORTS) as receiver:
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
            env.update(ENTRAIDE_WORKERS__POLL_INTERVAL="0.2", ENTRAIDE_LOG__LEVEL="WARNING")
            logs = [data_dir / f"worker-{workers}-{i}.log" for i in range(workers)]
            for log in logs:
                with log.open("wb") as out:
                    processes.append(
                        subprocess.Popen(
                            [*entraide_command(), "--data-dir", str(data_dir), "worker"],
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            # Started (their announcement printed), then a moment for the loops to settle.
            deadline = time.monotonic() + SETTLE_LIMIT
            while not all(_started(log) for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"entraide worker did not start: see {logs}")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            pids = [process.pid for process in processes]
            await enqueue_deliveries(data_dir, base, receiver.ports, n, first=first)
            # From the commit: the rows are invisible to the workers until then.
            committed = time.time()
            before = [cpu_ms([pid]) for pid in pids]
            pg_before = _postgres_cpu(pid_file)
            receiver_before = receiver.cpu_ms()
            own_before = cpu_ms([os.getpid()])
            busy_before, total_before = machine_ticks()
            counts = await receiver.wait_async(n, 600)
            busy, total = machine_ticks()
            after = [cpu_ms([pid]) for pid in pids]
            pg_after = _postgres_cpu(pid_file)
            return Drain(
                rate=n / (counts.last - counts.first),
                wall=counts.last - committed,
                workers=[a - b for a, b in zip(after, before, strict=True)],
                postgres=sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items()),
                receiver=receiver.cpu_ms() - receiver_before,
                benchmark=cpu_ms([os.getpid()]) - own_before,
                machine_busy=(busy - busy_before) / max(1, total - total_before),
            )
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                process.wait(timeout=30)


def _rows(drains: dict[int, Drain], n: int) -> list[Row]:
    rows: list[Row] = [
        ("delivery_rate_pg_1_worker", drains[1].rate, "deliveries/s", f"{n} POSTs"),
        ("delivery_rate_pg_2_workers", drains[2].rate, "deliveries/s", f"{n} POSTs"),
        (
            "delivery_pg_2_over_1",
            drains[2].rate / drains[1].rate,
            "x",
            "target >= 1.8; second worker process, same machine",
        ),
    ]
    cores = os.cpu_count() or 1
    # What the machine allows, from CPU alone: one worker is bound by its own core (its
    # CPU per POST); two by all the cores shared with everything a POST costs here.
    one = n / max(1e-9, sum(drains[1].workers) / 1000)
    total = sum(drains[2].workers) + drains[2].postgres + drains[2].receiver
    two = min(2 * one, cores * n / max(1e-9, total / 1000))
    rows.append(
        (
            "delivery_pg_2_over_1_cpu_bound",
            two / one,
            "x",
            f"the most {cores} cores allow: (cores / CPU per POST of workers, PostgreSQL and "
            "receiver) / (1 / one worker's CPU per POST)",
        )
    )
    for count, drain in drains.items():
        prefix = f"delivery_pg_{count}w"
        for i, worker in enumerate(drain.workers, 1):
            rows.append(
                (f"{prefix}_worker{i}_cpu_per_post", worker / n, "ms", "one worker process")
            )
            rows.append(
                (
                    f"{prefix}_worker{i}_core_share",
                    worker / 1000 / drain.wall,
                    "x",
                    "its CPU over wall time: near 1, the worker is bound by its core",
                )
            )
        rows += [
            (
                f"{prefix}_workers_cpu_per_post",
                sum(drain.workers) / n,
                "ms",
                "all worker processes together",
            ),
            (
                f"{prefix}_postgres_cpu_per_post",
                drain.postgres / n,
                "ms",
                "the postmaster and all its children",
            ),
            (
                f"{prefix}_receiver_cpu_per_post",
                drain.receiver / n,
                "ms",
                "the benchmark's receiver (child process)",
            ),
            (
                f"{prefix}_measured_cpu_share",
                drain.measured_share(),
                "x",
                f"the processes above and the benchmark's, over wall x {cores} cores",
            ),
            (
                f"{prefix}_machine_busy",
                drain.machine_busy,
                "x",
                f"all {cores} cores, /proc/stat, same interval (other work included)",
            ),
        ]
    return rows


def run(quick: bool) -> list[Row]:
    from bench.postgres import PgCluster

    n = QUICK_N if quick else FULL_N
    try:
        cluster = PgCluster.start()
    except FileNotFoundError:
        return [("workers_postgresql", 0.0, "skipped", "PostgreSQL binaries not found")]
    try:
        drains = {}
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
            pid_file = cluster.root / "data" / "postmaster.pid"
            for workers in (1, 2):
                # One node for both runs; the second run's activities have other ids.
                drains[workers] = asyncio.run(
                    _drain_with(
                        workers, data_dir, pid_file, "http://127.0.0.1:9", n, first=workers * 100
                    )
                )
                drain = drains[workers]
                print(
                    f"workers: {workers} worker(s), {n} POSTs in {drain.wall:.2f} s, "
                    f"CPU ms: workers {[round(w) for w in drain.workers]}, "
                    f"PostgreSQL {drain.postgres:.0f}, receiver {drain.receiver:.0f}, "
                    f"benchmark {drain.benchmark:.0f}; machine busy {drain.machine_busy:.0%}",
                    file=sys.stderr,
                )
        return _rows(drains, n)
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
