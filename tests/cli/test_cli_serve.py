"""The command line: where the data dir comes from, usage, serve."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cli import cli_support
from tests.cli.cli_support import Made, _env, fails, run_together, succeeds
from tests.databases import free_port

made = cli_support.made


# --- where the data dir comes from ------------------------------------------


def test_data_dir_before_after_and_from_environment(made: Made) -> None:
    """--data-dir works before the command, after it, and as ENTRAIDE_DATA_DIR."""
    args = ("token", "create", "--email", "owner@example.org")
    ddir = str(made.data_dir)
    results = run_together(
        (("--data-dir", ddir, *args), None),
        ((*args, "--data-dir", ddir), None),
        (args, _env(ENTRAIDE_DATA_DIR=ddir)),
        cwd=made.root,
    )
    tokens = {succeeds(r).strip() for r in results}
    assert len(tokens) == 3
    assert all(t.startswith("ent_") for t in tokens)


# --- usage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("bogus",), (), ("user",), ("serve", "--port", "http"), ("serve", "--workers", "0")],
    ids=["unknown-command", "no-command", "no-action", "port-not-a-number", "no-workers"],
)
def test_bad_usage(made: Made, args: tuple[str, ...]) -> None:
    """Bad usage is exit 2 with one line, not argparse's multi-line usage block."""
    fails(made.run(*args), 2)


def test_serve_workers_on_sqlite(made: Made) -> None:
    """SQLite allows one writing process: several web processes are refused, saying why."""
    fails(made.run("serve", "--workers", "2"), 2, "PostgreSQL")


# --- serve ------------------------------------------------------------------


@pytest.fixture
def served(made: Made) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "instance.cli", "--data-dir", str(made.data_dir), "serve",
         "--port", str(port)],
        cwd=made.root,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_answers_and_stops_gracefully(served: tuple[subprocess.Popen[str], int]) -> None:
    """serve answers the API on 127.0.0.1, then exits 0 promptly on SIGTERM (systemd stop)."""
    process, port = served
    url = f"http://127.0.0.1:{port}/api/v1/instance"
    deadline = time.monotonic() + 60
    body = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code == 200
        body = response.json()
        break
    assert body is not None, f"serve never answered: {process.poll()} {process.stderr}"
    assert body["name"] == "Val d'Oloron"
    assert body["territory"] == "https://territoire.example:8443/actors/valdoloron"
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = process.wait(timeout=20)
    elapsed = time.monotonic() - started
    _, stderr = process.communicate()
    assert code == 0, stderr
    assert elapsed < 10  # hypercorn's graceful_timeout is 15 s: a hang would show
    assert "Traceback" not in stderr
