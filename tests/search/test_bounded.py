"""``config.database.bounded``: a time limit the database enforces, and a stop on cancel.

A statement that counts to a billion stands for an expensive search (it keeps
SQLite's thread or a PostgreSQL backend busy for minutes). Once ``bounded``
gives up on it — its limit reached, or its caller cancelled — the database
must be idle again within a second, and the connection pool must still work.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from config.database import Database, StatementTimeout, bounded
from tests.search.busy import database_busy

pytestmark = pytest.mark.dialect  # interrupting a query differs per driver

SLOW = text(
    "WITH RECURSIVE slow(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM slow WHERE x < 1000000000)"
    " SELECT count(*) FROM slow"
)


async def _slow(db: Database, seconds: float) -> None:
    async with db.read() as session:
        await bounded(session, seconds, lambda: session.execute(SLOW))


async def _busy(db: Database) -> bool:
    return await database_busy(db, "RECURSIVE slow")


async def _dispose_at_once(db: Database) -> None:
    """Close the pools; closing a connection waits for its running statement."""
    closing = asyncio.ensure_future(db.dispose())
    await asyncio.wait({closing}, timeout=2)
    assert closing.done(), "closing the database waited for the slow statement"


async def test_time_limit_stops_the_statement_in_the_database(db_url: str) -> None:
    db = Database(db_url)
    try:
        task = asyncio.ensure_future(_slow(db, 0.3))
        await asyncio.wait({task}, timeout=3)
        assert task.done(), "the statement went on past its time limit"
        with pytest.raises(StatementTimeout):
            task.result()
        assert not await _busy(db)
        async with db.read() as session:  # the pool still serves
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await _dispose_at_once(db)


async def test_cancelled_caller_stops_the_statement_in_the_database(db_url: str) -> None:
    """The client went away (Quart cancels the handler), or the server shuts down."""
    db = Database(db_url)
    try:
        task = asyncio.ensure_future(_slow(db, 600))
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        await asyncio.wait({task}, timeout=2)
        assert task.cancelled(), "the cancelled search waited for its statement"
        assert not await _busy(db)
    finally:
        await _dispose_at_once(db)  # what shutdown does: it must not wait for the statement


async def test_bounded_work_keeps_its_result_and_the_transaction_setting(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.read() as session:
            before = None
            if db.dialect == "postgresql":
                before = await session.scalar(text("SHOW statement_timeout"))
            value = await bounded(session, 5, lambda: session.scalar(text("SELECT 41 + 1")))
            assert value == 42
            if db.dialect == "postgresql":
                assert await session.scalar(text("SHOW statement_timeout")) == before
    finally:
        await db.dispose()
