"""A node that survives its own processes, and its database going away, on PostgreSQL.

One throwaway PostgreSQL cluster of its own (this test stops and starts it),
one node made by ``entraide init``, and the processes a sysadmin runs:
``entraide serve --workers 2`` (its loops off, so that only the worker
delivers) and one ``entraide worker``, with metrics on and JSON logs. Then,
sharing those processes, in order:

1. **Metrics across processes**: 40 deliveries made by the worker to a local
   receiver; eight scrapes of ``/metrics`` (a new connection each, so both web
   processes answer some) agree: 40 delivered, two web processes and one
   worker alive, and each scrape counts every earlier scrape whichever
   process answered it.
2. **A web process killed with SIGKILL** (the OOM killer): the other keeps
   answering, the dead one is replaced within seconds, ``serve`` logs it and
   goes on, and the metrics count two live web processes again.
3. **The database stopped** (``pg_ctl stop``) for a while: every API call
   answers 503 ``{"error": "unavailable"}`` with ``Retry-After``, pages the
   « service momentanément indisponible » page (English with ``?lang=en``),
   ``/readyz`` 503 naming the database; never a 500. Started again, the node
   answers 200 without a restart.
4. **The serve process killed with SIGKILL**: its web processes stop
   (nothing listens on the port any more); a new ``serve`` on the same port
   starts and, on SIGTERM, stops with status 0 within the graceful timeout.
5. **The logs**: every line of every process is a JSON object, none carries
   a traceback, and the outage left a handful of warning lines, not one per
   request.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.delivery import enqueue_deliveries
from bench.receiver import ReceiverProcess
from tests.databases import PgCluster
from tests.e2e.harness import HOST, Node, clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DELIVERIES = 40
ENV = {
    "ENTRAIDE_METRICS__ENABLED": "true",
    "ENTRAIDE_LOG__FORMAT": "json",
    "ENTRAIDE_WORKERS__RUN_IN_SERVE": "false",
    "ENTRAIDE_WORKERS__POLL_INTERVAL": "0.2",
    "ENTRAIDE_RATELIMIT__ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
}
CLOSE = {"Connection": "close"}  # a new connection: any web process may take it


def start(node: Node, *args: str, log: str) -> subprocess.Popen[bytes]:
    with (node.data_dir / log).open("ab") as out:
        return subprocess.Popen(
            [*entraide_command(), "--data-dir", str(node.data_dir), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(**ENV),
            start_new_session=True,
        )


def serve(node: Node) -> subprocess.Popen[bytes]:
    return start(
        node, "serve", "--host", HOST, "--port", str(node.port), "--workers", "2", log="serve.log"
    )


def get(node: Node, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{node.base_url}{path}", headers={**CLOSE, **headers}, timeout=15)


def answers(node: Node) -> bool:
    try:
        return get(node, "/healthz").status_code == 200
    except httpx.TransportError:
        return False


def web_pids(node: Node, tries: int = 80) -> set[int]:
    """The pids that answer /healthz, over ``tries`` new connections."""
    return {int(get(node, "/healthz").json()["pid"]) for _ in range(tries)}


def two_pids(node: Node, gone: int | None = None) -> set[int] | None:
    """The two web processes' pids, once two answer (and ``gone`` is not one of them)."""
    pids = web_pids(node, 40)
    return pids if len(pids) == 2 and gone not in pids else None


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when the series is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def pg_ctl(cluster: PgCluster, action: str) -> None:
    data = str(cluster.root / "data")
    if action == "stop":
        cluster._run(cluster.pg_ctl, "-D", data, "-m", "fast", "-w", "stop")
        return
    options = f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1 -c fsync=off"
    cluster._run(
        cluster.pg_ctl, "-D", data, "-l", str(cluster.root / "log"), "-o", options, "-w", "start"
    )


