"""``entraide structure alias|move``: a structure that moves to another node.

``structure create`` is in :mod:`instance.commands`; the actions here need the node
running in this process (they fetch other servers' actors and queue activities, which
the running ``serve`` or ``worker`` delivers).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from federation.errors import FederationError
from instance.cli_common import CommandError, common_options
from instance.cli_federation import _with_node


def add_structure_commands(structures: Any) -> None:
    """The actions of ``entraide structure`` beyond ``create``."""
    alias = structures.add_parser(
        "alias", help="name the structure's former account on another node (alsoKnownAs)"
    )
    common_options(alias, top=False)
    alias.add_argument("handle")
    alias.add_argument("old", metavar="acct:OLD@HOST")
    move = structures.add_parser(
        "move", help="move the structure to its new account on another node"
    )
    common_options(move, top=False)
    move.add_argument("handle")
    move.add_argument("--to", required=True, metavar="acct:H@HOST", dest="target")


def _run(args: argparse.Namespace, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from instance.api_errors import ApiError

    try:
        return asyncio.run(_with_node(args, work))
    except ApiError as exc:
        raise CommandError(str(exc)) from None
    except FederationError as exc:
        raise CommandError(exc.message) from None


def structure_action(args: argparse.Namespace) -> int:
    from instance.services import moving

    if args.structure_command == "alias":
        aliases = _run(args, lambda node: moving.add_alias(node, args.handle, args.old))
        print(f"{args.handle} also known as {' '.join(aliases)}")
        return 0
    new = _run(args, lambda node: moving.move(node, args.handle, args.target))
    print(f"{args.handle} moved to {new}")
    return 0
