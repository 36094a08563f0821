"""Logging: readable lines by default, one JSON object per line with ``log.format = "json"``.

In JSON mode every line a command writes for the person who started it (the
start-up line of ``serve`` and ``worker``, what ``init`` and ``db upgrade``
did) goes out as a log record too (``instance.cli_common.announce``), so that a
log collector reads every line of a node's output, the first included.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def json_logs(settings: Settings | None) -> bool:
    """Whether lines go out as JSON: ``log.format``, or before there are settings (``init``)
    the variable that would set it."""
    if settings is not None:
        return settings.log.format == "json"
    return os.environ.get("ENTRAIDE_LOG__FORMAT", "").strip().lower() == "json"


def configure_logging(settings: Settings | None, *, debug: bool = False) -> None:
    level = "DEBUG" if debug else (settings.log.level if settings else "INFO")
    handler = logging.StreamHandler(sys.stderr)
    if json_logs(settings):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
