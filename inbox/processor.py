"""Processing stored activities: claim, dispatch to the handler of the type, record.

Rows of ``inbox_items`` are claimed in order of arrival with a lease (like the
delivery queue: ``SKIP LOCKED`` on PostgreSQL, one writer on SQLite) and
handled one after the other, so that a Follow is seen before its Undo.
Handlers are idempotent — a crash after a handler's commit and before the
row is marked done replays it — and open their own short transactions, never
holding one across a fetch.

Outcomes: ``done``; ``ignored`` (unknown type, nothing to do);
``failed`` after the error is permanent (bad payload, origin mismatch, a
fetch answered 404 or 410, an unexpected exception of a handler) or
after :data:`MAX_TRIES` transient failures (a fetch that keeps failing, the
database locked or unreachable), with the error kept on the row for the admin.
No exception of a handler escapes :meth:`InboxProcessor.process`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from config.database import Database, utcnow
from federation.errors import FederationError, FetchError, KeyFetchError, RemoteStatusError
from federation.leases import claim_rows, release_leases
from federation.models import InboxItem
from federation.retry import should_retry
from inbox.activity import Incoming
from inbox.context import Context
from inbox.dispatch import handlers

log = logging.getLogger(__name__)

MAX_TRIES = 8
RECORD_EVERY = 1.0  # seconds an outcome may wait to be written with the rest of its batch


class InboxProcessor:
    def __init__(
        self,
        ctx: Context,
        *,
        batch: int = 50,
        lease_seconds: int = 300,
        poll_interval: float = 2.0,
        worker_id: str | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:inbox"
        self.handlers = handlers()
        self.on_outcome = on_outcome

    async def claim(self) -> list[InboxItem]:
        db = self.ctx.db
        now = utcnow()
        async with db.session() as session:
            ids = await claim_rows(
                session,
                InboxItem,
                self.worker_id,
                due=[InboxItem.state == "pending", InboxItem.next_attempt_at <= now],
                order_by=[InboxItem.id],
                batch=self.batch,
                lease_seconds=self.lease_seconds,
                now=now,
                skip_locked=not db.is_sqlite,
            )
            if not ids:
                return []
            rows = await session.execute(
                select(InboxItem).where(InboxItem.id.in_(ids)).order_by(InboxItem.id)
            )
            return list(rows.scalars())

    async def process(self, item: InboxItem) -> tuple[str, str | None]:
        """Run the handler of one item; returns (state, error)."""
        try:
            incoming = Incoming.parse(item.body, item.recipient_uri, item.received_at)
        except (FederationError, ValueError) as exc:
            return "failed", f"unreadable: {exc}"
        handler = self.handlers.get(incoming.type)
        if handler is None:
            return "ignored", f"no handler for {incoming.type}"
        try:
            note = await handler(self.ctx, incoming)
        except RemoteStatusError as exc:
            # 404, 410…: the object is not there and will not come back by waiting.
            state = "retry" if should_retry(exc.status_code) else "failed"
            return state, f"{type(exc).__name__}: {exc.message}"[:1000]
        except (FetchError, KeyFetchError, httpx.HTTPError, OSError) as exc:
            return "retry", f"{type(exc).__name__}: {exc}"[:1000]
        except FederationError as exc:
            return "failed", f"{type(exc).__name__}: {exc.message}"[:1000]
        except Exception as exc:
            # A bug met by one payload (a parser's TypeError, a value the database
            # refuses) must cost that item, not the loop: escaping here, it left the
            # whole claimed batch leased, and the item came back after the lease to
            # stop the loop again, never reaching MAX_TRIES. Database trouble that
            # may pass is retried; anything else would fail the same way again.
            log.exception("inbox item %s (%s) raised", item.activity_uri, item.activity_type)
            state = "retry" if _transient(exc) else "failed"
            return state, f"internal error: {type(exc).__name__}: {exc}"[:1000]
        return ("ignored", note) if note else ("done", None)

    def outcome(self, item: InboxItem, state: str, error: str | None) -> dict[str, object]:
        """The row's new values after its handler answered ``state``."""
        now = utcnow()
        values: dict[str, object] = {
            "id": item.id, "locked_by": None, "locked_until": None, "error": error,
            "next_attempt_at": item.next_attempt_at, "processed_at": None,
        }  # fmt: skip
        tries = item.tries + 1
        if state == "retry":
            if tries >= MAX_TRIES:
                state = "failed"
            else:
                values["next_attempt_at"] = now + timedelta(seconds=min(30 * 2**tries, 6 * 3600))
                state = "pending"
        values.update(state=state, tries=tries)
        if state != "pending":
            values["processed_at"] = now
        return values

    async def record_all(self, items: list[InboxItem], outcomes: list[dict[str, object]]) -> None:
        """Write the outcomes of processed items: one statement and one transaction for the
        lot (an ``executemany`` by primary key), then log and count them."""
        if not outcomes:
            return
        async with self.ctx.db.session() as session:
            await session.execute(update(InboxItem), outcomes)
        for item, values in zip(items, outcomes, strict=True):
            state = str(values["state"])
            if state == "failed":
                log.warning(
                    "inbox item %s (%s) failed: %s",
                    item.activity_uri, item.activity_type, values["error"],
                )  # fmt: skip
            if self.on_outcome:
                self.on_outcome(item.activity_type, state)

    async def record(self, item: InboxItem, state: str, error: str | None) -> None:
        await self.record_all([item], [self.outcome(item, state, error)])

    async def run_once(self) -> int:
        """Claim a batch and process it in order of arrival. Outcomes are written together
        at the end of the batch, or sooner once :data:`RECORD_EVERY` seconds have passed
        since the first unwritten one (a batch held up by slow fetches): a crash in
        between replays those items, which handlers take (they are idempotent)."""
        items = await self.claim()
        done: list[InboxItem] = []
        outcomes: list[dict[str, object]] = []
        since = 0.0
        for item in items:
            state, error = await self.process(item)
            if not outcomes:
                since = time.monotonic()
            done.append(item)
            outcomes.append(self.outcome(item, state, error))
            if time.monotonic() - since > RECORD_EVERY:
                await self.record_all(done, outcomes)
                done, outcomes = [], []
        await self.record_all(done, outcomes)
        return len(items)

    async def run(self, stopping: asyncio.Event, idle: Callable[[float], Awaitable[None]]) -> None:
        while not stopping.is_set():
            if await self.run_once() == 0:
                await idle(self.poll_interval)

    async def drain(self) -> int:
        total = 0
        while count := await self.run_once():
            total += count
        return total


def _transient(exc: Exception) -> bool:
    """A database error that retrying may cure (locked, disconnected, pool timeout)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout | TimeoutError)


async def release_stale_leases(db: Database) -> int:
    """Free claimed items now (single-process restart after a crash)."""
    return await release_leases(db, InboxItem, InboxItem.state == "pending")
