"""Storing received activities: once, raw, before answering 202.

The ``inbox_items`` row is the unit of durability: it is committed before the
sender hears 202, and processed afterwards by a worker. The insert ignores a
second copy of the same activity id from the same actor (replays, retries,
the same activity reaching a personal inbox and the shared inbox), so each is
processed once.

An id is only unique per actor: the origin rules let any actor of a server
use ids on that server, so another account could send first an activity
under an id that its neighbour will use (Mastodon names an account's Delete
``<actor>#delete``, its Undo of a follow ``<actor>#follows/<n>/undo``), and the
real one would be dropped as a replay. A row whose id is taken by another
actor is stored under a key made of its actor and id (:func:`_actor_key`);
the body keeps the activity as it came.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from federation.models import InboxItem


def _body(activity: dict[str, Any]) -> str:
    """The activity as stored: UTF-8 JSON, or ASCII escapes when it holds what UTF-8
    cannot encode (a lone surrogate, ``"\\ud800"``, is valid JSON but no database takes it)."""
    body = json.dumps(activity, ensure_ascii=False)
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(activity)
    return body


def _row(
    activity: dict[str, Any],
    *,
    actor_uri: str,
    domain: str,
    key_id: str,
    recipient: str | None,
    received_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    types = activity.get("type")
    type_name = types if isinstance(types, str) else json.dumps(types)[:64]
    return {
        "activity_uri": activity["id"],
        "activity_type": type_name[:64],
        "actor_uri": actor_uri,
        "domain": domain,
        "recipient_uri": recipient,
        "key_id": key_id,
        "body": _body(activity),
        "state": "pending",
        "tries": 0,
        "next_attempt_at": now,
        "received_at": received_at or now,
    }


def _actor_key(row: dict[str, Any]) -> str:
    """The key of an activity whose id another actor's activity holds (see the module doc)."""
    name = f"{row['actor_uri']}\n{row['activity_uri']}".encode()
    return "urn:entraide:actor-sha256:" + hashlib.sha256(name).hexdigest()


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> list[bool]:
    """Insert ``rows`` (ignoring ids their actors already sent); for each, whether it was new.

    An id held by another actor's row is stored again under :func:`_actor_key`:
    one more query, for duplicates only.
    """
    new = await _insert(session, rows)
    seen = [i for i, stored in enumerate(new) if not stored]
    if not seen:
        return new
    table = cast(Table, InboxItem.__table__)
    found = await session.execute(
        select(table.c.activity_uri, table.c.actor_uri).where(
            table.c.activity_uri.in_({rows[i]["activity_uri"] for i in seen})
        )
    )
    holders: dict[str, str] = {uri: actor for uri, actor in found}
    taken = [
        i
        for i in seen
        if holders.get(rows[i]["activity_uri"], rows[i]["actor_uri"]) != rows[i]["actor_uri"]
    ]
    if taken:
        again = await _insert(
            session, [{**rows[i], "activity_uri": _actor_key(rows[i])} for i in taken]
        )
        for i, stored in zip(taken, again, strict=True):
            new[i] = stored
    return new


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[bool]:
    """Insert ``rows`` (ignoring keys already stored); for each, whether it was new.

    One statement for the lot: the parameters are sent as an executemany, which
    SQLAlchemy turns into multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    batches on both SQLite and PostgreSQL, compiled once and cached. The ids
    returned are the new ones; an id twice in ``rows`` is new the first time only.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, InboxItem.__table__)
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["activity_uri"])
        .returning(table.c.activity_uri)
    )
    result = await session.execute(statement, rows)
    inserted = set(result.scalars().all())
    new: list[bool] = []
    for row in rows:
        uri = row["activity_uri"]
        new.append(uri in inserted)
        inserted.discard(uri)
    return new


@dataclass
class VerifiedActivity:
    """A received activity whose signature and origin were checked, waiting to be
    stored by :class:`GroupCommit` (not :class:`inbox.activity.Incoming`, which is a
    stored activity read back for its handler)."""

    activity: dict[str, Any]
    actor_uri: str
    domain: str
    key_id: str
    recipient: str | None
    received_at: datetime


class GroupCommit:
    """Stores activities from concurrent requests in shared transactions.

    Each inbox request hands its activity over and waits until the transaction
    holding it has committed — only then does it answer 202, so durability is
    unchanged. While one transaction is being written, the activities of the
    requests that arrive meanwhile gather for the next one: under load a
    single commit (and a single turn of SQLite's one writer) serves dozens of
    requests, and with no load each activity is written at once, alone. After
    each commit ``on_commit`` is told the domains that delivered (to revive
    them) — in the same transaction, through ``before_commit``.
    """

    def __init__(
        self,
        begin: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        *,
        before_commit: Callable[[AsyncSession, set[str]], Awaitable[None]] | None = None,
        max_batch: int = 200,
    ) -> None:
        self.begin = begin
        self.before_commit = before_commit
        self.max_batch = max_batch
        self._waiting: list[tuple[VerifiedActivity, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, item: VerifiedActivity) -> bool:
        """Store ``item``; True if new, False if its id was already stored."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                await self._commit(batch)
            except asyncio.CancelledError as exc:
                _fail(batch, exc)
                raise
            except Exception as exc:
                if len(batch) == 1:
                    _fail(batch, exc)
                    continue
                # One bad row must not cost the others their 202: store each alone,
                # so that only the request that brought it hears the failure.
                for one in batch:
                    try:
                        await self._commit([one])
                    except asyncio.CancelledError as again:
                        _fail(batch, again)
                        raise
                    except Exception as alone:
                        _fail([one], alone)

    async def _commit(self, batch: list[tuple[VerifiedActivity, asyncio.Future[bool]]]) -> None:
        """Store ``batch`` in one transaction, then tell each waiter whether its row was new."""
        now = utcnow()
        rows = [
            _row(
                item.activity,
                actor_uri=item.actor_uri,
                domain=item.domain,
                key_id=item.key_id,
                recipient=item.recipient,
                received_at=item.received_at,
                now=now,
            )
            for item, _ in batch
        ]
        async with self.begin() as session:
            results = await _insert_new(session, rows)
            if self.before_commit is not None:
                await self.before_commit(session, {item.domain for item, _ in batch})
        for (_, future), stored in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(stored)


def _fail(batch: list[tuple[VerifiedActivity, asyncio.Future[bool]]], exc: BaseException) -> None:
    """Every waiter of ``batch`` not answered yet hears ``exc`` (and answers 5xx)."""
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


async def store_fetched(session: AsyncSession, items: list[VerifiedActivity]) -> list[bool]:
    """Store activities read from a peer's outbox (``federation.backfill``) in this
    transaction, as received ones, to be processed like them; for each, whether it was
    new (one already received, pushed or fetched, is not stored twice)."""
    now = utcnow()
    rows = [
        _row(
            item.activity,
            actor_uri=item.actor_uri,
            domain=item.domain,
            key_id=item.key_id,
            recipient=item.recipient,
            received_at=item.received_at,
            now=now,
        )
        for item in items
    ]
    return await _insert(session, rows) if rows else []
