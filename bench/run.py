"""Run every benchmark under ``bench/`` and print one line per figure, then the machine.

    python bench/run.py [--quick] [--only NAME ...]

Output (stdout), one line per figure, as docs/interface.md says::

    inbox_accept_rate: 1843 activities/s  [target >= 1000; ...]

then ``# N benchmarks in S s`` and, last, ``machine: CPU, cores, RAM, Python,
OS; load average`` (on a shared machine the load explains a slow figure).

A benchmark is a module of ``bench/`` (not this file, ``common.py``, or a name
starting with ``_``) that defines ``run(quick: bool) -> list[tuple[str, float,
str, str]]`` rows ``(name, value, unit, bound)``, or a script (``if __name__ ==
"__main__":``) that prints ``name: value unit [bound]`` lines; a module with
neither (``data_fr.py``, ``load.py``…) is data or helpers, not a benchmark. Each benchmark runs in a
process of its own, one after the other so that they do not share the CPU:
``python bench/run.py --child FILE`` calls ``run()``; a script runs as
``python FILE``, with ``--quick`` only if its source mentions that flag. Its
stderr passes through. A benchmark that fails or overruns (5 minutes each
with ``--quick``, 30 without: a guard against hangs, not the budget) is
reported on a ``#`` line and its processes are killed; the others still run,
and the exit status is 1.

``--quick`` is meant to finish in under a minute in all.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import Row, format_row, machine  # noqa: E402

NOT_BENCHMARKS = {"run.py", "common.py"}
ROW_MARKER = "@@bench-row "
QUICK_TIMEOUT = 300.0
FULL_TIMEOUT = 1800.0
# Scripts that describe the machine themselves print these; run.py describes it once.
MACHINE_KEYS = {"cores", "cpus", "cpu_count", "ram", "memory"}
FIGURE = re.compile(
    r"^\s*(?P<name>[A-Za-z][\w.\-/]*):\s+(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*(?P<unit>[^\[]*?)\s*(?:\[(?P<bound>.*)\])?\s*$"
)


def discover(only: list[str]) -> list[tuple[Path, bool]]:
    """The benchmarks, sorted by name, each with whether it defines ``run()``."""
    found = []
    for path in sorted(HERE.glob("*.py")):
        if path.name in NOT_BENCHMARKS or path.name.startswith("_"):
            continue
        if only and path.stem not in only:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        has_run = any(
            isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body
        )
        is_script = any(
            isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body
        )
        if has_run or is_script:
            found.append((path, has_run))
    return found


def parse_figure(line: str) -> Row | None:
    match = FIGURE.match(line)
    if match is None or match["name"].lower() in MACHINE_KEYS:
        return None
    return (match["name"], float(match["value"]), match["unit"], match["bound"] or "")


def run_one(path: Path, has_run: bool, quick: bool) -> tuple[list[Row], str | None]:
    """Run one benchmark in its own process; returns its rows and what went wrong, if anything."""
    if has_run:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(path)]
        if quick:
            command.append("--quick")
    else:
        command = [sys.executable, str(path)]
        if quick and "--quick" in path.read_text(encoding="utf-8"):
            command.append("--quick")
    timeout = QUICK_TIMEOUT if quick else FULL_TIMEOUT
    process = subprocess.Popen(
        command,
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its servers share its process group: killed with it
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, _ = process.communicate()
        problem: str | None = f"overran {timeout:g} s"
    else:
        problem = None if process.returncode == 0 else f"exit status {process.returncode}"
    rows: list[Row] = []
    for line in out.splitlines():
        if line.startswith(ROW_MARKER):
            name, value, unit, bound = json.loads(line[len(ROW_MARKER) :])
            rows.append((str(name), float(value), str(unit), str(bound)))
        elif not has_run and (row := parse_figure(line)) is not None:
            rows.append(row)
        elif line.strip():
            print(f"{path.stem}: {line}", file=sys.stderr)
    if problem is None and not rows:
        problem = "printed no figure"
    return rows, problem


def _kill_group(process: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def child(path: Path, quick: bool) -> int:
    """Import one benchmark module and print its rows, marked, on stdout."""
    spec = importlib.util.spec_from_file_location(f"bench.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name, value, unit, bound in module.run(quick):
        print(ROW_MARKER + json.dumps([name, float(value), unit, bound]), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="e.g. inbox")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.quick)

    started = time.monotonic()
    benchmarks = discover(args.only)
    failed = 0
    for path, has_run in benchmarks:
        began = time.monotonic()
        rows, problem = run_one(path, has_run, args.quick)
        for row in rows:
            print(format_row(row), flush=True)
        took = time.monotonic() - began
        if problem:
            failed += 1
            print(f"# {path.name} failed: {problem}", flush=True)
        print(f"# {path.name}: {took:.1f} s", file=sys.stderr, flush=True)
    total = time.monotonic() - started
    mode = "quick" if args.quick else "full"
    print(f"# {len(benchmarks)} benchmarks in {total:.1f} s ({mode})")
    print(f"machine: {machine()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
