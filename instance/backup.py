"""Backups and restores of a node: ``entraide backup --to FILE`` / ``restore --from FILE``.

A backup is one ``.tar.gz`` file holding:

* ``manifest.json`` — format, version, backend, creation time, software version;
* ``entraide.toml`` — the settings (with the cookie secret);
* the database, keys included (local actors' private keys live in it):
  ``entraide.db`` for SQLite, made with SQLite's online backup API (a
  consistent copy while the node runs, writers only wait), or
  ``database.pgdump`` for PostgreSQL, made with ``pg_dump --format=custom``
  (a consistent snapshot; ``pg_dump`` must be installed, of the server's
  major version or newer).

``restore`` goes into an **empty** data directory (and, for PostgreSQL, an
empty database: the one named in the backed-up settings, or
``--database-url``), then applies pending migrations, so a backup made by an
older version comes back at the current schema. It checks both before it
writes anything, and says which is not empty and how to empty it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config.settings import (
    CONFIG_FILE,
    Settings,
    SettingsError,
    settings_from_dict,
    write_settings,
)
from instance.migrate import upgrade
from instance.version import VERSION

FORMAT = "entraide-backup"
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("the SQLite URL names no file")
    return Path(database)


def libpq_url(url: str) -> str:
    """The URL in the form ``pg_dump``/``pg_restore`` understand (no ``+asyncpg``)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _run(command: list[str], what: str, env_password: str | None = None) -> None:
    env = dict(os.environ)
    if env_password:
        env["PGPASSWORD"] = env_password
    try:
        # No shell; the arguments come from the node's own settings.
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, env=env, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed: it is needed to {what}") from None
    if result.returncode != 0:
        # pg_restore ends with the statement that failed (often a lone `);`): the cause
        # is on the first line that says "error".
        lines = result.stderr.strip().splitlines() or ["(no output)"]
        cause = next((line for line in lines if "error" in line.lower()), lines[-1])
        raise BackupError(f"{command[0]} failed: {cause.strip()}")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(settings: Settings, target: Path) -> dict[str, Any]:
    """Write a backup of the node to ``target``; returns the manifest."""
    url = settings.database_url
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "software_version": VERSION,
        "backend": backend,
        "domain": settings.instance.domain,
        "created": datetime.now(UTC).isoformat(),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="entraide-backup-") as scratch:
        if backend == "sqlite":
            copy = Path(scratch) / "entraide.db"
            source = sqlite3.connect(_sqlite_path(url))
            destination = sqlite3.connect(copy)
            try:
                # The online backup API copies a consistent snapshot while others write.
                source.backup(destination)
            finally:
                destination.close()
                source.close()
            payload, name = copy, "entraide.db"
        else:
            dump = Path(scratch) / "database.pgdump"
            parsed = make_url(url)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    f"--dbname={libpq_url(url)}",
                ],
                "back up a PostgreSQL database",
                parsed.password,
            )
            payload, name = dump, "database.pgdump"
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=2).encode())
            _add_bytes(archive, CONFIG_FILE, (settings.data_dir / CONFIG_FILE).read_bytes())
            archive.add(payload, arcname=name)
        partial.chmod(0o600)
        partial.replace(target)  # a backup file is either complete or absent
    return manifest


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        member = archive.getmember(name)
    except KeyError:
        raise BackupError(f"the backup has no {name}") from None
    handle = archive.extractfile(member)
    if handle is None:
        raise BackupError(f"{name} in the backup is not a file")
    return handle.read()


