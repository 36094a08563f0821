"""Real databases for the tests: SQLite files and a throwaway PostgreSQL cluster.

SQLite: the schema is migrated once per session into a template file, and
each test gets a copy of it (a real file, WAL mode and all).

PostgreSQL: the machine's PostgreSQL binaries (``initdb``, ``pg_ctl``) start a
cluster in a temporary directory on a free port of 127.0.0.1, with fsync off
(the data is thrown away). ``initdb`` refuses to run as root, so when the
tests run as root the cluster runs as the unprivileged ``nobody`` user. The
schema is migrated once into a template database and each test gets
``CREATE DATABASE … TEMPLATE`` of it. Without the binaries, PostgreSQL tests
are skipped with a message saying so.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from instance.migrate import upgrade

T = TypeVar("T")

PG_USER = "entraide"


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking setup (which may call ``asyncio.run``) even from inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_binaries() -> tuple[str, str] | None:
    """Paths of initdb and pg_ctl, or None when PostgreSQL is not installed."""
    initdb = shutil.which("initdb")
    pg_ctl = shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
            if (base / "initdb").exists() and (base / "pg_ctl").exists():
                return str(base / "initdb"), str(base / "pg_ctl")
        return None
    return initdb, pg_ctl


@dataclass
class PgCluster:
    """A running throwaway PostgreSQL cluster."""

    root: Path
    port: int
    pg_ctl: str
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), check=True, capture_output=True, text=True, user=self.run_as, cwd=self.root
        )

    @classmethod
    def start(cls) -> PgCluster:
        found = pg_binaries()
        if found is None:
            raise FileNotFoundError("initdb/pg_ctl not found")
        initdb, pg_ctl = found
        root = Path(tempfile.mkdtemp(prefix="entraide-pg-"))
        run_as = None
        if os.geteuid() == 0:
            run_as = "nobody"
            entry = pwd.getpwnam(run_as)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        cluster = cls(root=root, port=free_port(), pg_ctl=pg_ctl, run_as=run_as)
        data = root / "data"
        cluster._run(
            initdb,
            "-D",
            str(data),
            "-U",
            PG_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = (
            f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        cluster._run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        return cluster

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    async def execute(self, sql: str, database: str = "postgres") -> None:
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, database=database
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


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
        in_thread(
            asyncio.run,
            self.cluster.execute(f"CREATE DATABASE {database} TEMPLATE {self._pg_template}"),
        )
        return self.cluster.url(database)

    def empty_postgres_url(self) -> str:
        assert self.cluster is not None
        database = "e_" + uuid.uuid4().hex[:16]
        in_thread(asyncio.run, self.cluster.execute(f"CREATE DATABASE {database}"))
        return self.cluster.url(database)
