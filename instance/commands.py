"""What each ``entraide`` command does (the parser is in ``instance.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import secrets
import signal
import socket
import sys
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
from instance.cli import CommandError, UsageError, data_dir, settings_for, setup_logging
from instance.version import VERSION

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


# --- serve / worker ---------------------------------------------------------


def _check_schema(settings: Settings) -> None:
    from instance.health import schema_is_current

    current = asyncio.run(schema_is_current(settings.database_url))
    if not current:
        raise CommandError("the database schema is not current: run `entraide db upgrade`")


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _hypercorn_config(host: str, port: int) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.graceful_timeout = 15
    config.accesslog = None
    # Our own logger: one handler (the root one, text or JSON), no duplicated lines.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def announce(settings: Settings | None, message: str) -> None:
    """A line for the person who started the command: on stdout, or as a log record in
    JSON log mode (where every line of output is a JSON object)."""
    from instance.logs import json_logs

    if json_logs(settings):
        logging.getLogger("entraide").info("%s", message)
    else:
        print(message, flush=True)


def _share_metrics(settings: Settings, *, clean: bool) -> None:
    """Counters shared by every process of the node (``instance.observability``)."""
    if settings.metrics.enabled:
        from instance.observability import share_metrics

        share_metrics(settings.data_dir, clean=clean)


async def _serve(settings: Settings, host: str, port: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from instance import create_app

    app = create_app(settings)
    config = _hypercorn_config(host, port)
    stop = asyncio.Event()
    _install_signals(stop)
    announce(
        settings,
        f"Entraide {VERSION}: {settings.instance.name} ({settings.base_url}) listening on "
        f"http://{host}:{port}",
    )
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)


def serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not 0 < args.port < 65536:
        raise UsageError("--port must be between 1 and 65535")
    settings = settings_for(args)
    setup_logging(settings, args.debug)
    if args.workers > 1:
        if settings.database_url.startswith("sqlite"):
            raise UsageError(
                "--workers > 1 needs PostgreSQL: SQLite allows a single writing process; "
                "use `--database-url postgresql+asyncpg://…` at init to scale out"
            )
        _check_schema(settings)
        _share_metrics(settings, clean=True)
        return _serve_processes(settings, args.host, args.port, args.workers)
    _check_schema(settings)
    _share_metrics(settings, clean=True)
    asyncio.run(_serve(settings, args.host, args.port))
    return 0


def _serve_processes(settings: Settings, host: str, port: int, workers: int) -> int:
    """N web processes sharing one socket, kept by this process (``instance.supervisor``).

    Each process builds the app from ``ENTRAIDE_DATA_DIR`` (``instance.asgi``)
    and runs the background loops too: on PostgreSQL they share the queues
    through ``SKIP LOCKED``. A web process that dies is replaced; SIGTERM/SIGINT
    stop every process gracefully.
    """
    import os

    from instance.observability import process_ended
    from instance.supervisor import Supervisor

    os.environ["ENTRAIDE_DATA_DIR"] = str(settings.data_dir.resolve())
    config = _hypercorn_config(host, port)
    config.workers = workers
    config.application_path = "instance.asgi:app_from_env()"
    announce(
        settings,
        f"Entraide {VERSION}: {settings.instance.name} ({settings.base_url}) listening on "
        f"http://{host}:{port} with {workers} processes",
    )
    return Supervisor(config, workers, on_exit=process_ended).run()


async def _worker(settings: Settings) -> None:
    from instance import create_app

    app = create_app(settings, run_workers=True)
    node = app.extensions["entraide"]
    if node.metrics is not None:
        node.metrics.set_role("worker")
    stop = asyncio.Event()
    _install_signals(stop)
    await app.startup()
    announce(settings, f"Entraide {VERSION} worker: processing the inbox and delivering")
    try:
        await stop.wait()
    finally:
        await app.shutdown()


def worker(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    setup_logging(settings, args.debug)
    if settings.database_url.startswith("sqlite"):
        raise UsageError(
            "`entraide worker` runs beside `serve` on PostgreSQL; on SQLite, `serve` runs "
            "the workers itself (one writing process)"
        )
    _check_schema(settings)
    _share_metrics(settings, clean=False)
    asyncio.run(_worker(settings))
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


# --- demo -------------------------------------------------------------------

DEMO_EMAIL = "admin@demo.entraide.local"


def demo(args: argparse.Namespace) -> int:
    """Make a demo node on first run, print the admin's login, and serve it."""
    _refuse_taken_port(args.host, args.port)
    ddir = data_dir(args, fallback="demo-data")
    login_file = ddir / "demo-login.txt"
    if not (ddir / CONFIG_FILE).exists():
        settings = new_settings(
            ddir,
            domain=f"{args.host}:{args.port}",
            name="Territoire de démonstration",
            scheme="http",
            allow_private=True,
        )
        initialise(settings)
        password = secrets.token_urlsafe(9)
        from instance.demo import seed_demo

        asyncio.run(seed_demo(settings, DEMO_EMAIL, password))
        login_file.write_text(f"{DEMO_EMAIL}\n{password}\n", encoding="utf-8")
        login_file.chmod(0o600)
    settings = settings_for(argparse.Namespace(data_dir=str(ddir)))
    email, password = login_file.read_text(encoding="utf-8").split()[:2]
    print(f"Demo node: {settings.base_url}/", flush=True)
    print(f"Demo administrator: {email} / password: {password}", flush=True)
    sys.stdout.flush()
    setup_logging(settings, args.debug)
    _check_schema(settings)
    asyncio.run(_serve(settings, args.host, args.port))
    return 0


def _refuse_taken_port(host: str, port: int) -> None:
    """Stop before anything is made or printed when another program listens on the port
    (before: the demo said it listened, then failed with « Address already in use »)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"port {port} on {host} is already in use ({exc.strerror}): "
                f"stop what listens there or choose another port with --port, "
                f"e.g. `entraide demo --port {port + 1}`"
            ) from None


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