def _entries(directory: Path) -> list[str]:
    """What a data directory holds (a fresh volume's ``lost+found`` does not count)."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name != "lost+found")


def check_empty_directory(data_dir: Path) -> None:
    """Refuse a data directory that holds anything, saying what and how to empty it."""
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory")
    entries = _entries(data_dir)
    if entries:
        shown = ", ".join(entries[:5]) + (", …" if len(entries) > 5 else "")
        raise BackupError(
            f"the data directory {data_dir} is not empty ({shown}): restore goes into an "
            f"empty data directory; move its files away (e.g. `mv {data_dir} "
            f"{data_dir}.old && install -d -m 0700 {data_dir}`) or choose another --data-dir"
        )


async def _tables_of(url: str) -> list[str]:
    from sqlalchemy import text

    from config.database import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT schemaname || '.' || tablename FROM pg_catalog.pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                    "ORDER BY 1"
                )
            )
            return [str(name) for (name,) in rows.all()]
    finally:
        await engine.dispose()


def check_empty_database(url: str) -> None:
    """Refuse a PostgreSQL database that cannot be reached or already holds tables."""
    import asyncio

    from instance.health import database_name

    parsed = make_url(url)
    where = database_name(url)
    try:
        tables = asyncio.run(_tables_of(url))
    except (SQLAlchemyError, OSError) as exc:  # refused, unknown database, bad password
        detail = one_line(str(exc)) or type(exc).__name__
        raise BackupError(
            f"cannot reach the {where} to restore into ({detail}); create it first "
            f"(`createdb --owner {parsed.username or 'USER'} {parsed.database}`) "
            "or give another with --database-url"
        ) from None
    if tables:
        shown = ", ".join(t.removeprefix("public.") for t in tables[:5])
        shown += ", …" if len(tables) > 5 else ""
        raise BackupError(
            f"the {where} already holds {len(tables)} tables ({shown}): restore goes into "
            f"an empty database; empty it (as the postgres user: `dropdb {parsed.database} "
            f"&& createdb --owner {parsed.username or 'USER'} {parsed.database}`) "
            "or give another with --database-url"
        )


def one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def restore(source: Path, data_dir: Path, *, database_url: str | None = None) -> Settings:
    """Restore a backup into an empty data directory; returns the restored settings.

    Everything is checked before anything is written: the data directory is
    empty, the file is a backup, and (PostgreSQL) the target database answers
    and holds no table. A restore that fails after that leaves the data
    directory as it was (empty, or absent).
    """
    check_empty_directory(data_dir)
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} is not an Entraide backup ({exc})") from None
    with archive:
        try:
            manifest = json.loads(_member(archive, "manifest.json"))
        except (json.JSONDecodeError, tarfile.TarError) as exc:
            raise BackupError(f"{source} is not an Entraide backup ({exc})") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise BackupError(f"{source} is not an Entraide backup of a known format")
        config = _member(archive, CONFIG_FILE)
        try:
            data = tomllib.loads(config.decode("utf-8"))
            settings = settings_from_dict(data, data_dir)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, SettingsError) as exc:
            raise BackupError(f"the settings in {source} cannot be read ({exc})") from None
        if database_url is not None or manifest["backend"] == "sqlite":
            # A SQLite node comes back as DATA_DIR/entraide.db, wherever it was before.
            settings = settings.model_copy(
                update={
                    "database": settings.database.model_copy(update={"url": database_url or ""})
                }
            )
        if manifest["backend"] == "sqlite":
            if not settings.database_url.startswith("sqlite"):
                raise BackupError("a SQLite backup restores into SQLite only")
            target = _sqlite_path(settings.database_url)
            if target.exists() and target.stat().st_size > 0:
                raise BackupError(f"{target} exists: restore goes into a new SQLite file")
        else:
            if not settings.database_url.startswith("postgresql"):
                raise BackupError("a PostgreSQL backup restores into PostgreSQL only")
            check_empty_database(settings.database_url)

        existed = data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            data_dir.chmod(0o700)
            if database_url is not None or manifest["backend"] == "sqlite":
                write_settings(settings)
            else:
                (data_dir / CONFIG_FILE).write_bytes(config)
                (data_dir / CONFIG_FILE).chmod(0o600)
            if manifest["backend"] == "sqlite":
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    out.write(_member(archive, "entraide.db"))
                target.chmod(0o600)
            else:
                url = settings.database_url
                with tempfile.TemporaryDirectory(prefix="entraide-restore-") as scratch:
                    dump = Path(scratch) / "database.pgdump"
                    dump.write_bytes(_member(archive, "database.pgdump"))
                    _run(
                        [
                            "pg_restore",
                            "--no-owner",
                            "--no-privileges",
                            "--exit-on-error",
                            f"--dbname={libpq_url(url)}",
                            str(dump),
                        ],
                        "restore a PostgreSQL database",
                        make_url(url).password,
                    )
        except BaseException:
            _empty(data_dir, remove=not existed)
            raise
    upgrade(settings.database_url)
    return settings


def _empty(directory: Path, *, remove: bool) -> None:
    """Undo a failed restore: the directory as it was (empty, or absent)."""
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
