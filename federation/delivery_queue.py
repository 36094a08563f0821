"""The durable delivery queue: its rows, leases and outcomes (the sending is
``federation.delivery``; states and their changes, ``federation.delivery_states``).

Design
------
* **Enqueue in the same transaction as the change.** :func:`enqueue` adds one
  ``deliveries`` row per (activity, remote inbox) inside the caller's
  session; if the change rolls back, so do its deliveries, and once it
  commits they cannot be lost. Recipients are grouped by shared inbox by the
  caller (``federation.audience``), so a server gets one POST per activity,
  not one per follower.
* **Claim with a lease.** A worker claims a batch of due rows by setting
  ``locked_by``/``locked_until`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
  workers in several processes never take the same row; SQLite: the claim
  runs in a ``BEGIN IMMEDIATE`` transaction, one writer at a time). A row
  whose worker died is claimable again when its lease runs out; a process
  that restarts on SQLite (the only process there) frees its old leases at
  once with :func:`release_stale_leases`.
* **Deliver outside any transaction** (``federation.delivery``).
* **Record outcomes** in one transaction per batch: done, retry at
  ``federation.retry.next_attempt``, or dead — a row still ``pending`` only
  (``federation.delivery_states``). A crash between a successful
  POST and this record means one more delivery of the same activity, which
  receivers deduplicate by activity id (at-least-once, never zero).
* **Domain health.** Each outcome updates ``domain_health``; a domain with
  no success for ``retry.UNAVAILABLE_AFTER`` is marked unavailable and its
  rows are not claimed until it answers again (:func:`revive`, called when
  it delivers to us) — they wait instead of burning their tries.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Update, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from config.database import Database, utcnow
from federation.delivery_states import DELIVERY, DeliveryState
from federation.errors import PayloadError
from federation.keys import SigningKey, host_of
from federation.keystore import RSA_KEY_COLUMNS, RSA_KEYS_OF_ACTOR, current_signing_keys
from federation.leases import claim_statement, release_leases
from federation.models import Activity, ActorKey, Delivery, DomainHealth
from federation.retry import UNAVAILABLE_AFTER, next_attempt

log = logging.getLogger("federation.delivery")


async def enqueue(
    session: AsyncSession, activity: Activity, inboxes: Iterable[str], *, own_domain: str
) -> int:
    """Queue ``activity`` for each remote inbox (deduplicated); returns how many."""
    seen: set[str] = set()
    now = utcnow()
    for inbox in inboxes:
        if not inbox or inbox in seen:
            continue
        seen.add(inbox)
        try:
            domain = host_of(inbox)
        except PayloadError:
            log.warning("not delivering %s to %r: not an http(s) inbox", activity.uri, inbox)
            continue
        if domain == own_domain:
            continue
        session.add(
            Delivery(activity=activity, inbox_url=inbox, domain=domain, next_attempt_at=now)
        )
    await session.flush()
    return len(seen)


# A session, or a connection for Core statements (the delivery worker's hot path).
Executor = AsyncSession | AsyncConnection


async def ensure_health(session: Executor, domains: Iterable[str]) -> None:
    """Make sure each domain has a ``domain_health`` row (race-free insert)."""
    rows = [{"domain": d, "failures": 0} for d in set(domains)]
    if not rows:
        return
    bind = session.get_bind() if isinstance(session, AsyncSession) else session
    dialect = bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(DomainHealth).values(rows).on_conflict_do_nothing())


async def revive(session: AsyncSession, domain: str) -> None:
    """A domain answered (it delivered to us): deliver to it again now."""
    health = await session.get(DomainHealth, domain)
    if health is None or health.unavailable_since is None:
        return
    log.info("domain %s is reachable again", domain)
    health.unavailable_since = None
    health.failing_since = None
    health.failures = 0
    await session.execute(
        update(Delivery)
        .where(Delivery.domain == domain, Delivery.state == "pending")
        .values(next_attempt_at=utcnow())
    )


async def revive_any(session: AsyncSession, domains: set[str]) -> None:
    """:func:`revive` the domains among ``domains`` that are marked unavailable (one query)."""
    if not domains:
        return
    down = await session.execute(
        select(DomainHealth.domain).where(
            DomainHealth.domain.in_(domains), DomainHealth.unavailable_since.is_not(None)
        )
    )
    for domain in down.scalars().all():
        await revive(session, domain)


async def release_stale_leases(db: Database, worker_prefix: str | None = None) -> int:
    """Free claimed rows now (single-process SQLite restart after a crash)."""
    return await release_leases(db, Delivery, Delivery.state == "pending", worker_prefix)


@dataclass
class Job:
    """A claimed delivery, with what is needed to send it."""

    id: int
    inbox_url: str
    domain: str
    tries: int
    body: bytes
    key: SigningKey
    activity_uri: str


@dataclass
class Outcome:
    job: Job
    status: int | None
    error: str | None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _claiming(skip_locked: bool) -> Update:
    """The claim's statement (:func:`~federation.leases.claim_statement`), built once."""
    return claim_statement(
        Delivery,
        [Delivery.id, Delivery.inbox_url, Delivery.domain, Delivery.tries, Delivery.activity_id],
        due=[
            Delivery.state == "pending",
            Delivery.next_attempt_at <= bindparam("now"),
            Delivery.domain.not_in(
                select(DomainHealth.domain).where(DomainHealth.unavailable_since.is_not(None))
            ),
        ],
        order_by=[Delivery.next_attempt_at, Delivery.id],
        skip_locked=skip_locked,
    )


