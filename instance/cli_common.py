"""What the commands of the ``entraide`` command line share: errors, options, settings.

The parser is in :mod:`instance.cli`; what each command does in
:mod:`instance.commands`, :mod:`instance.cli_serve` and
:mod:`instance.cli_federation`. All of them import this module, and none of them
imports :mod:`instance.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from config.settings import Settings, load_settings

DEFAULT_DATA_DIR = "entraide-data"
log = logging.getLogger("entraide")

Sub = Callable[[str, str], argparse.ArgumentParser]
"""Adds a command to the parser: ``sub(name, help)`` returns its own parser."""


class CommandError(Exception):
    """A command failed for a reason the user can act on (exit status 1)."""


class UsageError(Exception):
    """The command was called wrongly (exit status 2)."""


def one_line(text: str) -> str:
    """The first non-empty line of ``text``: stderr gets one line per error (docs/interface.md)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return "unknown error"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts read the last line of stderr.
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--data-dir",
        default=default,
        help=f"the node's directory (default: $ENTRAIDE_DATA_DIR or ./{DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )


def data_dir(args: argparse.Namespace, *, fallback: str = DEFAULT_DATA_DIR) -> Path:
    value = args.data_dir or os.environ.get("ENTRAIDE_DATA_DIR") or fallback
    return Path(value).expanduser()


def settings_for(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir(args))


def setup_logging(settings: Settings | None, debug: bool) -> None:
    from instance.logs import configure_logging

    configure_logging(settings, debug=debug)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def announce(settings: Settings | None, message: str) -> None:
    """A line for the person who started the command: on stdout, or as a log record in
    JSON log mode (where every line of output is a JSON object)."""
    from instance.logs import json_logs

    if json_logs(settings):
        logging.getLogger("entraide").info("%s", message)
    else:
        print(message, flush=True)
