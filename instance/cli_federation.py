"""``entraide peer …`` and ``entraide domain …``: federation policy from the shell."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Sub = Callable[[str, str], argparse.ArgumentParser]


def add_federation_commands(sub: Sub) -> None:
    """Add the peer and domain commands to the parser."""


FEDERATION_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}
