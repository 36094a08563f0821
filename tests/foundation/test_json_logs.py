"""Structured logs: with ``log.format = "json"`` every line is one JSON object, and a line
written while a request is handled carries that request's id — the id the response
gives back in ``X-Request-ID``, so that an operator can go from a client's error to
the server's lines about it.

The app is built the way process managers build it (``instance.asgi.app_from_env``:
settings from ``DATA_DIR/entraide.toml``, logging configured, then the app), and
the root handler's stream is read back. Two requests log through real code: the
readiness probe and an API call of a node whose database cannot be opened (a
warning each, naming the database), and a view that fails with an unexpected
exception (an error with its traceback).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import write_settings
from instance.asgi import app_from_env
from tests.support import make_settings


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, given back as it was (``configure_logging`` replaces its handler)."""
    root = logging.getLogger()
    saved = (list(root.handlers), list(root.filters), root.level)
    noisy = {
        name: logging.getLogger(name).level
        for name in ("httpx", "httpcore", "aiosqlite", "asyncio", "alembic")
    }
    try:
        yield root
    finally:
        root.handlers[:], root.filters[:] = saved[0], saved[1]
        root.setLevel(saved[2])
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written, each parsed as JSON (a line that is not JSON fails the test)."""
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


async def test_json_log_lines_carry_the_request_id_of_the_response(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logger: logging.Logger
) -> None:
    """A request whose handling logs writes one JSON line with ``request_id`` equal to the
    response's ``X-Request-ID``: an id the app made up, or the sane one the client (a
    reverse proxy) sent. Two requests get two ids, a traceback stays inside its line, and
    a line logged outside any request has no id (none leaks from the last request)."""
    data_dir = tmp_path / "node"
    unreachable = f"sqlite+aiosqlite:///{tmp_path}/no-such-directory/entraide.db"
    settings = make_settings(
        data_dir, unreachable, log={"format": "json"}, workers={"run_in_serve": False}
    )
    write_settings(settings)
    monkeypatch.setenv("ENTRAIDE_DATA_DIR", str(data_dir))
    app = app_from_env()
    [handler] = root_logger.handlers  # the one configure_logging installed, on stderr
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    handler.setStream(written)

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("something unexpected")

    async with app.test_app():
        client = app.test_client()
        made_up = await client.get("/readyz")
        given = await client.get("/api/v1/listings", headers={"X-Request-ID": "proxy-7f3a9c21"})
        failed = await client.get("/boom", headers={"Accept": "application/json"})
    logging.getLogger("entraide.test").warning("after the requests")

    assert (made_up.status_code, given.status_code, failed.status_code) == (503, 503, 500)
    lines = json_lines(written)
    not_ready = [line for line in lines if line["message"].startswith("database unreachable")]
    assert [line["request_id"] for line in not_ready] == [
        made_up.headers["X-Request-ID"],
        "proxy-7f3a9c21",
    ]
    assert "(/readyz, sqlite database " in not_ready[0]["message"]
    assert "(GET /api/v1/listings, sqlite database " in not_ready[1]["message"]
    assert given.headers["X-Request-ID"] == "proxy-7f3a9c21"
    assert len(made_up.headers["X-Request-ID"]) == 32  # made up: a uuid4 in hex
    assert all(line["level"] == "WARNING" for line in not_ready)

    [error] = [line for line in lines if line["message"].startswith("unhandled error")]
    assert error["request_id"] == failed.headers["X-Request-ID"]
    assert error["request_id"] not in {line["request_id"] for line in not_ready}
    assert error["level"] == "ERROR"
    assert "RuntimeError: something unexpected" in error["exception"]
    assert error["logger"] == "instance.errors"

    [after] = [line for line in lines if line["message"] == "after the requests"]
    assert "request_id" not in after
    assert {"time", "level", "logger", "message"} <= set(after)


def test_commands_write_only_json_in_json_mode(tmp_path: Path) -> None:
    """With ENTRAIDE_LOG__FORMAT=json, what init and db upgrade tell (the first lines a
    container's log shows) are JSON objects too, as serve's start-up line is."""
    import os
    import subprocess
    import sys

    script = Path(sys.executable).with_name("entraide")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "instance.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    env["ENTRAIDE_LOG__FORMAT"] = "json"
    data_dir = str(tmp_path / "node")
    outputs = []
    for args in (["init", "--domain", "j.test", "--name", "J"], ["db", "upgrade"]):
        result = subprocess.run(
            [*command, "--data-dir", data_dir, *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    lines = [json.loads(line) for text in outputs for line in text.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert messages[0].startswith(f"initialised {data_dir}: territory actor")
    assert messages[-1].startswith("database schema already up to date at revision")
