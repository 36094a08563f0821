"""The quick start's demo node starts, seeded, and its offers and needs meet."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.databases import free_port
from tests.e2e.harness import clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_starts_seeded_with_matching_listings(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *entraide_command(),
                "--data-dir",
                str(tmp_path / "demo"),
                "demo",
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(log.read_text(errors="replace"))
            try:
                return httpx.get(f"{base}/api/v1/instance", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, 90, what="the demo node")
        assert "Demo administrator:" in log.read_text()
        counts = httpx.get(f"{base}/api/v1/instance", timeout=10).json()["counts"]
        assert counts["structures"] == 3 and counts["local_listings"] == 7
        wait_for(
            lambda: httpx.get(f"{base}/api/v1/stats", timeout=10).json()["matches"] >= 2,
            30,
            what="the demo's needs to meet its offers",
        )
        for path in ("/", "/search", "/territoire", "/structures"):
            assert httpx.get(f"{base}{path}", timeout=10).status_code == 200, path
    finally:
        process.terminate()
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()


def test_demo_names_a_taken_port_and_the_option_to_change_it(tmp_path: Path) -> None:
    """Another program listens on the port: the demo says so and names ``--port`` before
    making or printing anything. (Before: it printed that it listened at the address,
    then failed with « Address already in use ».)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *entraide_command(),
                "--data-dir",
                str(tmp_path / "demo"),
                "demo",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Demo node" not in result.stdout
    assert not (tmp_path / "demo").exists()
