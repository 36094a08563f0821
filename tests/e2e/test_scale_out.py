"""Scaling out on PostgreSQL: several processes share the queues, and one dying loses nothing.

Three processes — ``entraide serve --workers 2`` and two ``entraide worker`` —
run against one throwaway PostgreSQL. 2,000 deliveries are queued for a local
receiver (16 "servers" on 127.0.0.1); one worker is killed with ``kill -9``
half-way. Every delivery arrives (counted by activity and inbox at the
receiver) and the queue drains. Delivery is at-least-once: a POST that the
killed worker had sent but not yet recorded is sent again after its lease,
so duplicates are bounded by what that worker had in flight, and receivers
deduplicate by activity id (ours does: ``inbox_items`` is unique on it).

Also: ``serve --workers 2`` really is two processes (``/healthz`` reports the
pid that answered). What happens when a web process, the serve process or the
database goes away is in ``test_supervision.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.delivery import PORTS, Receiver, delivery_states, enqueue_deliveries
from tests.databases import DatabaseTemplates
from tests.e2e.harness import HOST, Node, clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N = 2000
LEASE = "5"


class ReceiverThread:
    """The counting receiver of the delivery benchmark, served from a thread."""

    def __init__(self, expected: int) -> None:
        self.receiver = Receiver(expected)
        # Bound here and handed to Hypercorn by descriptor: a port picked free and bound
        # later could be taken meanwhile by another test's process (EADDRINUSE).
        self._fds: list[int] = []
        self.ports: list[int] = []
        for _ in range(PORTS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, 0))
            self.ports.append(sock.getsockname()[1])
            self._fds.append(sock.detach())  # Hypercorn owns and closes it
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        asyncio.set_event_loop(self._loop)
        config = Config()
        config.bind = [f"fd://{fd}" for fd in self._fds]
        config.accesslog = None
        config.loglevel = "WARNING"
        config.keep_alive_timeout = 60

        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(self.receiver, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        self._loop.run_until_complete(main())

    def __enter__(self) -> ReceiverThread:
        self._thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


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
        with ReceiverThread(N) as receiving:
            asyncio.run(enqueue_deliveries(pg_node.data_dir, pg_node.base_url, receiving.ports, N))
            wait_for(
                lambda: receiving.receiver.received >= N // 3, 120, what="a third of the deliveries"
            )
            os.killpg(workers[0].pid, signal.SIGKILL)  # kill -9, mid-way
            workers[0].wait()
            wait_for(
                lambda: len(receiving.receiver.seen) >= N,
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
            receiver = receiving.receiver
        assert states == {"done": N}
        assert len(receiver.seen) == N  # every (activity, inbox) pair arrived
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
