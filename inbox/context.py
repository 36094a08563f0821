"""What a handler of the inbox may use, and the shape of a handler.

Handlers import :class:`Context` from here; the table of handlers
(:mod:`inbox.dispatch`) imports the handlers, and the processor
(:mod:`inbox.processor`) imports the table: no module imports back up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database
from config.settings import Settings
from federation.remote import Remote
from inbox.activity import Incoming

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class Context:
    """What a handler may use."""

    settings: Settings
    db: Database
    remote: Remote
    transaction: Transaction


Handler = Callable[[Context, Incoming], Awaitable[str | None]]
