"""When the database cannot answer: 503, a short page, one log line now and then.

A database that is down (stopped, restarting, unreachable), full (too many
connections) or too slow (a statement cancelled by
``database.statement_timeout_seconds``, a pool with no free connection) is
not a bug of the request that met it. :func:`database_trouble` recognises
such errors, whatever wraps them (SQLAlchemy, asyncpg, aiosqlite, or the
``OSError`` of a refused connection); then:

* the JSON API and the federation endpoints answer ``503`` with
  ``{"error": "unavailable", "message": "…database…"}`` and ``Retry-After``
  (a remote server retries its delivery later);
* pages answer ``503`` with a short « service momentanément indisponible »
  page in the page's language, built without the database (the layout of
  the other pages asks it who is logged in);
* the log gets one warning line, without a traceback, at most every
  :data:`LOG_EVERY` seconds per process and kind of trouble, saying how many
  more requests met it in between (:class:`OutageLog`; the background loops
  use it too).

Nothing is cached: the next request tries the database again, so the node
recovers by itself when the database is back.

The 503 answers are built where the other errors become responses
(:func:`instance.errors.outage_response`); this module only recognises the
trouble and keeps the log quiet, so the background loops use it without the web.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Literal

from quart import current_app
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

Trouble = Literal["unreachable", "too slow"]
LOG_EVERY = 30.0
RETRY_AFTER = 10  # seconds: a restarting PostgreSQL is back within that, usually
_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite", "sqlite3", "config.database")
# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300", "53400")
_TOO_SLOW_STATES = ("57014", "55P03")  # query_canceled (statement_timeout), lock_not_available
MESSAGES: dict[Trouble, str] = {
    "unreachable": "the database is unreachable; try again in a moment",
    "too slow": "the database is too slow to answer; try again in a moment",
}


def _through_driver(traceback: TracebackType | None) -> bool:
    """Whether an error was raised inside the database driver or SQLAlchemy."""
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False


def _one(error: BaseException) -> Trouble | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        if state.startswith(_UNREACHABLE_STATES):
            return "unreachable"
        if state in _TOO_SLOW_STATES:
            return "too slow"
    if isinstance(error, sa_exc.TimeoutError):  # no free connection in the pool
        return "too slow"
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return "unreachable"
    if isinstance(error, sa_exc.OperationalError):
        text = str(error.orig if error.orig is not None else error).lower()
        if "locked" in text or "busy" in text:  # SQLite, past busy_timeout
            return "too slow"
        if "unable to open" in text or "disk i/o" in text:
            return "unreachable"
    if isinstance(error, sa_exc.InterfaceError) and "connection" in str(error).lower():
        return "unreachable"
    if isinstance(error, OSError) and _through_driver(error.__traceback__):
        # Refused, reset, no such socket file, unknown host, connect timeout.
        return "too slow" if isinstance(error, TimeoutError) else "unreachable"
    return None


def database_trouble(error: BaseException) -> Trouble | None:
    """``unreachable`` or ``too slow`` when ``error`` (or what caused it) says the
    database cannot answer now; None for any other error."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found = _one(current)
        if found is not None:
            return found
        orig = getattr(current, "orig", None)
        pending += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)
    return None


def describe(error: BaseException) -> str:
    """One line about an error (driver errors span several lines)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(error).__name__}: {text}"[:300]


class OutageLog:
    """One warning line per kind of trouble at most every :data:`LOG_EVERY` seconds."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self.every = every
        self.last: dict[str, float] = {}
        self.quiet: dict[str, int] = {}

    def warn(self, trouble: Trouble, error: BaseException, where: str, *, topic: str = "") -> None:
        """Log, unless a line of the same trouble (and topic) went out less than
        :attr:`every` seconds ago; then count it for the next line."""
        key = f"{topic} {trouble}"
        now = time.monotonic()
        last = self.last.get(key)
        if last is not None and now - last < self.every:
            self.quiet[key] = self.quiet.get(key, 0) + 1
            return
        self.last[key] = now
        more = self.quiet.pop(key, 0)
        log.warning(
            "database %s (%s): %s%s",
            trouble,
            where,
            describe(error),
            f"; {more} more times since the last line" if more else "",
        )


LOOPS = OutageLog()  # the background loops of this process


def requests_log() -> OutageLog:
    """The app's own (several apps may share a process: tests, the in-process network)."""
    found = current_app.extensions.get("entraide.outage")
    if not isinstance(found, OutageLog):
        found = current_app.extensions["entraide.outage"] = OutageLog()
    return found
