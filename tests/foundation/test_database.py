"""The database layer: SQLite connection settings, concurrent writers, UTC timestamps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import StatementError

from config.database import Database, UTCDateTime
from tests.databases import DatabaseTemplates

pytestmark = pytest.mark.dialect  # engine settings per dialect


@pytest.fixture
def sqlite_url(templates: DatabaseTemplates, tmp_path: Path) -> str:
    """A migrated SQLite file (these tests are about SQLite only)."""
    return templates.sqlite_url(tmp_path)


async def test_sqlite_connection_pragmas(sqlite_url: str) -> None:
    """Every pooled connection has WAL, foreign keys on, a busy timeout, and full sync.

    Without foreign_keys=ON SQLite silently accepts dangling references;
    without WAL readers block the writer; without busy_timeout a second
    writer fails at once with "database is locked"; with synchronous below
    FULL (2) a power cut may lose commits already answered 202.
    """
    db = Database(sqlite_url)
    try:
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 5000
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2
    finally:
        await db.dispose()


async def test_sqlite_foreign_keys_enforced(sqlite_url: str) -> None:
    """A membership pointing at no person is refused (the pragma actually bites)."""
    db = Database(sqlite_url)
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"):
            async with db.session() as session:
                await session.execute(
                    text(
                        "INSERT INTO memberships (person_id, structure_id, role, created_at) "
                        "VALUES (999999, 999999, 'owner', '2026-01-01 00:00:00')"
                    )
                )
    finally:
        await db.dispose()


async def test_concurrent_writers_do_not_fail(sqlite_url: str) -> None:
    """20 transactions that each read then write, all at once, all commit.

    The read-then-write shape is the one that fails with "database is
    locked" under SQLite's default deferred transactions once another
    connection has committed in between.
    """
    db = Database(sqlite_url)
    try:
        async with db.session() as session:
            await session.execute(
                text("CREATE TABLE counter_rows (id INTEGER PRIMARY KEY, seen INTEGER NOT NULL)")
            )

        async def writer(n: int) -> None:
            async with db.session() as session:
                seen = (await session.execute(text("SELECT count(*) FROM counter_rows"))).scalar()
                await asyncio.sleep(0.005 * (n % 3))
                await session.execute(
                    text("INSERT INTO counter_rows (seen) VALUES (:seen)"), {"seen": seen}
                )

        await asyncio.gather(*(writer(n) for n in range(20)))
        async with db.session() as session:
            rows = (await session.execute(text("SELECT seen FROM counter_rows"))).scalars().all()
        assert len(rows) == 20
        # Serialised transactions: each saw every earlier commit, so counts are 0..19.
        assert sorted(rows) == list(range(20))
    finally:
        await db.dispose()


_times = MetaData()
_stamps = Table(
    "test_stamps",
    _times,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
)


async def test_utc_datetime_round_trip(db_url: str) -> None:
    """An aware time in any offset comes back aware, in UTC, equal to what was stored."""
    db = Database(db_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_times.create_all)
        paris = timezone(timedelta(hours=2))
        given = [
            datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris),
            datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        ]
        async with db.session() as session:
            for value in given:
                await session.execute(insert(_stamps).values(at=value))
            await session.execute(insert(_stamps).values(at=None))
        async with db.session() as session:
            rows = (await session.execute(select(_stamps.c.at).order_by(_stamps.c.id))).all()
            # Comparison in SQL works on the UTC instants, whatever the offset given.
            later = await session.scalar(
                select(func.count()).where(_stamps.c.at > datetime(2026, 6, 1, 12, tzinfo=UTC))
            )
        back = [row.at for row in rows]
        assert back[-1] is None
        for original, stored in zip(given, back[:-1], strict=True):
            assert stored.tzinfo is not None
            assert stored.utcoffset() == timedelta(0)
            assert stored == original
        assert later == 1  # 14:30+02:00 is 12:30Z
    finally:
        await db.dispose()


async def test_utc_datetime_refuses_naive(db_url: str) -> None:
    """A naive datetime is ambiguous (local time? UTC?) and must not be stored."""
    db = Database(db_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_times.create_all)
        with pytest.raises(StatementError, match="naive datetime"):
            async with db.session() as session:
                await session.execute(insert(_stamps).values(at=datetime(2026, 6, 1, 12, 0)))
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(_stamps)) == 0
    finally:
        await db.dispose()


async def test_dialect_names(db_url: str, backend: str) -> None:
    """The Database reports its backend, which search and workers branch on."""
    db = Database(db_url)
    try:
        assert db.dialect == backend
        assert db.is_sqlite is (backend == "sqlite")
        async with db.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.dispose()
