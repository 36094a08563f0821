"""``entraide serve`` and ``entraide worker``: the node's processes.

``serve`` runs the web app (and, on one process, the background loops) under
Hypercorn, or N web processes kept by :mod:`instance.supervisor`; ``worker`` runs
the background loops alone, beside ``serve`` on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from config.settings import Settings
from instance.cli_common import CommandError, UsageError, announce, settings_for, setup_logging
from instance.version import VERSION


def check_schema(settings: Settings) -> None:
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


def _share_metrics(settings: Settings, *, clean: bool) -> None:
    """Counters shared by every process of the node (``instance.observability``)."""
    if settings.metrics.enabled:
        from instance.observability import share_metrics

        share_metrics(settings.data_dir, clean=clean)


async def serve_app(settings: Settings, host: str, port: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from instance import create_app
    from instance.draining import trigger

    app = create_app(settings)
    config = _hypercorn_config(host, port)
    stop = asyncio.Event()
    _install_signals(stop)
    announce(
        settings,
        f"Entraide {VERSION}: {settings.instance.name} ({settings.base_url}) listening on "
        f"http://{host}:{port}",
    )
    await hypercorn_serve(app, config, shutdown_trigger=trigger(stop.wait))


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
        check_schema(settings)
        _share_metrics(settings, clean=True)
        return _serve_processes(settings, args.host, args.port, args.workers)
    check_schema(settings)
    _share_metrics(settings, clean=True)
    asyncio.run(serve_app(settings, args.host, args.port))
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
    check_schema(settings)
    _share_metrics(settings, clean=False)
    asyncio.run(_worker(settings))
    return 0
