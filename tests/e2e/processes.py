"""Process helpers of the end-to-end harness: the console script, a clean environment,
polling, parallel calls, the kill of leftover servers at exit, and the peering of two
serving nodes through the CLI (see ``harness``)."""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tests.e2e.harness import Node

T = TypeVar("T")

HOST = "127.0.0.1"
PASSWORD = "correct horse battery"
SERVER_ENV = {
    "ENTRAIDE_WORKERS__POLL_INTERVAL": "0.2",
    "ENTRAIDE_RATELIMIT__ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
}
CLI_TIMEOUT = 90.0
READY_TIMEOUT = 60.0  # a cold start takes 2-7 s; a loaded CI machine can take much longer
STOP_TIMEOUT = 45.0  # Hypercorn's graceful timeout (15 s) plus the workers' grace (10 s)
PAST = "2000-01-01 00:00:00.000000"  # a UTCDateTime as SQLite stores it: due long ago

LISTING: dict[str, Any] = {
    "structure": "menuiserie",
    "kind": "offer",
    "title": "Chutes de chêne",
    "description": "Chutes de bois massif à donner, idéal pour un atelier.",
    "category": "materials",
    "modality": "give",
    "quantity": "300",
    "unit": "kg",
    "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
    "radius_km": 30,
}

_LIVE: set[subprocess.Popen[bytes]] = set()


def _kill_leftovers() -> None:
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


atexit.register(_kill_leftovers)


_TEMPLATE: list[Path] = []
_TEMPLATE_LOCK = threading.Lock()


def migrated_sqlite() -> Path:
    """An empty SQLite database at the schema's head, migrated once per test process.

    ``Node.init`` copies it into a new data directory before ``entraide init``, which
    then finds the schema current and only writes the settings and creates the
    territory: the migrations' second of CPU is paid once, not for every node. (The
    migrations themselves are tested by ``tests/cli`` — ``init`` on an empty directory —
    and ``tests/foundation/test_migrations.py``.)
    """
    with _TEMPLATE_LOCK:  # nodes are initialised from several threads at once
        if not _TEMPLATE:
            from instance.migrate import upgrade
            from tests.databases import in_thread

            directory = Path(tempfile.mkdtemp(prefix="entraide-e2e-template-"))
            atexit.register(shutil.rmtree, directory, True)
            path = directory / "entraide.db"
            in_thread(upgrade, f"sqlite+aiosqlite:///{path}")
            _TEMPLATE.append(path)
        return _TEMPLATE[0]


def entraide_command() -> list[str]:
    """The real console script of this interpreter's environment (the project's venv)."""
    script = Path(sys.executable).with_name("entraide")
    if script.exists():
        return [str(script)]
    found = shutil.which("entraide")
    return [found] if found else [sys.executable, "-m", "instance.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without ``ENTRAIDE_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    env.update(extra)
    return env


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when its parent dies (Linux prctl(2))."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def wait_for(predicate: Callable[[], T], timeout: float, *, what: str, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; fail after
    ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        asked = time.monotonic()
        value = predicate()
        if value:
            return value
        took = time.monotonic() - asked
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}: {value!r}")
        # A predicate that runs a command (a new process importing the node: a second of
        # CPU) is asked at most half the time, leaving the other core to the nodes.
        time.sleep(max(interval, took))


def in_parallel(*calls: Callable[[], T]) -> list[T]:
    """Run blocking calls (CLI commands: mostly imports, one core each) at the same time."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def peer_through_cli(a: Node, b: Node, timeout: float = 30.0) -> None:
    """``peer request`` on A, ``peer approve`` on B, until both see the peering accepted.

    Both nodes must be serving: the CLI queues the activities in the database
    and each server delivers them within its poll interval.
    """
    requested = a.cli("peer", "request", f"acct:territory@{b.domain}").stdout.strip()
    assert requested == f"{b.domain} outgoing pending", requested

    deadline = time.monotonic() + timeout
    while True:  # B's approve works once B has received and stored A's Follow
        approved = b.cli("peer", "approve", a.domain, check=False)
        if approved.returncode == 0:
            assert approved.stdout.strip() == f"{a.domain} incoming accepted", approved.stdout
            break
        if time.monotonic() >= deadline:
            raise AssertionError(f"B never saw A's request: {approved.stderr.strip()}")
        time.sleep(0.2)
    # Accepted both ways once each has the other's Accept (counts.peers: accepted outgoing).
    wait_for(
        lambda: a.instance()["counts"]["peers"] == 1 and b.instance()["counts"]["peers"] == 1,
        timeout,
        what="both nodes to count the other as an accepted peer",
    )


def run_commands(data_dir: Path, *commands: list[str]) -> list[str]:
    """Several commands, in order, in one Python process: each is ``entraide --data-dir
    DATA_DIR COMMAND`` run through the console script's own ``main`` (its parsing, its
    errors, its output), without paying the interpreter's start and the node's imports
    once per command. Each command's output is returned; a command that fails stops the
    others and fails the test with its stderr. The console script itself is what
    ``Node.cli`` and ``tests/cli`` run."""
    script = (
        "import contextlib, io, json, sys\n"
        "from instance.cli import main\n"
        "outputs = []\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        code = main(args)\n"
        "    if code:\n"
        "        sys.exit(code)\n"
        "    outputs.append(out.getvalue())\n"
        "print(json.dumps(outputs))\n"
    )
    argv = [["--data-dir", str(data_dir), *command] for command in commands]
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, (commands, result.returncode, result.stderr)
    outputs: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return outputs
