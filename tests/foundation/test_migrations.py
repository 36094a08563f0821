"""Migrations: from an empty database to the head, agreeing with the models, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect

from config.database import make_engine
from instance.migrate import (
    current_revisions,
    head_revisions,
    is_current,
    pending_changes,
    upgrade,
)
from tests.databases import DatabaseTemplates

pytestmark = pytest.mark.dialect  # migrations


@pytest.fixture
def empty_url(backend: str, templates: DatabaseTemplates, tmp_path: Path) -> str:
    """An EMPTY database (no tables at all) of the current backend."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    return templates.empty_postgres_url()


async def _inspect(url: str) -> tuple[bool, set[str], list[object], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(is_current)
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            changes = await conn.run_sync(pending_changes)
            revisions = await conn.run_sync(current_revisions)
        return current, tables, changes, revisions
    finally:
        await engine.dispose()


async def test_empty_database_is_not_current(empty_url: str) -> None:
    """/readyz and `serve` rely on is_current being false before any migration."""
    current, tables, _, revisions = await _inspect(empty_url)
    assert current is False
    assert revisions == set()
    assert "listings" not in tables


def test_upgrade_from_empty_matches_models(empty_url: str) -> None:
    """Migrating an empty database gives exactly the schema the models describe.

    The mistake this catches: a model changed without a migration (or a
    migration hand-edited away from the model), which works in tests built
    from the models but breaks every real node after `db upgrade`.
    """
    upgrade(empty_url)
    current, tables, changes, revisions = asyncio.run(_inspect(empty_url))
    assert current is True
    assert revisions == head_revisions()
    assert {"people", "structures", "listings", "actors", "deliveries"} <= tables
    assert changes == [], f"models and migrations disagree: {changes}"


def test_upgrade_twice_is_a_noop(empty_url: str) -> None:
    """`entraide db upgrade` may be run by every deploy: the second run changes nothing."""
    upgrade(empty_url)
    first = asyncio.run(_inspect(empty_url))
    upgrade(empty_url)
    second = asyncio.run(_inspect(empty_url))
    assert second[0] is True
    assert second[1] == first[1]
    assert second[3] == first[3] == head_revisions()
    assert second[2] == []


def test_upgrade_says_what_it_applied(tmp_path: Path) -> None:
    """`entraide db upgrade` tells an upgrade from a no-op: the revisions applied, or the
    revision the schema is already at."""
    from instance.migrate import describe_upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    assert upgrade(url, "0010") == ["0001", "0002", "0010"]
    applied = upgrade(url)
    heads = sorted(head_revisions())
    assert applied and applied[0] == "0011" and applied[-1] in heads
    assert describe_upgrade(applied) == (
        f"applied {len(applied)} migration{'s' if len(applied) > 1 else ''} "
        f"({', '.join(applied)}): now at revision {', '.join(heads)}"
    )
    assert upgrade(url) == []
    assert describe_upgrade([]) == f"database schema already up to date at revision {heads[0]}"
