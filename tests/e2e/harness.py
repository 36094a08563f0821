"""Real ``entraide`` server processes on 127.0.0.1, for end-to-end tests.

A :class:`Node` is one data directory made by the real console script
(``entraide init --domain 127.0.0.1:PORT --scheme http
--allow-private-addresses``, on a free port, optionally ``--database-url``;
on SQLite over a copy of a database migrated once per test process)
and, while it serves, one ``entraide serve --host 127.0.0.1 --port PORT``
process: :meth:`Node.start` (waits until ``/api/v1/instance`` answers),
:meth:`Node.stop` (SIGTERM, returns the exit status), :meth:`Node.kill`
(SIGKILL, as ``kill -9``). Its output goes to ``DATA_DIR/serve.log``, whose
tail is in every error about the process. :meth:`Node.add_publisher` makes a
person, an approved structure and an API token through the CLI;
:meth:`Node.api` calls the JSON API with that token.

A :class:`Cluster` owns the nodes of a test and kills every process they
started when it closes, whatever happened. Processes also die with the test
run itself: on Linux each server asks the kernel for SIGKILL when its parent
exits (``prctl(PR_SET_PDEATHSIG)``), and an ``atexit`` hook kills what is left.

Servers run with ``ENTRAIDE_WORKERS__POLL_INTERVAL=0.2`` (work queued by
another process — the CLI — is picked up quickly) and
``ENTRAIDE_RATELIMIT__ENABLED=false``; other ``ENTRAIDE_*`` variables of the
calling environment are not passed on. Nothing listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.databases import free_port
from tests.e2e.processes import (
    _LIVE,
    CLI_TIMEOUT,
    HOST,
    LISTING,
    PASSWORD,
    PAST,
    READY_TIMEOUT,
    SERVER_ENV,
    STOP_TIMEOUT,
    _die_with_parent,
    clean_env,
    entraide_command,
    in_parallel,
    migrated_sqlite,
    peer_through_cli,
    run_commands,
    wait_for,
)

# Re-exported: the tests import these from here.
__all__ = [
    "HOST",
    "LISTING",
    "PASSWORD",
    "PAST",
    "Cluster",
    "Node",
    "_die_with_parent",
    "clean_env",
    "entraide_command",
    "in_parallel",
    "peer_through_cli",
    "start_all",
    "wait_for",
]


def start_all(*nodes: Node, timeout: float = READY_TIMEOUT) -> None:
    """Start several nodes at once (their start-ups overlap), then wait for each."""
    for node in nodes:
        node.launch()
    for node in nodes:
        node.wait_ready(timeout)


class Node:
    """One node: a data directory on a free port of 127.0.0.1, and its server process."""

    def __init__(self, data_dir: Path, name: str, *, database_url: str = "") -> None:
        self.data_dir = data_dir
        self.name = name
        self.database_url = database_url
        self.port = free_port()
        self.token: str | None = None
        self.structure: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.domain}>"

    @property
    def domain(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    @property
    def db_path(self) -> Path:
        if self.database_url:
            raise RuntimeError(f"{self!r} is on {self.database_url}, not SQLite")
        return self.data_dir / "entraide.db"

    # --- the command line ---------------------------------------------------------

    def cli(
        self, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """``entraide --data-dir DIR ARGS``; fails the test with its stderr when ``check``."""
        result = subprocess.run(
            [*entraide_command(), "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.name}: `entraide {' '.join(args)}` exited {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        return result

    def init(self) -> None:
        """``entraide init`` for ``127.0.0.1:PORT`` over plain http. On SQLite, into a copy
        of a database already migrated (:func:`migrated_sqlite`): ``init`` then only
        checks the schema, writes the settings and creates the territory."""
        if not self.database_url:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(migrated_sqlite(), self.data_dir / "entraide.db")
        args = ["init", "--domain", self.domain, "--name", f"Territoire {self.name}"]
        args += ["--scheme", "http", "--allow-private-addresses"]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self.cli(*args)

    def commands(self, *commands: list[str]) -> list[str]:
        """Several commands in one process (:func:`run_commands`); their outputs."""
        return run_commands(self.data_dir, *commands)

    def add_publisher(
        self, *, email: str = "owner@menuiserie.example", handle: str = "menuiserie"
    ) -> str:
        """A person, an approved structure they act for, and their API token (returned)."""
        *_, token = self.commands(
            ["user", "create", "--email", email, "--password", PASSWORD],
            ["structure", "create", "--handle", handle, "--name", handle.title(), "--owner", email],
            ["token", "create", "--email", email],
        )
        self.token = token.strip()
        self.structure = handle
        return self.token

    def peers(self) -> list[str]:
        """The lines of ``entraide peer list``."""
        return self.cli("peer", "list").stdout.splitlines()

    # --- the server process -------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start ``entraide serve`` without waiting for it (see :meth:`wait_ready`)."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.starts += 1
        command = [*entraide_command(), "--data-dir", str(self.data_dir), "serve"]
        command += ["--host", HOST, "--port", str(self.port)]
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits: only from the main one.
        main_thread = threading.current_thread() is threading.main_thread()
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} at {time.strftime('%H:%M:%S')} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(**SERVER_ENV),
                start_new_session=True,  # a Ctrl-C on the terminal is for pytest, not for it
                preexec_fn=_die_with_parent if sys.platform == "linux" and main_thread else None,
            )
        _LIVE.add(self.process)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until ``GET /api/v1/instance`` answers 200; fail with the log's tail."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise AssertionError(f"{self!r} exited ({code}) before serving:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/api/v1/instance", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError(
                    f"{self!r} did not answer within {timeout:g} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        self.launch()
        self.wait_ready(timeout)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit status once the process has ended (killed, and failing, after ``timeout``)."""
        assert self.process is not None, f"{self!r} was never started"
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self!r} still running {timeout:g} s after SIGTERM:\n{self.log_tail()}"
            ) from None
        finally:
            self._drop_client()
        _LIVE.discard(self.process)
        return code

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (a graceful stop), then wait; returns the exit status."""
        assert self.running, f"{self!r} is not running"
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL, as ``kill -9``: no shutdown code runs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        _LIVE.discard(self.process)
        self._drop_client()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        self.kill()
        self._drop_client()

    # --- the JSON API -------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """An HTTP client for this node (made anew after a restart)."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=10)
        return self._client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def api(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """A call to ``/api/v1/PATH``, with the publisher's token when there is one."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.request(
            method, f"/api/v1/{path.lstrip('/')}", json=json, params=params, headers=headers
        )

    def instance(self) -> dict[str, Any]:
        response = self.api("GET", "instance")
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info

    def create_listing(self, **changes: Any) -> dict[str, Any]:
        """``POST /api/v1/listings`` (the defaults of :data:`LISTING`); asserts 201."""
        body = {**LISTING, "structure": self.structure, **changes}
        response = self.api("POST", "listings", json=body)
        assert response.status_code == 201, (response.status_code, response.text)
        created: dict[str, Any] = response.json()
        return created

    def listings(self, **query: str) -> list[dict[str, Any]]:
        """Every listing matching ``query`` (all pages of ``GET /api/v1/listings``)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {**query, "limit": 100}
        for _ in range(100):
            response = self.api("GET", "listings", params=params)
            assert response.status_code == 200, (response.status_code, response.text)
            page = response.json()
            items.extend(page["items"])
            if not page.get("next"):
                return items
            params["cursor"] = page["next"]
        raise AssertionError(f"{self!r}: more than 100 pages of listings")

    def count_by_ap_id(self, ap_id: str, **query: str) -> int:
        """How many listings this node holds with ``ap_id`` (any status)."""
        return sum(1 for item in self.listings(status="any", **query) if item["ap_id"] == ap_id)

    # --- the SQLite file, from outside ----------------------------------------------

    def sql(self, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``query`` through a read-only connection to the node's SQLite file."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(query, tuple(params)).fetchall()
        finally:
            connection.close()

    def sql_write(self, query: str, params: Iterable[Any] = ()) -> int:
        """Change the node's SQLite file from outside (tests only: say why where it is used)."""
        connection = sqlite3.connect(self.db_path, timeout=30)
        try:
            with connection:
                return connection.execute(query, tuple(params)).rowcount
        finally:
            connection.close()

    def deliveries_of(self, object_id: str) -> list[tuple[str, int, str | None, str]]:
        """``(state, tries, last_error, type)`` of every delivery of an activity naming
        ``object_id`` (the listing's ``Create`` and the territory's ``Announce``)."""
        rows = self.sql(
            "SELECT d.state, d.tries, d.last_error, a.type FROM deliveries d "
            "JOIN activities a ON a.id = d.activity_id "
            "WHERE instr(a.body, ?) > 0 ORDER BY d.id",
            [f'"{object_id}"'],
        )
        return [(state, tries, error, kind) for state, tries, error, kind in rows]


class Cluster:
    """The nodes of one test (or module); :meth:`close` kills every process they started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, *, database_url: str = "") -> Node:
        node = Node(self.root / name, name, database_url=database_url)
        self.nodes.append(node)
        return node

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def peered_pair(self, *, database_urls: tuple[str, str] = ("", "")) -> tuple[Node, Node]:
        """Nodes A (with a publisher) and B, serving, peered through the CLI."""
        a = self.add("a", database_url=database_urls[0])
        b = self.add("b", database_url=database_urls[1])

        in_parallel(a.init, b.init)
        b.launch()  # B starts while A gets its publisher (launched here: the main thread)
        a.add_publisher()
        a.start()
        b.wait_ready()
        peer_through_cli(a, b)
        return a, b
