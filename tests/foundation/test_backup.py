"""Backup → restore: the restored node has the same actors with the same keys (a signature
made before the backup verifies after the restore), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from config.database import Database
from config.settings import load_settings
from federation.keystore import actor_signing_key
from federation.models import Actor
from federation.remote import public_key_of
from federation.signatures import sign_request, verify_request
from tests.databases import DatabaseTemplates

ENTRAIDE = [sys.executable, "-m", "instance.cli"]


def cli(*args: str) -> str:
    result = subprocess.run(
        [*ENTRAIDE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ENTRAIDE_LOG__LEVEL": "WARNING"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def _actors(data_dir: Path) -> dict[str, tuple[str, str]]:
    settings = load_settings(data_dir, environ={})
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            actors = (await session.execute(select(Actor).where(Actor.local.is_(True)))).scalars()
            return {
                a.uri: (
                    actor_signing_key(a).key_id,
                    next(k.public_key for k in a.keys if k.kind == "rsa"),
                )
                for a in actors
            }
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_backup_and_restore_keep_actors_and_keys(
    backend: str, templates: DatabaseTemplates, tmp_path: Path
) -> None:
    source, restored, archive = tmp_path / "node", tmp_path / "restored", tmp_path / "node.tar.gz"
    init = ["init", "--data-dir", str(source), "--domain", "b.test", "--name", "Vallée B"]
    restore_args = ["restore", "--data-dir", str(restored), "--from", str(archive)]
    if backend == "postgresql":
        if templates.cluster is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
        init += ["--database-url", templates.empty_postgres_url()]
        restore_args += ["--database-url", templates.empty_postgres_url()]
    cli(*init)
    cli(
        "user",
        "create",
        "--data-dir",
        str(source),
        "--email",
        "o@b.test",
        "--password",
        "long enough password",
    )
    cli(
        "structure",
        "create",
        "--data-dir",
        str(source),
        "--handle",
        "ferme",
        "--name",
        "Ferme",
        "--owner",
        "o@b.test",
    )

    settings = load_settings(source, environ={})
    db = Database(settings.database_url)
    async with db.session() as session:
        structure = (
            await session.execute(select(Actor).where(Actor.handle == "ferme"))
        ).scalar_one()
        key = actor_signing_key(structure)
    await db.dispose()
    body = b'{"type": "Create"}'
    signed = {"Content-Type": "application/activity+json"}
    signed.update(sign_request("POST", "https://a.test/inbox", signed, body, key))

    before = await _actors(source)
    assert "backup of b.test" in cli("backup", "--data-dir", str(source), "--to", str(archive))
    assert archive.stat().st_mode & 0o077 == 0  # keys inside: not readable by others
    assert "restored b.test" in cli(*restore_args)
    after = await _actors(restored)
    assert after == before
    assert len(after) == 3  # territory, Gouvernance, ferme

    restored_settings = load_settings(restored, environ={})
    db = Database(restored_settings.database_url)
    async with db.session() as session:
        ferme = (await session.execute(select(Actor).where(Actor.handle == "ferme"))).scalar_one()
        public = public_key_of(next(k for k in ferme.keys if k.kind == "rsa"))
    await db.dispose()

    async def resolve(key_id: str, refresh: bool) -> object:
        assert key_id == key.key_id
        return public

    path = "/inbox"
    assert await verify_request("POST", path, "", signed, body, resolve_key=resolve) == key.key_id


def test_restore_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    (tmp_path / "b.tar.gz").write_bytes(b"not a backup")
    result = subprocess.run(
        [
            *ENTRAIDE,
            "restore",
            "--data-dir",
            str(tmp_path / "full"),
            "--from",
            str(tmp_path / "b.tar.gz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "not empty" in result.stderr
    result = subprocess.run(
        [
            *ENTRAIDE,
            "restore",
            "--data-dir",
            str(tmp_path / "new"),
            "--from",
            str(tmp_path / "b.tar.gz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "not an Entraide backup" in result.stderr
    assert "Traceback" not in result.stderr


def restore_fails(*args: str) -> str:
    result = subprocess.run(
        [*ENTRAIDE, "restore", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ENTRAIDE_LOG__LEVEL": "WARNING"},
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_restore_refuses_a_database_that_holds_tables(
    templates: DatabaseTemplates, tmp_path: Path
) -> None:
    """Restoring into the database of a running node (or any database with tables) is
    refused up front, naming the database and how to empty it; the data directory is
    left as it was, and the node's database untouched. An unreachable database is named
    too. The same backup then restores into an empty database (--database-url)."""
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    source, archive = tmp_path / "node", tmp_path / "node.tar.gz"
    url = templates.empty_postgres_url()
    cli(
        "init",
        "--data-dir",
        str(source),
        "--domain",
        "c.test",
        "--name",
        "C",
        "--database-url",
        url,
    )
    cli("backup", "--data-dir", str(source), "--to", str(archive))
    target = tmp_path / "target"
    target.mkdir(mode=0o700)  # as `install -d` leaves it: it must still be there afterwards

    line = restore_fails("--data-dir", str(target), "--from", str(archive))
    database = url.rsplit("/", 1)[1]
    assert f"the postgresql database {database} on 127.0.0.1:" in line, line
    assert "already holds" in line and "alembic_version" in line
    assert f"dropdb {database} && createdb --owner entraide {database}" in line
    assert target.is_dir() and list(target.iterdir()) == []

    gone = templates.cluster.url("no_such_database")
    line = restore_fails("--data-dir", str(target), "--from", str(archive), "--database-url", gone)
    assert "cannot reach the postgresql database no_such_database" in line, line
    assert list(target.iterdir()) == []

    (target / "stray.txt").write_text("x")
    line = restore_fails("--data-dir", str(target), "--from", str(archive))
    assert line.endswith(
        f"the data directory {target} is not empty (stray.txt): restore goes into an empty "
        f"data directory; move its files away (e.g. `mv {target} {target}.old && install -d "
        f"-m 0700 {target}`) or choose another --data-dir"
    ), line
    (target / "stray.txt").unlink()

    fresh = templates.empty_postgres_url()
    out = cli("restore", "--data-dir", str(target), "--from", str(archive), "--database-url", fresh)
    assert "restored c.test" in out
