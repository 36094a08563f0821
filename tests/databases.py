"""Real databases for the tests: SQLite files and a throwaway PostgreSQL cluster.

SQLite: the schema is migrated once per session into a template file, and
each test gets a copy of it (a real file, WAL mode and all).

PostgreSQL: a throwaway cluster (:class:`bench.postgres.PgCluster`, shared with
the benchmarks) on a free port of 127.0.0.1, with fsync off. The schema is
migrated once into a template database and each test gets
``CREATE DATABASE … TEMPLATE`` of it. Without the binaries, PostgreSQL tests
are skipped with a message saying so.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bench.postgres import PG_USER, PgCluster, pg_binaries
from instance.migrate import upgrade

T = TypeVar("T")

# The cluster is the benchmarks' too: it lives in bench/, which never imports the tests.
__all__ = ["PG_USER", "DatabaseTemplates", "PgCluster", "free_port", "in_thread", "pg_binaries"]


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking setup (which may call ``asyncio.run``) even from inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DatabaseTemplates:
    """Migrated templates of both backends, copied for each test."""

    def __init__(self, workdir: Path, cluster: PgCluster | None) -> None:
        self.workdir = workdir
        self.cluster = cluster
        self._sqlite: Path | None = None
        self._pg_template: str | None = None

    def sqlite_url(self, directory: Path) -> str:
        if self._sqlite is None:
            self._sqlite = self.workdir / "template.db"
            in_thread(upgrade, f"sqlite+aiosqlite:///{self._sqlite}")
        target = directory / "entraide.db"
        shutil.copyfile(self._sqlite, target)
        return f"sqlite+aiosqlite:///{target}"

    def postgres_url(self) -> str:
        assert self.cluster is not None
        if self._pg_template is None:
            name = "entraide_template"
            in_thread(asyncio.run, self.cluster.execute(f"CREATE DATABASE {name}"))
            in_thread(upgrade, self.cluster.url(name))
            self._pg_template = name
        database = "t_" + uuid.uuid4().hex[:16]
        # FILE_COPY copies the template's files (about 70 ms here) where PostgreSQL 15's
        # default, WAL_LOG, writes every page through the WAL (about 120 ms): with fsync
        # off the checkpoint FILE_COPY needs is cheap. Older servers know only the copy.
        strategy = " STRATEGY FILE_COPY" if self.cluster.major_version() >= 15 else ""
        in_thread(
            asyncio.run,
            self.cluster.execute(
                f"CREATE DATABASE {database} TEMPLATE {self._pg_template}{strategy}"
            ),
        )
        return self.cluster.url(database)

    def empty_postgres_url(self) -> str:
        assert self.cluster is not None
        database = "e_" + uuid.uuid4().hex[:16]
        in_thread(asyncio.run, self.cluster.execute(f"CREATE DATABASE {database}"))
        return self.cluster.url(database)
