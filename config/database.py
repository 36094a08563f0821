"""The database connection: declarative base, engine and sessions.

SQLite (through aiosqlite) is the default and PostgreSQL (through asyncpg) is
chosen by URL. Both run the same models and the same Alembic migrations.

SQLite specifics, set on every new connection:

* ``journal_mode=WAL`` so readers never block the writer;
* ``foreign_keys=ON`` (off by default in SQLite);
* ``busy_timeout`` so a second writer waits instead of failing;
* ``synchronous=FULL``: a commit reaches the disk before it returns, so what
  was answered 202 (or 201) survives a power cut or a kernel crash, not only a
  crash of the process (``NORMAL``, in WAL mode, may lose the last commits to
  the former). The inbox groups concurrent activities into one commit, so the
  extra ``fsync`` is paid per group, not per activity;
* every writing transaction starts with ``BEGIN IMMEDIATE``. SQLite's default
  deferred transactions fail at once with ``SQLITE_BUSY`` when a transaction
  that has read tries to write after another connection committed; taking the
  write lock up front makes concurrent writers queue on ``busy_timeout``
  instead (see https://www.sqlite.org/lang_transaction.html). The price is
  that writing transactions are serialised, so no code may hold a session
  open while it waits on the network;
* reads that write nothing use :meth:`Database.read`: a separate pool of
  ``query_only`` connections with deferred transactions, which in WAL mode
  never wait for the writer (hot paths: the inbox's checks, key lookups,
  search, documents served to other servers).

PostgreSQL: ``plan_cache_mode=force_custom_plan`` on every connection (see
``POSTGRES_SETTINGS``), ``statement_timeout`` from
``database.statement_timeout_seconds`` (:func:`postgres_connect_args`).

Work whose cost a visitor chooses (a search) runs under :func:`bounded`: a
time limit that the database enforces, and the database stopped as soon as
the caller gives up (the HTTP client went away, the server is shutting down).

Times are stored in UTC; :class:`UTCDateTime` returns aware datetimes on both
backends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Statements are prepared once per connection (asyncpg) and run with many
# parameters. After five runs PostgreSQL may switch to a generic plan, made
# without the parameters: for a search near a point that plan reads a whole
# box of listings and sorts it (hundreds of milliseconds where the plan made
# for the actual point walks the date index for a few rows). Plan each run.
POSTGRES_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
# A database host that does not answer at all fails a connection after this long
# (asyncpg waits 60 s by default): requests get their 503 while a person still waits.
POSTGRES_CONNECT_TIMEOUT = 10.0


def postgres_connect_args(statement_timeout: float = 0) -> dict[str, Any]:
    """asyncpg's connect arguments: the settings above, and ``statement_timeout`` (seconds,
    0: none) so that a database too slow to answer makes a request fail instead of hang."""
    settings = dict(POSTGRES_SETTINGS)
    if statement_timeout > 0:
        settings["statement_timeout"] = str(max(1, round(statement_timeout * 1000)))
    return {"server_settings": settings, "timeout": POSTGRES_CONNECT_TIMEOUT}


T = TypeVar("T")
# PostgreSQL's SQLSTATE for a statement stopped by statement_timeout or a cancel request.
QUERY_CANCELED = "57014"
# PostgreSQL stops an overrunning statement itself (statement_timeout); the asyncio deadline
# comes this much later, for work of several statements that overruns in total.
POSTGRES_GRACE_SECONDS = 0.25
# How long a stopped statement may take to notice it was interrupted (normally microseconds).
STOP_SECONDS = 5.0
STOP_POLL_SECONDS = 0.05


class Base(DeclarativeBase):
    """The declarative base of every table of the node."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _add_math_functions(dbapi_connection: Any) -> None:
    """Distance search needs SQLite's math functions; older builds lack them."""
    for name, arity, function in (
        ("radians", 1, math.radians),
        ("sin", 1, math.sin),
        ("cos", 1, math.cos),
        ("asin", 1, lambda x: math.asin(min(1.0, max(-1.0, x)))),
        ("sqrt", 1, math.sqrt),
        ("pow", 2, math.pow),
    ):
        dbapi_connection.create_function(name, arity, function, deterministic=True)


def _configure_sqlite(engine: AsyncEngine, *, readonly: bool = False) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        if readonly:
            cursor.execute("PRAGMA query_only=ON")
        try:
            cursor.execute("SELECT asin(sqrt(pow(sin(radians(1)), 2))) * cos(0)")
        except Exception:  # sqlite3.OperationalError, as the adapted driver raises it
            _add_math_functions(dbapi_connection)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers take no lock up front: in WAL mode they never wait for the writer.
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(
    url: str, *, pool_size: int = 10, readonly: bool = False, statement_timeout: float = 0
) -> AsyncEngine:
    """An async engine for ``url``, with the SQLite settings above when it applies.

    ``readonly`` (SQLite): connections that cannot write (``query_only``) and
    begin deferred transactions, for :meth:`Database.read`. ``statement_timeout``
    (PostgreSQL, seconds): see :func:`postgres_connect_args`.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, readonly=readonly)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=postgres_connect_args(statement_timeout) if "asyncpg" in url else {},
    )


class WriterLock:
    """One SQLite writer at a time in this process, queued in asyncio.

    SQLite resolves competing ``BEGIN IMMEDIATE`` by sleeping in its busy
    handler (1, 2, 5, 10 … 100 ms): thirty connections of one process racing for
    the lock spend most of their time asleep. Queuing them here first leaves
    SQLite a single contender per process. Re-entrant for the task that holds
    it, so a nested writing session does not wait for itself.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        async with self._lock:
            self._owner, self._depth = task, 1
            try:
                yield
            finally:
                self._owner, self._depth = None, 0