# Built once (statements and their cache keys cost more than running them): the claim
# (with SKIP LOCKED or without), the claimed rows' activities.
_CLAIMS = {skip_locked: _claiming(skip_locked) for skip_locked in (False, True)}
_SENDERS = (
    select(Activity.id, Activity.uri, Activity.body, Activity.actor_id, *RSA_KEY_COLUMNS)
    .outerjoin(ActorKey, and_(ActorKey.actor_id == Activity.actor_id, *RSA_KEYS_OF_ACTOR))
    .where(Activity.id.in_(bindparam("ids", expanding=True)))
)


async def claim(db: Database, worker_id: str, *, batch: int, lease_seconds: int) -> list[Job]:
    """Take up to ``batch`` due deliveries for this worker."""
    # Core statements on a connection: no ORM object is needed to send a delivery.
    async with db.writing(), db.engine.begin() as connection:
        return await _claim_on(connection, db.is_sqlite, worker_id, batch, lease_seconds)


async def _claim_on(
    connection: AsyncConnection, is_sqlite: bool, worker_id: str, batch: int, lease_seconds: int
) -> list[Job]:
    now = utcnow()
    lease = {
        "now": now,
        "until": now + timedelta(seconds=lease_seconds),
        "worker": worker_id,
        "batch": batch,
    }
    # The rows' own columns come back from the claim itself; then each activity (its
    # body serialised once) and the signing key of its actor once: a claim spans few
    # activities and many inboxes.
    claimed = (await connection.execute(_CLAIMS[not is_sqlite], lease)).all()
    if not claimed:
        return []
    rows = sorted(claimed, key=lambda row: row.id)
    ids = sorted({row.activity_id for row in rows})
    # Each activity with its actor's unrevoked RSA keys, in one statement.
    senders = (await connection.execute(_SENDERS, {"ids": ids})).all()
    keys = current_signing_keys(senders, {row.actor_id for row in senders})
    prepared = {
        activity.id: (
            json.dumps(activity.body).encode(),
            keys[activity.actor_id],
            activity.uri,
        )
        for activity in {row.id: row for row in senders}.values()
    }
    jobs = []
    for row in rows:
        body, key, activity_uri = prepared[row.activity_id]
        jobs.append(
            Job(
                id=row.id,
                inbox_url=row.inbox_url,
                domain=row.domain,
                tries=row.tries,
                body=body,
                key=key,
                activity_uri=activity_uri,
            )
        )
    return jobs


DELIVERIES = cast(Table, Delivery.__table__)


def _recording(to: DeliveryState | None) -> Update:
    """The Core UPDATE (by primary key, ``b_id``; one executemany for many rows) of
    outcomes ending in ``to``: when a state changes, only rows that may change to it
    (``federation.delivery_states``) do. Core, not the ORM's bulk UPDATE: the rows are
    plain dictionaries already, and the ORM's per-row work cost more than the SQL."""
    stmt = update(DELIVERIES).where(DELIVERIES.c.id == bindparam("b_id"))
    if to is None:
        return stmt
    return stmt.where(DELIVERY.may_move(Delivery.state, to))


_RECORDINGS = {to: _recording(to) for to in (None, "done", "dead")}
# A server whose every outcome of a batch is a success (see _all_delivered).
_HEALTHY = (
    update(DomainHealth)
    .where(DomainHealth.domain.in_(bindparam("domains", expanding=True)))
    .values(
        last_success_at=bindparam("now"), failures=0, failing_since=None, unavailable_since=None
    )
    .returning(DomainHealth.domain)
    .execution_options(synchronize_session=False)
)


async def _healths(session: AsyncSession, domains: set[str]) -> dict[str, DomainHealth]:
    found = await session.execute(select(DomainHealth).where(DomainHealth.domain.in_(domains)))
    return {health.domain: health for health in found.scalars()}


async def _all_delivered(db: Executor, domains: set[str], now: datetime) -> None:
    """The servers whose every outcome of the batch is a success end healthy, whatever
    they were: one UPDATE, no row read (a missing row is a server's first outcome)."""
    found = await db.execute(_HEALTHY, {"domains": sorted(domains), "now": now})
    if missing := domains - set(found.scalars()):
        await ensure_health(db, missing)
        await db.execute(_HEALTHY, {"domains": sorted(missing), "now": now})


