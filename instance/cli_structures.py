"""``entraide structure alias|move|export|delete`` and ``entraide user delete``: a structure that
moves to another node, and leaving for good (an administrator acting on a request).

``structure create`` and ``user create`` are in :mod:`instance.commands`; the actions
here need the node running in this process (they fetch other servers' actors and queue
activities, which the running ``serve`` or ``worker`` delivers).
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
    export = structures.add_parser(
        "export", help="write one archive of what the structure published and received"
    )
    common_options(export, top=False)
    export.add_argument("handle")
    export.add_argument("--to", required=True, metavar="FILE", dest="target")
    gone = structures.add_parser(
        "delete", help="delete a structure for good (its actor, listings and messages)"
    )
    common_options(gone, top=False)
    gone.add_argument("handle")


def add_user_commands(users: Any) -> None:
    """The actions of ``entraide user`` beyond ``create``."""
    gone = users.add_parser(
        "delete", help="delete a person's account (and structures left without members)"
    )
    common_options(gone, top=False)
    gone.add_argument("--email", required=True)


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

    if args.structure_command == "export":
        return _export(args)
    if args.structure_command == "delete":
        _run(args, lambda node: _delete_structure(node, args.handle))
        print(f"deleted structure {args.handle}")
        return 0
    if args.structure_command == "alias":
        aliases = _run(args, lambda node: moving.add_alias(node, args.handle, args.old))
        print(f"{args.handle} also known as {' '.join(aliases)}")
        return 0
    new = _run(args, lambda node: moving.move(node, args.handle, args.target))
    print(f"{args.handle} moved to {new}")
    return 0


async def _delete_structure(node: Any, handle: str) -> None:
    from instance.services.leaving import delete_structure
    from instance.services.structures import structure_by_handle

    async with node.transaction() as session:
        structure = await structure_by_handle(session, handle)
        if structure is None:
            raise CommandError(f"no structure {handle}")
        await delete_structure(session, node.settings, structure, None, "entraide structure delete")


def user_delete(args: argparse.Namespace) -> int:
    from domain.people import find_person
    from instance.services.leaving import delete_person

    async def work(node: Any) -> list[str]:
        async with node.transaction() as session:
            person = await find_person(session, args.email)
            if person is None:
                raise CommandError(f"no person with e-mail {args.email}")
            return await delete_person(session, node.settings, person, None)

    handles = _run(args, work)
    also = f" and structure {', '.join(handles)}" if handles else ""
    print(f"deleted {args.email}{also}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from instance.services.export import export_structure
    from instance.services.structures import structure_by_handle

    target = Path(args.target).expanduser()
    if target.exists():
        raise CommandError(f"{target} already exists")

    async def work(node: Any) -> bytes:
        async with node.db.read() as session:
            structure = await structure_by_handle(session, args.handle)
            if structure is None:
                raise CommandError(f"no structure {args.handle}")
            return await export_structure(session, node.settings, structure)

    data = _run(args, work)
    # Its messages are in it: readable by the owner of the file only.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    print(f"exported {args.handle} to {target}")
    return 0