def log_records(path: Path) -> list[dict[str, Any]]:
    """Every line of a log in JSON mode, parsed; fails on a line that is not JSON."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line[:200]}") from None
    return records


@pytest.fixture
def pg(tmp_path: Path) -> Any:
    try:
        cluster = PgCluster.start()
    except FileNotFoundError:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    try:
        asyncio.run(cluster.execute("CREATE DATABASE node"))
        yield cluster
    finally:
        cluster.stop()


def test_processes_die_and_the_database_goes_away_and_the_node_carries_on(
    pg: PgCluster, tmp_path: Path
) -> None:
    node = Node(tmp_path / "node", "node", database_url=pg.url("node"))
    node.init()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master = serve(node)
        processes.append(master)
        worker = start(node, "worker", log="worker.log")
        processes.append(worker)
        wait_for(lambda: answers(node), 60, what="serve --workers 2 to answer")
        first_pids = wait_for(lambda: two_pids(node), 30, what="two web processes")

        # 1. Metrics across processes ------------------------------------------------------
        with ReceiverProcess() as receiving:
            asyncio.run(
                enqueue_deliveries(node.data_dir, node.base_url, receiving.ports, DELIVERIES)
            )
            wait_for(lambda: receiving.counts().unique >= DELIVERIES, 60, what="the deliveries")
        wait_for(  # the worker counts a delivery as it records it
            lambda: (
                sample(get(node, "/metrics").text, "entraide_deliveries_total", outcome="delivered")
                >= DELIVERIES
            ),
            30,
            what="the worker's deliveries in /metrics",
        )
        scrapes = [get(node, "/metrics").text for _ in range(8)]
        delivered = [sample(s, "entraide_deliveries_total", outcome="delivered") for s in scrapes]
        assert delivered == [DELIVERIES] * 8, delivered
        roles = [
            (
                sample(s, "entraide_processes", role="web"),
                sample(s, "entraide_processes", role="worker"),
            )
            for s in scrapes
        ]
        assert roles == [(2.0, 1.0)] * 8, roles
        counted = [
            sample(s, "entraide_http_requests_total", method="GET", route="/metrics", status="200")
            for s in scrapes
        ]
        # Each scrape counts the ones before it, whichever process answered either.
        assert [c - counted[0] for c in counted] == [float(k) for k in range(8)], counted

        # 2. A web process killed with SIGKILL -----------------------------------------------
        victim = min(first_pids)
        os.kill(victim, signal.SIGKILL)
        answered = [get(node, "/healthz").status_code for _ in range(20)]
        assert answered == [200] * 20, answered
        pids = wait_for(
            lambda: two_pids(node, gone=victim),
            60,
            what="a new web process in place of the killed one",
        )
        assert master.poll() is None, node.log_tail()
        assert (
            f"web process {victim} ended (killed by SIGKILL)"
            in (node.data_dir / "serve.log").read_text()
        )
        metrics = get(node, "/metrics").text
        assert sample(metrics, "entraide_processes", role="web") == 2.0

        # 3. The database stopped, then started again ---------------------------------------
        pg_ctl(pg, "stop")
        outage_began = time.monotonic()
        statuses: dict[str, set[int]] = {}
        while time.monotonic() - outage_began < 6:
            for path, headers in (
                ("/api/v1/instance", {}),
                ("/api/v1/listings?q=bois", {}),
                ("/", {"Accept-Language": "fr"}),
                ("/search?lang=en", {}),
                ("/readyz", {}),
            ):
                response = get(node, path, **headers)
                statuses.setdefault(path, set()).add(response.status_code)
                if response.status_code == 503 and path.startswith("/api/"):
                    assert response.json()["error"] == "unavailable", response.text
                    assert "database" in response.json()["message"]
                    assert response.headers["Retry-After"].isdigit()
                elif response.status_code == 503 and path == "/":
                    assert "Service momentanément indisponible" in response.text
                elif response.status_code == 503 and path.startswith("/search"):
                    assert "Service temporarily unavailable" in response.text
                elif response.status_code == 503:
                    assert response.json()["reason"].startswith(
                        "database unreachable (postgresql database node on 127.0.0.1"
                    ), response.text
            time.sleep(0.2)
        assert statuses == {path: {503} for path in statuses} and len(statuses) == 5, statuses
        pg_ctl(pg, "start")
        wait_for(
            lambda: (
                get(node, "/api/v1/instance").status_code == 200
                and get(node, "/readyz").status_code == 200
            ),
            30,
            what="the node to answer again once the database is back",
        )
        assert master.poll() is None and worker.poll() is None

        # 4. The serve process killed with SIGKILL ------------------------------------------
        os.kill(master.pid, signal.SIGKILL)
        master.wait(timeout=10)
        wait_for(
            lambda: not any(alive(pid) for pid in pids),
            30,
            what=f"the web processes {sorted(pids)} to stop after their serve process died",
        )
        assert not answers(node), "something still answers on the port"
        again = serve(node)
        processes.append(again)
        wait_for(lambda: answers(node), 60, what="a new serve on the same port")
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=45) == 0
        assert not answers(node)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=45) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # 5. The logs -------------------------------------------------------------------------
    lines = {name: log_records(node.data_dir / name) for name in ("serve.log", "worker.log")}
    for name, records in lines.items():
        with_traceback = [r for r in records if "exception" in r or "Traceback" in r["message"]]
        assert not with_traceback, (name, with_traceback[:3])
    warnings = [
        r["message"]
        for records in lines.values()
        for r in records
        if r["level"] == "WARNING" and r["message"].startswith("database ")
    ]
    # One line per process and kind of trouble per 30 s: three processes, a short outage.
    assert 1 <= len(warnings) <= 12, warnings
    errors = [r["message"] for r in lines["serve.log"] if r["level"] == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"web process {victim} ended"), errors