class Database:
    """An engine and its session factory; one per node (per app)."""

    def __init__(self, url: str, *, pool_size: int = 10, statement_timeout: float = 0) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, statement_timeout=statement_timeout)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: a second pool of read-only connections, so that reads never queue
        # behind the single writer. PostgreSQL needs no such thing.
        self.read_engine = (
            make_engine(url, readonly=True) if url.startswith("sqlite") else self.engine
        )
        # ``info["readonly"]`` tells code that would write (rarely: a token's last use)
        # to open a writing session of its own.
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine, expire_on_commit=False, info={"readonly": True}
        )
        self.writer = WriterLock()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error."""
        async with self.writing(), self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold this process's SQLite writer slot (nothing to hold on PostgreSQL)."""
        if not self.is_sqlite:
            yield
            return
        async with self.writer.hold():
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only (it cannot write on SQLite); nothing is committed."""
        async with self.read_sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


class StatementTimeout(Exception):
    """Work run by :func:`bounded` overran its time limit; the database stopped it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the database work ran past its time limit of {seconds:g} s")
        self.seconds = seconds


async def bounded(session: AsyncSession, seconds: float, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` — statements on ``session`` — within ``seconds``, or stop it in the database.

    Cancelling an ``await`` only abandons the wait: aiosqlite's thread (or the
    PostgreSQL backend) goes on computing, and SQLAlchemy's clean-up of the
    cancelled session then queues behind that statement. So ``work`` runs in a
    task of its own, and when it overruns, or when the caller is cancelled
    (Quart cancels a handler whose client disconnects; Hypercorn cancels those
    still running when its graceful shutdown ends), the database is told to stop
    before anything else happens:

    * SQLite: ``sqlite3_interrupt`` (``Connection.interrupt``, safe from any
      thread), repeated until the task ends, for a statement that starts between
      two interrupts (https://www.sqlite.org/c3ref/interrupt.html);
    * PostgreSQL: ``statement_timeout`` is set for the transaction
      (``set_config(…, true)``, restored afterwards), so the server itself stops
      a statement at the limit; a cancelled task makes asyncpg send a cancel
      request for the statement in progress.

    Raises :class:`StatementTimeout` when the limit is reached; a cancelled
    caller gets its ``CancelledError`` once the database has stopped (or after
    ``STOP_SECONDS``).
    """
    connection = await session.connection()
    postgres = connection.dialect.name == "postgresql"
    previous: str | None = None
    if postgres:
        found = await connection.execute(
            text(
                "SELECT current_setting('statement_timeout'),"
                " set_config('statement_timeout', :limit, true)"
            ),
            {"limit": f"{max(1, round(seconds * 1000))}ms"},
        )
        previous = found.one()[0]
        interrupt = None
    else:
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None  # an aiosqlite.Connection
        interrupt = raw.driver_connection.interrupt
    task = asyncio.ensure_future(work())
    deadline = seconds + (POSTGRES_GRACE_SECONDS if postgres else 0.0)
    try:
        await asyncio.wait({task}, timeout=deadline)
    except asyncio.CancelledError:
        await _stop(task, interrupt)
        raise
    if not task.done():
        await _stop(task, interrupt)
        raise StatementTimeout(seconds)
    try:
        result = task.result()
    except DBAPIError as exc:
        if _was_stopped(exc):
            raise StatementTimeout(seconds) from exc
        raise
    if previous is not None:
        await connection.execute(
            text("SELECT set_config('statement_timeout', :previous, true)"),
            {"previous": previous},
        )
    return result


async def _stop(task: asyncio.Future[Any], interrupt: Callable[[], Awaitable[None]] | None) -> None:
    """Stop the database work of ``task`` and wait (up to ``STOP_SECONDS``) until it ends."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + STOP_SECONDS
    if interrupt is None:  # asyncpg: a cancelled wait sends PostgreSQL a cancel request
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_SECONDS)
    while not task.done() and loop.time() < give_up:
        if interrupt is not None:
            await interrupt()
        await asyncio.wait({task}, timeout=STOP_POLL_SECONDS)
    # Whatever it ended with was expected: mark it retrieved, now or when it ends.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _was_stopped(error: DBAPIError) -> bool:
    """Whether the database refused to go on: SQLite interrupted, PostgreSQL cancelled."""
    orig = error.orig
    if orig is None:
        return False
    codes = {getattr(orig, "sqlstate", None), getattr(orig.__cause__, "sqlstate", None)}
    if QUERY_CANCELED in codes:
        return True
    return getattr(orig, "sqlite_errorname", "") == "SQLITE_INTERRUPT" or str(orig) == "interrupted"
