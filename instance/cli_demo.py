"""``entraide demo [--peered]``: the demo node of the quick start, and a peered second one.

``demo`` makes a node in ``./demo-data`` on its first run (``instance.demo`` seeds it),
prints its logins and serves it. ``demo --peered`` does the same for a second territory
in ``./demo-data-b`` (``instance.demo_peer``) on the next port (``--peer-port``), serves
both from this one process, and, once both answer, has the first ask the second to peer
and the second accept, as their administrators would; the second then publishes its
listings, which reach the first and meet its listings. Ctrl-C (SIGINT) or SIGTERM stops
both. Both allow private addresses (they talk over 127.0.0.1): demo only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from config.settings import CONFIG_FILE, Settings
from instance.cli_common import (
    CommandError,
    UsageError,
    announce,
    data_dir,
    settings_for,
    setup_logging,
)
from instance.cli_serve import _hypercorn_config, _install_signals, check_schema, serve_app
from instance.version import VERSION

log = logging.getLogger("entraide.demo")

DEMO_NAME = "Territoire de démonstration"
PEER_SUFFIX = "-b"  # demo-data → demo-data-b
PEERING_TIMEOUT = 60.0


def _refuse_taken_port(host: str, port: int, option: str = "--port") -> None:
    """Stop before anything is made or printed when another program listens on the port
    (before: the demo said it listened, then failed with « Address already in use »)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            example = "--port" if option == "--port" else "--peered --peer-port"
            raise CommandError(
                f"port {port} on {host} is already in use ({exc.strerror}): "
                f"stop what listens there or choose another port with {option}, "
                f"e.g. `entraide demo {example} {port + 1}`"
            ) from None


def _made(
    ddir: Path,
    domain: str,
    name: str,
    emails: list[str],
    seed: Callable[[Settings, dict[str, str]], Coroutine[Any, Any, None]],
) -> tuple[Settings, list[tuple[str, str]]]:
    """The demo node of ``ddir``, made and seeded on first run; its settings and logins."""
    from instance.commands import initialise, new_settings

    login_file = ddir / "demo-login.txt"
    if not (ddir / CONFIG_FILE).exists():
        settings = new_settings(ddir, domain=domain, name=name, scheme="http", allow_private=True)
        initialise(settings)
        passwords = {email: secrets.token_urlsafe(9) for email in emails}
        asyncio.run(seed(settings, passwords))
        login_file.write_text(
            "".join(f"{email} {password}\n" for email, password in passwords.items()),
            encoding="utf-8",
        )
        login_file.chmod(0o600)
    settings = settings_for(argparse.Namespace(data_dir=str(ddir)))
    # One "e-mail password" pair per line, the administrator first (a file of an older
    # demo holds the administrator's alone, on two lines: read the same way).
    words = login_file.read_text(encoding="utf-8").split()
    return settings, list(zip(words[::2], words[1::2], strict=False))


def _print_logins(title: str, settings: Settings, logins: list[tuple[str, str]]) -> None:
    print(f"{title}: {settings.base_url}/", flush=True)
    email, password = logins[0]
    print(f"Demo administrator: {email} / password: {password}", flush=True)
    for email, password in logins[1:]:
        print(f"Demo structure login: {email} / password: {password}", flush=True)


def demo(args: argparse.Namespace) -> int:
    """Make the demo node (and with ``--peered`` the second one) on first run, print the
    logins, and serve."""
    from instance.demo import PEOPLE, seed_demo

    peer_port = args.peer_port or args.port + 1
    if args.peered and peer_port == args.port:
        raise UsageError("--peer-port must differ from --port")
    _refuse_taken_port(args.host, args.port)
    if args.peered:
        _refuse_taken_port(args.host, peer_port, "--peer-port")
    ddir = data_dir(args, fallback="demo-data")
    emails = [who["email"] for who in PEOPLE]
    settings, logins = _made(ddir, f"{args.host}:{args.port}", DEMO_NAME, emails, seed_demo)
    _print_logins("Demo node", settings, logins)
    if not args.peered:
        setup_logging(settings, args.debug)
        check_schema(settings)
        asyncio.run(serve_app(settings, args.host, args.port))
        return 0

    from instance import demo_peer

    peer_dir = ddir.with_name(ddir.name + PEER_SUFFIX)
    emails = [who["email"] for who in demo_peer.PEOPLE]
    peer, peer_logins = _made(
        peer_dir, f"{args.host}:{peer_port}", demo_peer.NAME, emails, demo_peer.seed_peer_demo
    )
    _print_logins("Peered demo node", peer, peer_logins)
    setup_logging(settings, args.debug)
    check_schema(settings)
    check_schema(peer)
    asyncio.run(serve_pair(settings, peer, args.host, (args.port, peer_port)))
    return 0


