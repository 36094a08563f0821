"""One version, moved at each release: pyproject.toml, the program, the API, NodeInfo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from instance.version import VERSION
from tests.support import TestNode

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_changelog_and_program_agree() -> None:
    """The version the package is built with is the one the node reports, and the
    CHANGELOG has a section for it."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"$', pyproject, re.MULTILINE)
    assert declared and declared[1] == VERSION
    assert VERSION != "0.1.0", "the version moves with each release"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(VERSION)} ", changelog, re.MULTILINE), changelog[:300]


def test_entraide_version_option() -> None:
    script = Path(sys.executable).with_name("entraide")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "instance.cli"]
    result = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"entraide {VERSION}"


async def test_api_and_nodeinfo_report_the_version(node: TestNode) -> None:
    client = node.client()
    assert (await (await client.get("/api/v1/instance")).get_json())["version"] == VERSION
    info = await (await client.get("/nodeinfo/2.1")).get_json()
    assert (info["software"]["name"], info["software"]["version"]) == ("entraide", VERSION)
