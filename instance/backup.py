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
older version comes back at the current schema.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from config.settings import CONFIG_FILE, Settings, load_settings, write_settings
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
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BackupError(f"{command[0]} failed: {last}")


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


def restore(source: Path, data_dir: Path, *, database_url: str | None = None) -> Settings:
    """Restore a backup into an empty data directory; returns the restored settings."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore goes into an empty data directory")
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} is not an Entraide backup ({exc})") from None
    with archive:
        manifest = json.loads(_member(archive, "manifest.json"))
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise BackupError(f"{source} is not an Entraide backup of a known format")
        config = _member(archive, CONFIG_FILE)
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        (data_dir / CONFIG_FILE).write_bytes(config)
        (data_dir / CONFIG_FILE).chmod(0o600)
        settings = load_settings(data_dir, environ={})
        if database_url is not None or manifest["backend"] == "sqlite":
            # A SQLite node comes back as DATA_DIR/entraide.db, wherever it was before.
            settings = settings.model_copy(
                update={
                    "database": settings.database.model_copy(update={"url": database_url or ""})
                }
            )
            write_settings(settings)
        try:
            if manifest["backend"] == "sqlite":
                if not settings.database_url.startswith("sqlite"):
                    raise BackupError("a SQLite backup restores into SQLite only")
                target = _sqlite_path(settings.database_url)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    out.write(_member(archive, "entraide.db"))
                target.chmod(0o600)
            else:
                url = settings.database_url
                if not url.startswith("postgresql"):
                    raise BackupError("a PostgreSQL backup restores into PostgreSQL only")
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
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
    upgrade(settings.database_url)
    return settings
