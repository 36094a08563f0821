"""The package layout is the architecture: lower layers never import higher ones.

Two checks of the same rule: the table :data:`LAYERS` read from the source with
``ast``, and the import contract of ``pyproject.toml`` (``[tool.importlinter]``,
which ``lint-imports`` also runs) on the import graph of grimp, built once. The
graph also has no cycle at all, not even between a package and its own modules.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract, ContractCheck

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


# --- the import contract -----------------------------------------------------------

CONTRACT_TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


@functools.cache
def _import_linter() -> dict[str, Any]:
    """``[tool.importlinter]`` as import-linter reads it."""
    configuration: dict[str, Any] = read_configuration(str(ROOT / "pyproject.toml"))
    return configuration


@functools.cache
def _graph() -> grimp.ImportGraph:
    """The project's import graph, built once per test process (a fraction of a second)."""
    roots = _import_linter()["session_options"]["root_packages"]
    options = _import_linter()["session_options"]
    return grimp.build_graph(
        *roots,
        cache_dir=None,
        exclude_type_checking_imports=bool(options.get("exclude_type_checking_imports")),
    )


def broken_contracts(graph: grimp.ImportGraph) -> dict[str, ContractCheck]:
    """The contracts of ``pyproject.toml`` that ``graph`` breaks, by id."""
    broken = {}
    for contract_options in _import_linter()["contracts_options"]:
        contract = CONTRACT_TYPES[contract_options["type"]](
            name=contract_options["name"],
            session_options=_import_linter()["session_options"],
            contract_options=contract_options,
        )
        check = contract.check(copy.deepcopy(graph), verbose=False)
        if not check.kept:
            broken[contract_options["id"]] = check
    return broken


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []  # the depth-first path, with what is left

    def enter(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        work.append((module, iter(edges[module])))

    for root in sorted(edges):
        if root in index:
            continue
        enter(root)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in index:
                    enter(target)
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_the_import_contract_is_kept() -> None:
    broken = broken_contracts(_graph())
    assert {name: check.metadata for name, check in broken.items()} == {}


def test_no_module_takes_part_in_an_import_cycle() -> None:
    assert import_cycles(_graph()) == []


def test_the_contract_states_the_layer_table() -> None:
    (layers,) = [c for c in _import_linter()["contracts_options"] if c["type"] == "layers"]
    # Each layer may import exactly the layers after it in the contract's list.
    order = list(reversed(layers["layers"]))
    assert {name: set(order[: order.index(name)]) for name in order} == LAYERS
    assert sorted(_import_linter()["session_options"]["root_packages"]) == sorted(LAYERS)


def _with(graph: grimp.ImportGraph, imports: Mapping[str, str]) -> grimp.ImportGraph:
    bad = copy.deepcopy(graph)
    for importer, imported in imports.items():
        bad.add_import(importer=importer, imported=imported)
    return bad


def test_an_arrow_against_the_layers_breaks_the_contract() -> None:
    bad = _with(_graph(), {"domain.models": "outbox.to_ap"})
    assert set(broken_contracts(bad)) == {"layers"}
    assert _graph().direct_import_exists(importer="domain.models", imported="outbox.to_ap") is False


def test_a_cycle_between_modules_is_found() -> None:
    # The cycle the inbox had: the processor imports the handlers, which import it back.
    bad = _with(_graph(), {"inbox.context": "inbox.processor"})
    assert set(broken_contracts(bad)) == {"acyclic"}
    (cycle,) = import_cycles(bad)
    assert {"inbox.context", "inbox.processor", "inbox.dispatch"} <= set(cycle)


def test_a_cycle_between_a_package_and_its_modules_is_found() -> None:
    # The cycle the blueprint packages had, which acyclic_siblings cannot see (it compares
    # the children of a package, not the package's __init__ with them).
    bad = _with(_graph(), {"instance.api.blueprint": "instance.api"})
    (cycle,) = import_cycles(bad)
    assert {"instance.api", "instance.api.blueprint", "instance.api.listings"} <= set(cycle)


def test_the_benchmarks_import_nothing_of_the_tests(tmp_path: Path) -> None:
    # The tests may use the benchmarks' helpers (bench.postgres, bench.delivery…); the
    # other way round, the two would form a cycle.
    bad = {
        str(path.relative_to(ROOT)): "tests"
        for path in (ROOT / "bench").rglob("*.py")
        if "tests" in _imports(path)
    }
    assert bad == {}
    # What the benchmarks did, in a function: it is seen.
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def run():\n    from tests.databases import PgCluster\n", encoding="utf-8")
    assert "tests" in _imports(lazy)


# --- what the code says -------------------------------------------------------------


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
