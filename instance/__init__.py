"""The node as a program: app factory, pages, JSON API, command line.

``instance`` is the top layer: it may import every other package, and none
of them imports it. :func:`create_app` builds a Quart app from
:class:`config.Settings`; nothing is built at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quart import Quart

    from config.settings import Settings


def create_app(settings: Settings, **options: Any) -> Quart:
    """Build the node's Quart app (see ``instance.app``)."""
    from instance.app import create_app as _create_app

    return _create_app(settings, **options)


__all__ = ["create_app"]
