"""The app for process managers: ``instance.asgi:app_from_env()``.

Hypercorn's worker processes (``entraide serve --workers N``), or any ASGI
server, build the node from ``ENTRAIDE_DATA_DIR``; nothing is built at
import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from quart import Quart

from config.settings import load_settings
from instance.app import create_app
from instance.logs import configure_logging


def app_from_env() -> Quart:
    data_dir = Path(os.environ.get("ENTRAIDE_DATA_DIR", "entraide-data"))
    settings = load_settings(data_dir)
    configure_logging(settings)
    return create_app(settings)