async def serve_pair(a: Settings, b: Settings, host: str, ports: tuple[int, int]) -> None:
    """Serve both nodes until SIGINT or SIGTERM (or until one of them fails), peering them
    meanwhile."""
    from hypercorn.asyncio import serve as hypercorn_serve

    from instance import create_app
    from instance.draining import trigger

    apps = (create_app(a), create_app(b))
    stop = asyncio.Event()
    _install_signals(stop)
    servers = [
        asyncio.create_task(
            hypercorn_serve(app, _hypercorn_config(host, port), shutdown_trigger=trigger(stop.wait))
        )
        for app, port in zip(apps, ports, strict=True)
    ]
    for settings, port in zip((a, b), ports, strict=True):
        announce(
            settings,
            f"Entraide {VERSION}: {settings.instance.name} ({settings.base_url}) listening on "
            f"http://{host}:{port}",
        )
    peering = asyncio.create_task(_peer(apps[0], apps[1]))
    try:
        await asyncio.wait(servers, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        peering.cancel()
        await asyncio.gather(peering, return_exceptions=True)
        for ended in await asyncio.gather(*servers, return_exceptions=True):
            if isinstance(ended, BaseException) and not isinstance(ended, asyncio.CancelledError):
                raise ended


async def _peer(app_a: Any, app_b: Any) -> None:
    """Once both answer: A asks B to peer, B accepts (B's territory follows A's back, which
    A accepts as the answer to its own request), then B publishes its listings. Nothing is
    done twice when the demo starts again."""
    from instance import demo_peer
    from instance.services import peering

    node_a, node_b = app_a.extensions["entraide"], app_b.extensions["entraide"]
    host_a, host_b = node_a.settings.instance.domain, node_b.settings.instance.domain
    try:
        await _until(lambda: _answer(node_a, node_b), "both nodes to answer")
        if await _state(app_a, host_b, "outgoing") is None:
            async with app_a.app_context():
                await peering.request(node_a, f"{node_b.settings.base_url}/actors/territory")
        if await _state(app_b, host_a, "incoming") != "accepted":
            await _until(
                lambda: _has_state(app_b, host_a, "incoming", "pending"),
                f"{host_b} to receive the peering request of {host_a}",
            )
            async with app_b.app_context():
                await peering.approve(node_b, host_a)
        await _until(
            lambda: _has_state(app_a, host_b, "outgoing", "accepted"),
            f"{host_a} and {host_b} to be peered",
        )
        async with app_b.app_context():
            published = await demo_peer.publish_peer_listings(node_b)
        announce(
            node_a.settings,
            f"Demo nodes peered: {host_a} ↔ {host_b}"
            + (f" ({published} listings of {host_b} sent to {host_a})" if published else ""),
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception(
            "the demo nodes could not be peered; peer them by hand: `entraide --data-dir %s "
            "peer request %s/actors/territory`, then `entraide --data-dir %s peer approve %s`",
            node_a.settings.data_dir,
            node_b.settings.base_url,
            node_b.settings.data_dir,
            host_a,
        )


async def _answer(*nodes: Any) -> bool:
    """Whether every one of ``nodes`` answers on its address."""
    import httpx

    async with httpx.AsyncClient(timeout=2) as client:
        for node in nodes:
            try:
                answer = await client.get(f"{node.settings.base_url}/api/v1/instance")
            except httpx.TransportError:
                return False
            if answer.status_code != 200:
                return False
    return True


async def _state(app: Any, host: str, direction: str) -> str | None:
    from instance.services import peering

    node = app.extensions["entraide"]
    async with app.app_context(), node.db.session() as session:
        for row in await peering.list_peerings(session):
            if row.host == host and row.direction == direction:
                return str(row.state)
    return None


async def _has_state(app: Any, host: str, direction: str, state: str) -> bool:
    return await _state(app, host, direction) == state


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PEERING_TIMEOUT
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)
