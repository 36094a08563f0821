"""``entraide peer …`` and ``entraide domain …``: federation policy from the shell.

``peer list`` prints one peering per line, ``HOST DIRECTION STATE``
(docs/interface.md). Commands that talk to another node (``peer request``) queue
their activities in the database; the running ``serve`` (or ``worker``)
delivers them within its poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from federation.errors import FederationError
from instance.cli_common import CommandError, Sub, UsageError, common_options, settings_for

HOST_HELP = "HOST[:PORT] of the other node"


def add_federation_commands(sub: Sub) -> None:
    p = sub("peer", "peerings with other territories")
    peers = p.add_subparsers(dest="peer_command", metavar="ACTION")
    peers.required = True
    listing = peers.add_parser("list", help="one peering per line: HOST DIRECTION STATE")
    common_options(listing, top=False)
    req = peers.add_parser(
        "request", help="ask another territory to peer (acct:HANDLE@HOST or URL)"
    )
    common_options(req, top=False)
    req.add_argument("target")
    for name, help_ in (
        ("approve", "accept an incoming peering request"),
        ("reject", "refuse an incoming peering request"),
        ("remove", "end a peering in both directions"),
    ):
        cmd = peers.add_parser(name, help=help_)
        common_options(cmd, top=False)
        cmd.add_argument("host", help=HOST_HELP)

    p = sub("keys", "keys of local actors")
    keys = p.add_subparsers(dest="keys_command", metavar="ACTION")
    keys.required = True
    rotate = keys.add_parser("rotate", help="new keys for a local actor; followers are told")
    common_options(rotate, top=False)
    rotate.add_argument("handle", help="handle of the territory, a structure or a community")

    p = sub("domain", "federation policy by domain")
    domains = p.add_subparsers(dest="domain_command", metavar="ACTION")
    domains.required = True
    for name, help_ in (
        ("block", "refuse a domain (and sever its follows)"),
        ("unblock", "lift a block"),
        ("allow", "allow a domain (needed in allowlist mode)"),
        ("list", "the domain policies"),
    ):
        cmd = domains.add_parser(name, help=help_)
        common_options(cmd, top=False)
        if name != "list":
            cmd.add_argument("host", help=HOST_HELP)
        if name == "block":
            cmd.add_argument("--reason", default="")


async def _with_node(args: argparse.Namespace, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work`` with the node's container (database, HTTP client, keys), without the
    web app: these commands never serve a request, and building the app (its pages, API
    and templates) cost them a second of imports."""
    from instance.node import Node

    node = Node.from_settings(settings_for(args))
    node.open_http()
    try:
        return await work(node)
    finally:
        await node.close_http()
        await node.db.dispose()


def _run(args: argparse.Namespace, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from instance.services.peering import PeeringError

    try:
        return asyncio.run(_with_node(args, work))
    except PeeringError as exc:
        raise CommandError(str(exc)) from None
    except FederationError as exc:
        raise CommandError(exc.message) from None


def _host(value: str) -> str:
    host = value.strip().lower()
    if not host or "/" in host or "@" in host or " " in host:
        raise UsageError(f"expected HOST[:PORT], got {value!r}")
    return host


def peer(args: argparse.Namespace) -> int:
    from instance.services import peering

    action = args.peer_command
    if action == "list":

        async def work(node: Any) -> list[Any]:
            async with node.db.session() as session:
                return await peering.list_peerings(session)

        for row in _run(args, work):
            print(f"{row.host} {row.direction} {row.state}")
        return 0
    if action == "request":
        target = args.target.strip()
        if not (target.startswith(("http://", "https://")) or "@" in target):
            raise UsageError("expected acct:HANDLE@HOST or the territory actor's URL")
        result = _run(args, lambda node: peering.request(node, target))
        print(f"{result.host} {result.direction} {result.state}")
        return 0
    host = _host(args.host)
    if action == "approve":
        result = _run(args, lambda node: peering.approve(node, host))
    elif action == "reject":
        result = _run(args, lambda node: peering.reject_request(node, host))
    else:
        _run(args, lambda node: peering.remove(node, host))
        print(f"{host} removed")
        return 0
    print(f"{result.host} {result.direction} {result.state}")
    return 0


def _policy_host(value: str) -> str:
    """A policy's domain as it is stored, or a usage error (exit 2) saying what is wrong."""
    from federation.errors import PayloadError
    from federation.policy import checked_host

    try:
        return checked_host(value)
    except PayloadError as exc:
        raise UsageError(f"{exc.message} (expected HOST[:PORT])") from None


def domain(args: argparse.Namespace) -> int:
    """``domain block|unblock|allow HOST`` and ``domain list``.

    The host is checked before the node is opened (:func:`_policy_host`, the same
    function as the moderation API and the Federation page). ``unblock`` also takes
    a policy stored before hosts were checked, by the spelling ``list`` shows.
    """
    from federation import policy
    from federation.errors import PayloadError
    from instance.services import peering

    action = args.domain_command
    host = ""
    if action in ("block", "allow"):
        host = _policy_host(args.host)
    elif action == "unblock":
        host = args.host.strip().lower()
        if not host:
            raise UsageError("expected HOST[:PORT], got nothing")
        with contextlib.suppress(PayloadError):
            host = policy.checked_host(host)

    async def work(node: Any) -> Any:
        async with node.transaction() as session:
            if action == "list":
                return await policy.list_policies(session)
            if action == "block":
                await peering.block_domain(session, host, args.reason)
            elif action == "allow":
                await policy.set_policy(session, host, "allow")
            else:
                try:
                    cleared = await policy.clear_policy(session, host)
                except PayloadError as exc:
                    raise UsageError(f"{exc.message} (expected HOST[:PORT])") from None
                if not cleared:
                    raise CommandError(f"{host} had no policy")
            return None

    result = _run(args, work)
    if action == "list":
        for row in result:
            print(f"{row.domain} {row.policy}")
    else:
        print(f"{host} {action}ed" if action != "allow" else f"{host} allowed")
    return 0


def keys(args: argparse.Namespace) -> int:
    from instance.errors import NotFound
    from instance.services.keys import rotate_keys

    async def work(node: Any) -> None:
        async with node.transaction() as session:
            await rotate_keys(session, node, args.handle)

    try:
        _run(args, work)
    except NotFound as exc:
        raise CommandError(exc.message) from None
    print(f"{args.handle}: new keys; an Update is queued for its followers")
    return 0


FEDERATION_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "peer": peer,
    "domain": domain,
    "keys": keys,
}
