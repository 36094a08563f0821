"""Fixtures of the end-to-end tests: clusters of real server processes.

``peered`` is one pair of SQLite nodes, A (with a publisher) and B, peered
through the CLI, shared by the tests of a module (setting a pair up costs
about ten seconds of CLI and server start-up); ``pair`` hands it to a test
with both servers running, restarting any that an earlier failed test left
down. ``cluster`` is a fresh, empty cluster for one test. When a test fails,
the tail of every node's server log is printed with its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.e2e.harness import Cluster, Node, start_all


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


def _print_logs(request: pytest.FixtureRequest, nodes: list[Node]) -> None:
    if request.node.stash.get(FAILED, False):
        for node in nodes:
            print(f"\n--- {node!r}: tail of {node.log_path} ---\n{node.log_tail(60)}")


@pytest.fixture
def cluster(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("e2e")) as running:
        yield running
        _print_logs(request, running.nodes)


@pytest.fixture(scope="module")
def peered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    with Cluster(tmp_path_factory.mktemp("e2e-pair")) as running:
        yield running.peered_pair()


@pytest.fixture
def pair(peered: tuple[Node, Node], request: pytest.FixtureRequest) -> Iterator[tuple[Node, Node]]:
    start_all(*(node for node in peered if not node.running))
    yield peered
    _print_logs(request, list(peered))
