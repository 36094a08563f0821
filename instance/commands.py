"""What the ``entraide`` commands do (the parser is in ``instance.cli``).

``serve`` and ``worker`` are in :mod:`instance.cli_serve`, the federation commands in
:mod:`instance.cli_federation`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from config.database import Database
from config.settings import (
    CONFIG_FILE,
    Settings,
    new_secret_key,
    settings_from_dict,
    write_settings,
)
from domain.validation import Invalid
from federation.models import Actor
from instance.cli_common import (
    CommandError,
    UsageError,
    announce,
    data_dir,
    settings_for,
    setup_logging,
)

if TYPE_CHECKING:
    from domain.models import Person

# domain.people is imported where it is used: it hashes a dummy password with
# Argon2 on import (a quarter of a second), which `db upgrade` or a usage error
# need not pay.

DOMAIN_RE = re.compile(
    r"^(?=.{1,253}(:\d{1,5})?$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$"
)


def _invalid(exc: Invalid) -> UsageError:
    return UsageError("; ".join(f"{k} {v}" for k, v in exc.messages().items()))


# --- init -------------------------------------------------------------------


def new_settings(
    ddir: Path,
    *,
    domain: str,
    name: str,
    handle: str = "territory",
    scheme: str = "https",
    database_url: str = "",
    federation: str = "open",
    allow_private: bool = False,
) -> Settings:
    _, colon, port = domain.partition(":")
    if not DOMAIN_RE.match(domain) or (colon and not 0 < int(port) < 65536):
        raise UsageError(f"--domain must be HOST or HOST:PORT, got {domain!r}")
    data: dict[str, Any] = {
        "instance": {"domain": domain.lower(), "name": name, "handle": handle, "scheme": scheme},
        "web": {"secret_key": new_secret_key()},
        "federation": {"mode": federation, "allow_private_addresses": allow_private},
    }
    if database_url:
        data["database"] = {"url": database_url}
    try:
        return settings_from_dict(data, ddir)
    except Exception as exc:
        raise UsageError(str(exc)) from None


async def _populate(settings: Settings) -> str:
    from actors.local import create_territory_actor  # imports bovine: slow, only needed here

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            existing = await session.execute(select(Actor.uri).where(Actor.is_territory.is_(True)))
            if existing.first() is not None:
                raise CommandError("this database already holds a node; use an empty database")
            actor = await create_territory_actor(session, settings)
            from instance.bootstrap import bootstrap_node

            await bootstrap_node(session, settings)
            return actor.uri
    finally:
        await db.dispose()


def initialise(settings: Settings) -> str:
    """Create the data directory, the database and the territory actor."""
    ddir = settings.data_dir
    if (ddir / CONFIG_FILE).exists():
        raise CommandError(f"{ddir} is already initialised ({CONFIG_FILE} exists)")
    from instance.migrate import upgrade  # imports Alembic: only init and db need it

    # The directory holds the secret key and (SQLite) the actors' private keys.
    ddir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_settings(settings)
    try:
        upgrade(settings.database_url)
        _make_private(settings)
        return asyncio.run(_populate(settings))
    except BaseException:
        (ddir / CONFIG_FILE).unlink(missing_ok=True)
        raise


def _make_private(settings: Settings) -> None:
    """Make the SQLite file owner-only; SQLite gives its -wal and -shm files the same mode."""
    url = settings.database_url
    if url.startswith("sqlite") and ":///" in url:
        path = Path(url.split(":///", 1)[1])
        if path.exists():
            path.chmod(0o600)


def init(args: argparse.Namespace) -> int:
    ddir = data_dir(args)
    setup_logging(None, args.debug)
    settings = new_settings(
        ddir,
        domain=args.domain,
        name=args.name,
        handle=args.handle,
        scheme=args.scheme,
        database_url=args.database_url,
        federation=args.federation,
        allow_private=args.allow_private_addresses,
    )
    uri = initialise(settings)
    announce(None, f"initialised {ddir}: territory actor {uri}")
    return 0


# --- db / user / structure / token ------------------------------------------


def db(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    from instance.migrate import describe_upgrade, upgrade

    setup_logging(settings, args.debug)
    applied = upgrade(settings.database_url)
    announce(settings, describe_upgrade(applied))
    return 0


async def _in_session(settings: Settings, work: Any) -> Any:
    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            return await work(session)
    finally:
        await database.dispose()


def user(args: argparse.Namespace) -> int:
    settings = settings_for(args)

    from domain.people import create_person, find_person

    async def work(session: Any) -> Person:
        if await find_person(session, args.email) is not None:
            raise CommandError(f"{args.email} is already registered")
        try:
            return await create_person(session, args.email, args.password, role=args.role)
        except Invalid as exc:
            raise _invalid(exc) from None

    person = asyncio.run(_in_session(settings, work))
    print(f"created {person.role} {person.email}")
    return 0


def structure(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if (args.lat is None) != (args.lon is None):
        raise UsageError("--lat and --lon go together")

    from domain.people import create_structure, find_person

    async def work(session: Any) -> str:
        owner = await find_person(session, args.owner)
        if owner is None:
            raise CommandError(f"no person with e-mail {args.owner}: `entraide user create` first")
        try:
            created = await create_structure(
                session,
                {
                    "handle": args.handle,
                    "name": args.name,
                    "kind": args.kind,
                    "commune": args.commune,
                    "lat": args.lat,
                    "lon": args.lon,
                },
                owner,
                territory_handle=settings.instance.handle,
            )
        except Invalid as exc:
            if "already taken" in str(exc):
                raise CommandError(f"the handle {args.handle} is already taken") from None
            raise _invalid(exc) from None
        # Imported once the input is valid: it pulls in bovine (half a second).
        from actors.local import approve_structure

        actor = await approve_structure(session, settings, created, None)
        return actor.uri

    uri = asyncio.run(_in_session(settings, work))
    print(f"created structure {args.handle}: {uri}")
    return 0


def token(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    from domain.people import create_token, find_person

    async def work(session: Any) -> str:
        person = await find_person(session, args.email)
        if person is None:
            raise CommandError(f"no person with e-mail {args.email}")
        return await create_token(session, person, "command line")

    print(asyncio.run(_in_session(settings, work)))
    return 0


# --- backup / restore -------------------------------------------------------


def backup(args: argparse.Namespace) -> int:
    from instance.backup import BackupError
    from instance.backup import backup as make_backup

    settings = settings_for(args)
    target = Path(args.to).expanduser()
    try:
        manifest = make_backup(settings, target)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    print(f"backup of {manifest['domain']} ({manifest['backend']}) written to {target}")
    return 0


def restore(args: argparse.Namespace) -> int:
    from instance.backup import BackupError
    from instance.backup import restore as restore_backup

    source = Path(args.source).expanduser()
    if not source.is_file():
        raise CommandError(f"{source} does not exist")
    try:
        settings = restore_backup(source, data_dir(args), database_url=args.database_url)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    print(f"restored {settings.instance.domain} into {settings.data_dir}")
    return 0
