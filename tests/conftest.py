"""Shared fixtures: real databases (SQLite and PostgreSQL) and running nodes.

Database-touching tests take ``db_url`` (or ``node``, which uses it) and run
once per backend: ``[sqlite]`` on a real file, ``[postgresql]`` on a
throwaway cluster started for the session (skipped, with the reason, when
the PostgreSQL binaries are absent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.databases import DatabaseTemplates, PgCluster, pg_binaries
from tests.support import TestNode, make_settings, running_node

BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first (``e2e``, ``slow``), the rest in their usual order.

    With ``pytest -n 2`` the two workers take tests in this order: the
    end-to-end tests, a minute each, then start at once and the short tests
    fill the gaps, instead of the long ones trailing at the end of the run.
    """
    items.sort(
        key=lambda item: not (item.get_closest_marker("e2e") or item.get_closest_marker("slow"))
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | None]:
    if pg_binaries() is None:
        yield None
        return
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def templates(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster | None
) -> DatabaseTemplates:
    return DatabaseTemplates(tmp_path_factory.mktemp("templates"), pg_cluster)


def _url(backend: str, templates: DatabaseTemplates, directory: Path) -> str:
    if backend == "sqlite":
        return templates.sqlite_url(directory)
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    return templates.postgres_url()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, templates: DatabaseTemplates, tmp_path: Path) -> str:
    """A fresh, migrated database of the current backend."""
    return _url(backend, templates, tmp_path)


@pytest.fixture
def new_db_url(
    backend: str, templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    """A factory of more fresh databases of the same backend (several nodes in one test)."""

    def make() -> str:
        return _url(backend, templates, tmp_path_factory.mktemp("db"))

    return make


@pytest.fixture
async def node(db_url: str, tmp_path: Path) -> AsyncIterator[TestNode]:
    """One node, ``https://a.test``, serving in process without background loops."""
    settings = make_settings(tmp_path / "a", db_url)
    async with running_node(settings) as running:
        yield running
