"""The package layout is the architecture: lower layers never import higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "config": set(),
    "federation": {"config"},
    "domain": {"config", "federation"},
    "actors": {"config", "federation", "domain"},
    "outbox": {"config", "federation", "domain", "actors"},
    "inbox": {"config", "federation", "domain", "actors", "outbox"},
    "instance": {"config", "federation", "domain", "actors", "outbox", "inbox"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_package_imports_only_lower_layers(package: str) -> None:
    allowed = LAYERS[package] | {package}
    bad = {}
    for path in (ROOT / package).rglob("*.py"):
        wrong = (_imports(path) & set(LAYERS)) - allowed
        if wrong:
            bad[str(path.relative_to(ROOT))] = sorted(wrong)
    assert bad == {}


def test_federation_knows_nothing_of_listings_or_pages() -> None:
    for path in (ROOT / "federation").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "Listing" not in text.replace("listings or pages", ""), path
        assert "render_template" not in text, path


def test_ci_runs_the_readme_test_line() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running the tests", 1)[1]
    line = section.split("```bash", 1)[1].split("```", 1)[0].strip()
    assert "\n" not in line
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert line in ci.splitlines()
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert "\n" not in quick.strip()


def test_every_setting_is_documented_in_the_readme() -> None:
    from config.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = []
    for section, field in Settings.model_fields.items():
        if section == "data_dir":
            continue
        model = field.annotation
        assert model is not None
        for key in model.model_fields:  # type: ignore[attr-defined]
            if f"`{section}.{key}`" not in table and f"`{key}`" not in table:
                missing.append(f"{section}.{key}")
    assert missing == []
