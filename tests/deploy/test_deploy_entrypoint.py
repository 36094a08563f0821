"""Deployment files: the container entrypoint's decisions, with a stub entraide."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deploy_files_support import (
    ALL_INTERFACES,
    DEPLOY,
    DOMAIN,
    STUB,
    TOP_COMMANDS,
    parses,
    read,
)


@dataclass
class Entrypoint:
    tmp: Path
    data: Path = field(init=False)
    calls_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.tmp / "data"
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        stub = bin_dir / "entraide"
        stub.write_text(STUB.format(python=sys.executable))
        stub.chmod(0o755)
        self.calls_file = self.tmp / "calls.jsonl"

    def run(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
        self.calls_file.write_text("")
        environ = {
            "PATH": f"{self.tmp / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "STUB_CALLS": str(self.calls_file),
            "ENTRAIDE_DATA_DIR": str(self.data),
            **env,
        }
        result = subprocess.run(
            ["bash", str(DEPLOY / "docker-entrypoint.sh"), *args],
            capture_output=True,
            text=True,
            env=environ,
            check=False,
            timeout=30,
        )
        calls = [json.loads(line) for line in self.calls_file.read_text().splitlines()]
        return result, calls


FIRST_START = {
    "ENTRAIDE_DOMAIN": DOMAIN,
    "ENTRAIDE_NAME": "Communauté de communes de l'exemple",
    "DATABASE_URL": "postgresql+asyncpg://entraide:pw@db:5432/entraide",
}


@pytest.fixture
def entrypoint(tmp_path: Path) -> Entrypoint:
    return Entrypoint(tmp_path)


def test_entrypoint_first_start_inits_upgrades_and_serves(entrypoint: Entrypoint) -> None:
    result, calls = entrypoint.run(**FIRST_START)
    assert result.returncode == 0, result.stderr
    assert [c["args"] for c in calls] == [
        [
            "init",
            "--domain",
            DOMAIN,
            "--name",
            "Communauté de communes de l'exemple",
            "--scheme",
            "https",
            "--handle",
            "territory",
            "--database-url",
            FIRST_START["DATABASE_URL"],
        ],
        ["db", "upgrade"],
        ["serve", "--host", ALL_INTERFACES, "--port", "8000", "--workers", "1"],
    ]
    serve_env = calls[-1]["env"]
    # The URL of .env wins over the one init wrote, on every start.
    assert serve_env["ENTRAIDE_DATABASE__URL"] == FIRST_START["DATABASE_URL"]
    assert "ENTRAIDE_DOMAIN" not in serve_env and "ENTRAIDE_SERVE_WORKERS" not in serve_env
    # Every command the argument lists name parses in the real program.
    for call in calls:
        parses(*call["args"])


def test_entrypoint_later_starts_only_upgrade_and_serve(entrypoint: Entrypoint) -> None:
    entrypoint.run(**FIRST_START)
    result, calls = entrypoint.run("serve", **FIRST_START, ENTRAIDE_SERVE_WORKERS="4")
    assert result.returncode == 0, result.stderr
    assert [c["args"] for c in calls] == [
        ["db", "upgrade"],
        ["serve", "--host", ALL_INTERFACES, "--port", "8000", "--workers", "4"],
    ]


def test_entrypoint_refuses_bad_input_with_one_clear_line(entrypoint: Entrypoint) -> None:
    result, calls = entrypoint.run(ENTRAIDE_NAME="X")
    assert result.returncode == 1 and calls == []
    assert "ENTRAIDE_DOMAIN is not set" in result.stderr

    entrypoint.data.mkdir()
    (entrypoint.data / "stray.txt").write_text("x")
    result, calls = entrypoint.run(**FIRST_START)
    assert result.returncode == 1 and calls == []
    assert "has files but no entraide.toml" in result.stderr
    (entrypoint.data / "stray.txt").unlink()

    entrypoint.run(**FIRST_START)
    result, calls = entrypoint.run(**FIRST_START, ENTRAIDE_SERVE_WORKERS="two")
    assert result.returncode == 1
    assert "ENTRAIDE_SERVE_WORKERS must be a positive integer" in result.stderr
    assert [c["args"] for c in calls] == [["db", "upgrade"]]


def test_entrypoint_worker_needs_an_initialised_node(entrypoint: Entrypoint) -> None:
    result, calls = entrypoint.run("worker", **FIRST_START)
    assert result.returncode == 1 and calls == []
    assert "not initialised" in result.stderr
    entrypoint.run(**FIRST_START)
    result, calls = entrypoint.run("worker", **FIRST_START)
    assert result.returncode == 0, result.stderr
    assert [c["args"] for c in calls] == [["worker"]]
    assert calls[0]["env"]["ENTRAIDE_DATABASE__URL"] == FIRST_START["DATABASE_URL"]


def test_entrypoint_passes_other_commands_through(entrypoint: Entrypoint) -> None:
    result, calls = entrypoint.run("peer", "list", **FIRST_START)
    assert result.returncode == 0, result.stderr
    assert [c["args"] for c in calls] == [["peer", "list"]]  # no init for a one-off command
    result, calls = entrypoint.run("bash", "-c", "echo plain-command")
    assert result.stdout == "plain-command\n" and calls == []


def test_entrypoint_knows_every_command_of_the_program() -> None:
    """Its pass-through list is the program's list: a new command cannot be forgotten."""
    text = read("docker-entrypoint.sh")
    listed = re.search(r"^\s+(init \|[^)]*)\)", text, re.MULTILINE)
    assert listed, "the entrypoint's case of entraide commands"
    names = {name.strip() for name in listed[1].split("|")}
    handled = names | {"serve", "worker"}
    assert set(TOP_COMMANDS) <= handled, f"not passed through: {set(TOP_COMMANDS) - handled}"
    unknown = names - set(TOP_COMMANDS)
    assert not unknown, f"not entraide commands: {unknown}"


def test_entrypoint_lines_are_json_in_json_log_mode(entrypoint: Entrypoint) -> None:
    """The entrypoint's own lines come first in a container's log: JSON too, when the
    node logs JSON, with the level of what they say."""
    result, _ = entrypoint.run(**FIRST_START, ENTRAIDE_LOG__FORMAT="json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"]) for line in lines] == [("INFO", "entrypoint")]
    assert lines[0]["message"].startswith(f"first start: initialising {entrypoint.data}")
    result, _ = entrypoint.run("worker", ENTRAIDE_LOG__FORMAT="json", ENTRAIDE_DATA_DIR='/n"o')
    assert result.returncode == 1
    (line,) = [json.loads(text) for text in result.stderr.splitlines()]
    assert line["level"] == "ERROR" and line["message"].startswith('/n"o is not initialised')
