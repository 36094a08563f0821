"""``Idempotency-Key`` on the JSON API's writes: a retried request is answered, not run again.

A script that POSTs a listing and loses the connection (a network drop, a node restarting,
``instance.draining``) cannot know whether its write happened; retrying blindly makes a
duplicate. With the header ``Idempotency-Key: K`` (the IETF httpapi draft "The
Idempotency-Key HTTP Header Field"; Stripe's pattern), sending the same request again with
the same key returns the first answer instead of running it again.

**Design.** The hook is ``instance.api.idempotency`` (the API blueprint's
``before_request``, ``after_request`` and ``teardown_request``); the rows are
``domain.idempotency.IdempotencyKey``, one per person and key (unique). For an unsafe
request (POST, PUT, PATCH, DELETE) carrying the header, authenticated by its bearer token:

1. The key must be 1–255 printable ASCII characters, else 400 ``invalid_idempotency_key``.
2. :func:`reserve` commits a row *before the handler runs*: the person, the key, the
   method, the path (with its query string) and the SHA-256 of the raw body, no answer
   yet (running). If the person already has that key (the unique constraint decides, so
   two concurrent requests cannot both reserve it):

   * same method, path and body, answered: the stored answer is replayed as it was
     (status, body, content type, ``Location``) with ``Idempotent-Replayed: true``, and
     nothing runs;
   * another method, path or body: 422 ``idempotency_key_reused``;
   * same request, no answer yet: 409 ``idempotency_key_in_progress``.

   Keys are per person: two people (or two tokens of two people) may use the same key. A
   key older than ``web.idempotency_hours`` (24) counts as unused, and the housekeeping
   loop deletes it (``instance.housekeeping.prune_idempotency_keys``).
3. The handler runs, in its own transactions, exactly as without the header.
4. :func:`record` stores the answer with the row. An answer of 500 or more is not
   stored: the row is deleted (:func:`release`) so that a retry runs again — a 503 of a
   database outage or a statement timeout ran nothing (its transaction was rolled back).
   A request refused before the handler (draining, rate limits, a bad token) reserved
   nothing.

**The crash window.** The answer is stored in a transaction after the handler's own. If
the process dies between the two commits (killed, the machine lost), the row stays
running and every retry gets 409 ``idempotency_key_in_progress`` until the key expires:
honest (the write may well have happened), and never a duplicate. The same holds when a
request is cut (the client disconnects: Quart cancels the handler) or answers 5xx *after*
one of its transactions committed. :class:`Watch` notes every commit made while the
handler runs, and a reservation is released only when nothing was committed: a request
cut (or failing) before its handler committed anything frees its key, and its retry
runs. What the node cannot tell stays running (409): a process that dies while the
handler runs, even before any commit (nothing is left in memory to decide), and a
reservation whose release itself fails (the database is down).
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from config.database import utcnow
from domain.idempotency import IdempotencyKey
from instance.api_errors import ApiError


@dataclass(frozen=True)
class Sent:
    """What identifies a request for its key: method, path (with query) and body digest."""

    method: str
    path: str
    body_sha256: str

    @classmethod
    def of(cls, method: str, path: str, body: bytes) -> Sent:
        return cls(method, path, hashlib.sha256(body).hexdigest())


@dataclass(frozen=True)
class Answer:
    """A stored answer, replayed as it was."""

    status: int
    body: str
    content_type: str | None
    location: str | None


@dataclass
class Watch:
    """Whether a transaction committed while a request with a reserved key ran.

    Made as soon as the reservation's row exists, *armed* once the reservation is
    committed: the commits counted are the handler's only. A request cut before it is
    armed ran nothing of its handler, so its reservation (if it was committed at all)
    is released.
    """

    record_id: int
    armed: bool = False
    committed: bool = False


_watch: ContextVar[Watch | None] = ContextVar("idempotency_watch", default=None)


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    watch = _watch.get()
    if watch is not None and watch.armed:
        watch.committed = True


def watch(record_id: int) -> Watch:
    """Note every commit of any session in this request's context, once armed."""
    current = Watch(record_id)
    _watch.set(current)
    return current


def unwatch() -> None:
    _watch.set(None)


async def reserve(
    session: AsyncSession, person_id: int, key: str, sent: Sent, *, keep: timedelta
) -> int | Answer:
    """Reserve ``key`` for ``sent`` (the new row's id), or the stored answer to replay.

    Raises 422 ``idempotency_key_reused`` for a key sent with another request and 409
    ``idempotency_key_in_progress`` for one whose request has no answer (yet).
    """
    now = utcnow()
    # A key past its time counts as unused, even before the housekeeping deletes it.
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.person_id == person_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at <= now - keep,
        )
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, IdempotencyKey.__table__)
    statement = (
        insert(table)
        .values(
            person_id=person_id,
            key=key,
            method=sent.method,
            path=sent.path,
            body_sha256=sent.body_sha256,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["person_id", "key"])
        .returning(table.c.id)
    )
    record_id = (await session.execute(statement)).scalar_one_or_none()
    if record_id is not None:
        return int(record_id)
    row = (
        await session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.person_id == person_id, IdempotencyKey.key == key
            )
        )
    ).scalar_one()
    if (row.method, row.path, row.body_sha256) != (sent.method, sent.path, sent.body_sha256):
        raise ApiError(
            422,
            "this Idempotency-Key was sent with another request (method, path or body); "
            "use a new key for a new request",
            code="idempotency_key_reused",
        )
    if row.answer_status is None:
        raise ApiError(
            409,
            "a request with this Idempotency-Key is running, or was interrupted before its "
            "answer was stored; its outcome is unknown here: check before writing again",
            code="idempotency_key_in_progress",
        )
    return Answer(row.answer_status, row.body or "", row.content_type, row.location)


async def record(session: AsyncSession, record_id: int, answer: Answer) -> None:
    """Store the answer of the request that reserved ``record_id``."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(
            answer_status=answer.status,
            body=answer.body,
            content_type=answer.content_type,
            location=answer.location,
        )
    )


async def release(session: AsyncSession, record_id: int) -> None:
    """Delete a reservation whose request ran nothing: a retry runs again."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
