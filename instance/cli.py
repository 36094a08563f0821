"""The ``entraide`` command line (docs/interface.md, "Command line").

Every command takes ``--data-dir DIR`` (or ``ENTRAIDE_DATA_DIR``), before or
after the command name. Exit status: 0 on success, 2 on bad usage, 1 on any
other error, with one clear line on stderr — no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from config.settings import SettingsError
from instance.cli_common import (
    DEFAULT_DATA_DIR,
    CommandError,
    Parser,
    UsageError,
    common_options,
    data_dir,
    one_line,
    run,
    settings_for,
    setup_logging,
)
from instance.cli_federation import FEDERATION_HANDLERS, add_federation_commands
from instance.cli_structures import add_structure_commands, add_user_commands
from instance.version import VERSION

# The shared names stay importable from here (the tests and scripts use them).
__all__ = [
    "DEFAULT_DATA_DIR",
    "CommandError",
    "UsageError",
    "build_parser",
    "data_dir",
    "main",
    "one_line",
    "run",
    "settings_for",
    "setup_logging",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="entraide",
        description="Entraide: a federated server of offers and needs for territories.",
    )
    common_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"entraide {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def sub(name: str, help_: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_, description=help_)
        common_options(p, top=False)
        return p

    p = sub("init", "create a node's data directory, database and territory actor")
    p.add_argument("--domain", required=True, help="HOST[:PORT] where the node is reached")
    p.add_argument("--name", required=True, help="the territory's name")
    p.add_argument("--handle", default="territory", help="the territory actor's handle")
    p.add_argument("--scheme", choices=["https", "http"], default="https")
    p.add_argument("--database-url", default="", help="e.g. postgresql+asyncpg://user:pw@host/db")
    p.add_argument("--federation", choices=["open", "allowlist", "blocklist"], default="open")
    p.add_argument(
        "--allow-private-addresses",
        action="store_true",
        help="let federation reach loopback/private addresses (tests, local demos)",
    )

    p = sub("serve", "serve the web UI, the API and federation")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="web processes (PostgreSQL only)")

    sub("worker", "run inbox processing and delivery only (no web)")

    p = sub("db", "database maintenance")
    db = p.add_subparsers(dest="db_command", metavar="ACTION", parser_class=Parser)
    db.required = True
    up = db.add_parser("upgrade", help="apply pending migrations")
    common_options(up, top=False)

    p = sub("user", "people with a login")
    users = p.add_subparsers(dest="user_command", metavar="ACTION", parser_class=Parser)
    users.required = True
    uc = users.add_parser("create", help="create an approved person")
    common_options(uc, top=False)
    uc.add_argument("--email", required=True)
    uc.add_argument("--password", required=True)
    uc.add_argument(
        "--role", choices=["admin", "moderator", "animator", "member"], default="member"
    )
    add_user_commands(users)

    p = sub("structure", "local structures")
    structures = p.add_subparsers(dest="structure_command", metavar="ACTION", parser_class=Parser)
    structures.required = True
    sc = structures.add_parser("create", help="create an approved structure")
    common_options(sc, top=False)
    sc.add_argument("--handle", required=True)
    sc.add_argument("--name", required=True)
    sc.add_argument("--owner", required=True, help="e-mail of an existing person")
    sc.add_argument(
        "--kind", choices=["business", "association", "public", "other"], default="business"
    )
    sc.add_argument("--commune", default="")
    sc.add_argument("--lat", type=float)
    sc.add_argument("--lon", type=float)
    add_structure_commands(structures)

    p = sub("token", "API tokens")
    tokens = p.add_subparsers(dest="token_command", metavar="ACTION", parser_class=Parser)
    tokens.required = True
    tc = tokens.add_parser("create", help="print a new API token for a person")
    common_options(tc, top=False)
    tc.add_argument("--email", required=True)

    p = sub("backup", "write a consistent copy of the node (database, keys, settings) to FILE")
    p.add_argument("--to", required=True, metavar="FILE")

    p = sub("restore", "restore a backup into an empty data directory")
    p.add_argument("--from", required=True, metavar="FILE", dest="source")
    p.add_argument(
        "--database-url",
        default=None,
        help="restore into this (empty) database instead of the backed-up one",
    )

    p = sub("demo", "start a demo node on SQLite at http://127.0.0.1:PORT (made on first run)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--peered",
        action="store_true",
        help="also start a second territory, peered with the first (in DATA_DIR-b)",
    )
    p.add_argument(
        "--peer-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port of the second territory (default: PORT + 1)",
    )

    add_federation_commands(sub)
    return parser


def _structure(args: argparse.Namespace) -> int:
    from instance import cli_structures, commands

    if args.structure_command == "create":
        return commands.structure(args)
    return cli_structures.structure_action(args)


def _user(args: argparse.Namespace) -> int:
    from instance import cli_structures, commands

    if args.user_command == "create":
        return commands.user(args)
    return cli_structures.user_delete(args)


# command → (module, function): only the module of the command run is imported (a
# usage error, --help or `peer list` need not load the web app or the migrations).
_HANDLERS: dict[str, tuple[str, str]] = {
    "init": ("instance.commands", "init"),
    "serve": ("instance.cli_serve", "serve"),
    "worker": ("instance.cli_serve", "worker"),
    "db": ("instance.commands", "db"),
    "token": ("instance.commands", "token"),
    "demo": ("instance.cli_demo", "demo"),
    "backup": ("instance.commands", "backup"),
    "restore": ("instance.commands", "restore"),
}


def _dispatch(args: argparse.Namespace) -> int:
    local: dict[str, Callable[[argparse.Namespace], int]] = {
        "user": _user,
        "structure": _structure,
        **FEDERATION_HANDLERS,
    }
    handler = local.get(args.command)
    if handler is None:
        module, name = _HANDLERS[args.command]
        handler = getattr(importlib.import_module(module), name)
    return handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``entraide`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        code = _dispatch(args)
    except UsageError as exc:
        print(f"entraide: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except (CommandError, SettingsError) as exc:
        print(f"entraide: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        # Database and network errors span several lines ([SQL: …], background links).
        print(
            f"entraide: error: {type(exc).__name__}: {one_line(str(exc))} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    # The command modules import their errors from instance.cli_common, never this
    # module: run as __main__, it catches the very classes they raise.
    sys.exit(main())
