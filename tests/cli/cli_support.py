"""Helpers shared by the test_cli modules."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "correct horse battery"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    env.update(extra)
    return env


def entraide(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m instance.cli ARGS`` as a user would run ``entraide ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "instance.cli", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_together(
    *calls: tuple[tuple[str, ...], dict[str, str] | None], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time (each process spends most of it importing)."""
    started = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "instance.cli", *args],
                cwd=cwd,
                env=env or _env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args, env in calls
    ]
    results = []
    for args, process in started:
        out, err = process.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(list(args), process.returncode, out, err))
    return results


def fails(result: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """Check a failure: its status, one line on stderr, no traceback; return that line."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    line = lines[0]
    assert line.startswith("entraide"), line
    for word in words:
        assert word in line, (word, line)
    return line


def succeeds(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


@dataclass
class Made:
    """A node initialised once for the module, with a person, a structure and a token."""

    root: Path
    data_dir: Path
    init_output: str
    token: str = ""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return entraide("--data-dir", str(self.data_dir), *args, cwd=self.root)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """`init` once (each run costs seconds), then a person, a structure and a token."""
    root = tmp_path_factory.mktemp("cli")
    ddir = root / "node"
    out = succeeds(
        entraide(
            "init", "--data-dir", str(ddir), "--domain", "Territoire.Example:8443",
            "--name", "Val d'Oloron", "--handle", "valdoloron", cwd=root,
        )
    )  # fmt: skip
    made = Made(root, ddir, out)
    succeeds(made.run("user", "create", "--email", "owner@example.org", "--password", PASSWORD))
    d = ("--data-dir", str(ddir))
    structure, token = run_together(
        ((*d, "structure", "create", "--handle", "menuiserie", "--name", "Menuiserie",
          "--owner", "owner@example.org"), None),
        ((*d, "token", "create", "--email", "owner@example.org"), None),
        cwd=root,
    )  # fmt: skip
    succeeds(structure)
    made.token = succeeds(token).strip()
    return made