def _row(outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The columns of a delivery that ``outcome`` changes (``b_id``: its id)."""
    job = outcome.job
    values: dict[str, Any] = {
        "b_id": job.id,
        "locked_by": None,
        "locked_until": None,
        "tries": job.tries + 1,
        "last_status": outcome.status,
        "last_error": outcome.error,
    }
    if outcome.ok:
        values.update(state="done", done_at=now)
        return values
    status = None if outcome.status == 0 else outcome.status
    when = (
        None
        if outcome.status == 0
        else next_attempt(job.tries + 1, status, now, retry_after=outcome.retry_after)
    )
    if when is None:
        values.update(state="dead", done_at=now)
        log.warning(
            "giving up delivery of %s to %s: %s", job.activity_uri, job.inbox_url, outcome.error
        )
    else:
        values.update(next_attempt_at=when)
    return values


def _apply(health: DomainHealth, outcome: Outcome, now: datetime) -> None:
    """One outcome's effect on its server's health (in the order of the outcomes)."""
    if outcome.ok:
        health.last_success_at = now
        health.failures = 0
        health.failing_since = None
        health.unavailable_since = None
        return
    if health.failures == 0 or health.failing_since is None:
        health.failing_since = now
    health.failures += 1
    health.last_failure_at = now
    if health.unavailable_since is None and now - health.failing_since >= UNAVAILABLE_AFTER:
        health.unavailable_since = now
        log.warning("domain %s marked unavailable", outcome.job.domain)


async def record(db: Database, outcomes: list[Outcome]) -> None:
    """Write a batch of outcomes: done, rescheduled, or dead.

    The rows are updated with one executemany per set of changed columns, after
    every outcome has been applied to the ``domain_health`` rows: a batch costs a
    handful of statements, not two per delivery. A server with only successes in the
    batch (the common case) gets one UPDATE; one with a failure is read and its
    outcomes applied in order (flushed once). A batch of successes only — a busy queue
    to servers that answer — is written with Core statements on a connection, without
    an ORM session.
    """
    if not outcomes:
        return
    now = utcnow()
    rows = [_row(outcome, now) for outcome in outcomes]
    # (columns, new state or None) -> rows: one executemany each.
    changes: dict[tuple[tuple[str, ...], DeliveryState | None], list[dict[str, Any]]] = defaultdict(
        list
    )
    for values in rows:
        changes[tuple(sorted(values)), values.get("state")].append(values)
    failing = {o.job.domain for o in outcomes if not o.ok}
    delivered = {o.job.domain for o in outcomes} - failing
    if not failing:
        async with db.writing(), db.engine.begin() as connection:
            await _record_successes(connection, outcomes, now)
        return
    async with db.session() as session:
        if delivered:
            await _all_delivered(session, delivered, now)
        healths = await _healths(session, failing)
        if missing := failing - healths.keys():  # a server's first outcome
            await ensure_health(session, missing)
            healths |= await _healths(session, missing)
        for outcome in outcomes:
            if health := healths.get(outcome.job.domain):
                _apply(health, outcome, now)
        for (_, to), group in changes.items():
            # Core UPDATE by primary key: one executemany per set of columns.
            await session.execute(_RECORDINGS[to], group)


async def _record_successes(
    connection: AsyncConnection, outcomes: list[Outcome], now: datetime
) -> None:
    """:func:`record` of a batch whose every outcome is a success: two statements."""
    await _all_delivered(connection, {o.job.domain for o in outcomes}, now)
    await connection.execute(_RECORDINGS["done"], [_row(outcome, now) for outcome in outcomes])


async def record_and_claim(
    db: Database, outcomes: list[Outcome], worker_id: str, *, batch: int, lease_seconds: int
) -> list[Job]:
    """:func:`record`, then :func:`claim` — in one transaction when every outcome is a
    success (the busy queue's common case: one ``BEGIN`` and one commit fewer a batch)."""
    if outcomes and all(outcome.ok for outcome in outcomes):
        async with db.writing(), db.engine.begin() as connection:
            await _record_successes(connection, outcomes, utcnow())
            return await _claim_on(connection, db.is_sqlite, worker_id, batch, lease_seconds)
    await record(db, outcomes)
    return await claim(db, worker_id, batch=batch, lease_seconds=lease_seconds)


async def release(db: Database, jobs: list[Job], worker_id: str) -> None:
    """Free the leases of claimed ``jobs`` that will not be sent (the worker stops)."""
    if not jobs:
        return
    async with db.writing(), db.engine.begin() as connection:
        await connection.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id.in_([job.id for job in jobs]))
            .where(DELIVERIES.c.locked_by == worker_id)
            .values(locked_by=None, locked_until=None)
        )
