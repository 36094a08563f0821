"""Shared fixtures: real databases (SQLite and PostgreSQL) and running nodes.

Database-touching tests take ``db_url`` (or ``node``, which uses it; or
``module_db``, a factory of databases for a network that lives for a whole
module) and run on a real database: ``[sqlite]`` on a real file,
``[postgresql]`` on a throwaway cluster started once per session (per xdist
worker; skipped, with the reason, when the PostgreSQL binaries are absent).

Which databases a test runs on — the rule:

* **SQLite only, by default.** Most tests check logic that SQLAlchemy renders
  the same on both databases (permissions, signatures, addressing, pages);
  running them twice doubles their cost and finds nothing more.
* **Both databases where the dialect matters**: mark the test (or the module,
  ``pytestmark = pytest.mark.dialect``) with ``@pytest.mark.dialect`` when its
  code path has dialect-specific SQL or values a database may refuse — search
  and text matching, migrations, upserts (``ON CONFLICT``), leases, queue
  claims and locking, JSON columns, time zones and date arithmetic,
  aggregates (stats, open data), matching and exchange queries, ids past
  32 bits, NUL and other characters PostgreSQL refuses, anything whose code
  says ``dialect``, ``is_sqlite`` or ``postgresql``. When in doubt, mark it.
* ``pytest --all-dialects`` (or ``ENTRAIDE_TEST_ALL_DIALECTS=1``) runs every
  database test on both, as before a release.

Tests that build their own URLs with ``@pytest.mark.parametrize("backend",
...)`` keep their own list.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests import fastcrypto
from tests.databases import DatabaseTemplates, PgCluster, pg_binaries
from tests.fedinet import database_factory
from tests.support import TestNode, make_settings, running_node

BACKENDS = ["sqlite", "postgresql"]
DEFAULT_BACKENDS = ["sqlite"]
# Fixtures that choose the database, and the scope of their parameter.
DATABASE_FIXTURES = {"backend": "function", "module_db": "module"}


# The packages the suite's own processes import (``entraide serve``, the commands, the
# benchmarks' helpers), compiled once per run below.
COMPILED = ("config", "federation", "domain", "actors", "outbox", "inbox", "instance", "bench")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the project's modules once, in the process that starts the run.

    The suite starts a few hundred Python processes (``entraide serve`` nodes, commands,
    the xdist workers). With ``PYTHONDONTWRITEBYTECODE`` set, as on some CI machines, or
    in a fresh clone, each of them would compile every module of the project from source
    (about 0.5 s of CPU a process here); ``compileall`` writes the ``__pycache__`` files
    that they all read instead (reading is allowed whatever that variable says)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it
        return
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in COMPILED:
        compileall.compile_dir(root / package, quiet=2)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-dialects",
        action="store_true",
        help="run every database test on SQLite and PostgreSQL (default: PostgreSQL too "
        "only for tests marked `dialect`)",
    )


def backends_for(metafunc: pytest.Metafunc) -> list[str]:
    """The databases a test runs on (see the module docstring for the rule)."""
    everything = metafunc.config.getoption("all_dialects") or os.environ.get(
        "ENTRAIDE_TEST_ALL_DIALECTS", ""
    ) not in ("", "0")
    if everything or metafunc.definition.get_closest_marker("dialect"):
        return BACKENDS
    return DEFAULT_BACKENDS


def _parametrized_by_the_test(metafunc: pytest.Metafunc, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``backend`` and ``module_db`` by :func:`backends_for`."""
    for name, scope in DATABASE_FIXTURES.items():
        if name in metafunc.fixturenames and not _parametrized_by_the_test(metafunc, name):
            metafunc.parametrize(name, backends_for(metafunc), indirect=True, scope=scope)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first (``e2e``, ``slow``), the rest in their usual order.

    With ``pytest -n 2`` (``--dist worksteal``, in ``pyproject.toml``) each
    worker gets half of this list and starts with its long tests; a worker that
    runs out of tests takes the last (short) ones of the other's queue, instead
    of a long test trailing alone at the end of the run.
    """
    items.sort(
        key=lambda item: not (item.get_closest_marker("e2e") or item.get_closest_marker("slow"))
    )


@pytest.fixture(scope="session", autouse=True)
def fast_crypto() -> Iterator[None]:
    """Cheap Argon2 and pooled RSA keys for the whole session (``tests/fastcrypto.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        fastcrypto.install(patch)
        yield


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


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``, set by :func:`pytest_generate_tests`."""
    return str(request.param)


@pytest.fixture(scope="module")
def module_db(
    request: pytest.FixtureRequest,
    templates: DatabaseTemplates,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[], str]:
    """Fresh migrated databases of one backend, for a network that lives for the module
    (the backend set by :func:`pytest_generate_tests`)."""
    return database_factory(str(request.param), templates, tmp_path_factory)


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
