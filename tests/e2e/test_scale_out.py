"""Scaling out on PostgreSQL: several processes share the queues, and one dying loses nothing.

Three processes — ``entraide serve --workers 2`` and two ``entraide worker`` —
run against one throwaway PostgreSQL. 2,000 deliveries are queued for a local
receiver (``bench/receiver.py``: 16 "servers" on 127.0.0.1, in a child process);
one worker is killed with ``kill -9`` half-way. Every delivery arrives (counted
by activity and inbox at the receiver) and the queue drains. Delivery is
at-least-once: a POST that the killed worker had sent but not yet recorded is
sent again after its lease, so duplicates are bounded by what that worker had
in flight, and receivers deduplicate by activity id (ours does: ``inbox_items``
is unique on it).

Also: ``serve --workers 2`` really is two processes (``/healthz`` reports the
pid that answered). What happens when a web process, the serve process or the
database goes away is in ``test_supervision.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bench.delivery import delivery_states, enqueue_deliveries
from bench.receiver import ReceiverProcess
from tests.databases import DatabaseTemplates
from tests.e2e.harness import HOST, Node, clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N = 2000
LEASE = "5"


def _process(node: Node, *args: str, log: str) -> subprocess.Popen[bytes]:
    env = clean_env(
        ENTRAIDE_WORKERS__POLL_INTERVAL="0.2",
        ENTRAIDE_WORKERS__LEASE_SECONDS=LEASE,
        ENTRAIDE_RATELIMIT__ENABLED="false",
    )
    out = (node.data_dir / log).open("wb")
    return subprocess.Popen(
        [*entraide_command(), "--data-dir", str(node.data_dir), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


@pytest.fixture
def pg_node(tmp_path: Path, templates: DatabaseTemplates) -> Node:
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    # A copy of the migrated template: `init` on an empty PostgreSQL database, which
    # migrates it, is test_processes' and tests/cli's to check.
    node = Node(tmp_path / "pg", "pg", database_url=templates.postgres_url())
    node.init()
    return node


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_two_workers_and_two_web_processes_share_the_queue(pg_node: Node) -> None:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            _process(
                pg_node,
                "serve",
                "--host",
                HOST,
                "--port",
                str(pg_node.port),
                "--workers",
                "2",
                log="serve.log",
            )
        )
        wait_for(lambda: _answers(pg_node), 60, what="serve --workers 2 to answer")
        pids = {
            httpx.get(f"{pg_node.base_url}/healthz", headers={"Connection": "close"}).json()["pid"]
            for _ in range(40)
        }
        assert len(pids) == 2, f"expected two web processes, saw {pids}"

        workers = [_process(pg_node, "worker", log=f"worker{i}.log") for i in range(2)]
        processes.extend(workers)
        with ReceiverProcess() as receiving:
            asyncio.run(enqueue_deliveries(pg_node.data_dir, pg_node.base_url, receiving.ports, N))
            receiving.wait(N // 3, 120)  # a third of the deliveries
            os.killpg(workers[0].pid, signal.SIGKILL)  # kill -9, mid-way
            workers[0].wait()
            wait_for(
                lambda: receiving.counts().unique >= N,
                180,
                what=f"all {N} deliveries (lease {LEASE} s for the killed worker's rows)",
            )
            states = wait_for(
                lambda: (
                    (s := asyncio.run(delivery_states(pg_node.data_dir)))
                    and s.get("pending", 0) == 0
                    and s
                ),
                60,
                what="the queue to drain",
            )
            time.sleep(1.0)  # a late duplicate would arrive now
            receiver = receiving.counts()
        assert states == {"done": N}
        assert receiver.unique == N  # every (activity, inbox) pair arrived
        # At-least-once: only what the killed worker had in flight may come twice.
        assert receiver.duplicates <= 64, receiver.duplicates
    finally:
        _stop_all(processes)


def _answers(node: Node) -> bool:
    try:
        return httpx.get(f"{node.base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_sqlite_refuses_several_web_processes_and_workers(tmp_path: Path) -> None:
    node = Node(tmp_path / "lite", "lite")
    node.init()
    result = node.cli("serve", "--workers", "2", check=False)
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr
    result = node.cli("worker", check=False)
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr
