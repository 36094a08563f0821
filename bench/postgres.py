"""A throwaway PostgreSQL cluster, for the benchmarks and the tests.

The machine's PostgreSQL binaries (``initdb``, ``pg_ctl``) start a cluster in a
temporary directory on a free port of 127.0.0.1, with fsync off (the data is
thrown away). ``initdb`` refuses to run as root, so when run as root the cluster
runs as the unprivileged ``nobody`` user. The tests use it through
``tests.databases``; this module imports nothing from the tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import free_port

PG_USER = "entraide"


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

    def major_version(self) -> int:
        """The server's major version (``PG_VERSION`` of its data directory)."""
        return int((self.root / "data" / "PG_VERSION").read_text().split(".")[0])

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
