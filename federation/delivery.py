"""The durable delivery queue.

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
* **Deliver outside any transaction**, with bounded concurrency overall and
  per host, each POST signed by the activity's actor.
* **Record outcomes** in one transaction per batch: done, retry at
  ``federation.retry.next_attempt``, or dead. A crash between a successful
  POST and this record means one more delivery of the same activity, which
  receivers deduplicate by activity id (at-least-once, never zero).
* **Domain health.** Each outcome updates ``domain_health``; a domain with
  no success for ``retry.UNAVAILABLE_AFTER`` is marked unavailable and its
  rows are not claimed until it answers again (:func:`revive`, called when
  it delivers to us) — they wait instead of burning their tries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database, utcnow
from federation.errors import FederationError, PayloadError
from federation.httpx_internals import transport_of
from federation.keys import SigningKey, host_of
from federation.keystore import actor_signing_key
from federation.leases import claim_rows, release_leases
from federation.models import Activity, Actor, Delivery, DomainHealth
from federation.retry import UNAVAILABLE_AFTER, next_attempt
from federation.signatures import sign_request

log = logging.getLogger(__name__)

ACTIVITY_JSON = "application/activity+json"


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


async def ensure_health(session: AsyncSession, domains: Iterable[str]) -> None:
    """Make sure each domain has a ``domain_health`` row (race-free insert)."""
    rows = [{"domain": d, "failures": 0} for d in set(domains)]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
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


async def claim(db: Database, worker_id: str, *, batch: int, lease_seconds: int) -> list[Job]:
    """Take up to ``batch`` due deliveries for this worker."""
    now = utcnow()
    unavailable = select(DomainHealth.domain).where(DomainHealth.unavailable_since.is_not(None))
    async with db.session() as session:
        ids = await claim_rows(
            session,
            Delivery,
            worker_id,
            due=[
                Delivery.state == "pending",
                Delivery.next_attempt_at <= now,
                Delivery.domain.not_in(unavailable),
            ],
            order_by=[Delivery.next_attempt_at, Delivery.id],
            batch=batch,
            lease_seconds=lease_seconds,
            now=now,
            skip_locked=not db.is_sqlite,
        )
        if not ids:
            return []
        rows = await session.execute(
            select(Delivery, Activity, Actor)
            .join(Activity, Delivery.activity_id == Activity.id)
            .join(Actor, Activity.actor_id == Actor.id)
            .where(Delivery.id.in_(ids))
        )
        jobs = []
        bodies: dict[int, bytes] = {}
        for delivery, activity, actor in rows.all():
            if activity.id not in bodies:
                bodies[activity.id] = json.dumps(activity.body).encode()
            jobs.append(
                Job(
                    id=delivery.id,
                    inbox_url=delivery.inbox_url,
                    domain=delivery.domain,
                    tries=delivery.tries,
                    body=bodies[activity.id],
                    key=actor_signing_key(actor),
                    activity_uri=activity.uri,
                )
            )
        return jobs


REPLY_BYTES = 64 * 1024  # of an inbox's answer read, at most


async def _post_signed(client: httpx.AsyncClient, job: Job) -> httpx.Response:
    """POST ``job`` straight through the client's transport.

    A delivery needs none of what ``AsyncClient.send`` adds around its
    transport (auth flows, redirects — never followed here —, cookies, event
    hooks), and on a busy queue those layers cost as much as the RSA
    signature. The request is built by the client (its headers, timeouts)
    and goes through the same transport, so the SSRF guard and the
    connection pool are the same as for every other request.
    """
    request = client.build_request(
        "POST",
        job.inbox_url,
        content=job.body,
        headers={"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON},
    )
    request.headers.update(
        sign_request("POST", str(request.url), request.headers, job.body, job.key)
    )
    response = await transport_of(client).handle_async_request(request)
    response.request = request
    try:
        # Only the status and headers matter. The body is drained (so that the
        # connection can serve the next POST) as it came, never decompressed, and
        # no further than REPLY_BYTES: a hostile inbox's gzip bomb costs nothing.
        received = 0
        if not response.is_stream_consumed:  # in-process transports answer with bytes
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > REPLY_BYTES:
                    break
    finally:
        await response.aclose()
    return response


async def send(client: httpx.AsyncClient, job: Job, time_limit: float = 30.0) -> Outcome:
    """POST one activity to one inbox, signed; never raises."""
    try:
        async with asyncio.timeout(time_limit):
            response = await _post_signed(client, job)
    except TimeoutError:
        return Outcome(job, None, f"no answer within {time_limit:g} s")
    except FederationError as exc:  # refused by the SSRF guard: will not get better
        return Outcome(job, 0, exc.message)
    except (httpx.HTTPError, OSError) as exc:
        return Outcome(job, None, f"{type(exc).__name__}: {exc}"[:500])
    error = None if response.is_success else f"HTTP {response.status_code}"
    return Outcome(job, response.status_code, error, response.headers.get("Retry-After"))


async def record(db: Database, outcomes: list[Outcome]) -> None:
    """Write a batch of outcomes: done, rescheduled, or dead.

    The rows are updated with one executemany per set of changed columns, after
    every outcome has been applied to the ``domain_health`` rows (flushed once):
    a batch costs a handful of statements, not two per delivery.
    """
    if not outcomes:
        return
    now = utcnow()
    async with db.session() as session:
        await ensure_health(session, (o.job.domain for o in outcomes))
        healths = {
            h.domain: h
            for h in (
                await session.execute(
                    select(DomainHealth).where(
                        DomainHealth.domain.in_({o.job.domain for o in outcomes})
                    )
                )
            ).scalars()
        }
        changes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for outcome in outcomes:
            job, health = outcome.job, healths[outcome.job.domain]
            values: dict[str, Any] = {
                "id": job.id,
                "locked_by": None,
                "locked_until": None,
                "tries": job.tries + 1,
                "last_status": outcome.status,
                "last_error": outcome.error,
            }
            if outcome.ok:
                values.update(state="done", done_at=now)
                health.last_success_at = now
                health.failures = 0
                health.failing_since = None
                health.unavailable_since = None
            else:
                status = None if outcome.status == 0 else outcome.status
                when = (
                    None
                    if outcome.status == 0
                    else next_attempt(job.tries + 1, status, now, retry_after=outcome.retry_after)
                )
                if when is None:
                    values.update(state="dead", done_at=now)
                    log.warning(
                        "giving up delivery of %s to %s: %s",
                        job.activity_uri,
                        job.inbox_url,
                        outcome.error,
                    )
                else:
                    values.update(next_attempt_at=when)
                if health.failures == 0 or health.failing_since is None:
                    health.failing_since = now
                health.failures += 1
                health.last_failure_at = now
                if (
                    health.unavailable_since is None
                    and now - health.failing_since >= UNAVAILABLE_AFTER
                ):
                    health.unavailable_since = now
                    log.warning("domain %s marked unavailable", job.domain)
            changes[tuple(sorted(values))].append(values)
        for rows in changes.values():
            # ORM bulk UPDATE by primary key: one executemany per set of columns.
            await session.execute(update(Delivery), rows)


class DeliveryWorker:
    """Claims due deliveries and sends them, keeping ``concurrency`` POSTs in flight."""

    def __init__(
        self,
        db: Database,
        client_factory: Callable[[], httpx.AsyncClient],
        *,
        client_for: Callable[[str], httpx.AsyncClient] | None = None,
        concurrency: int = 32,
        per_host: int = 4,
        batch: int = 50,
        lease_seconds: int = 300,
        poll_interval: float = 2.0,
        worker_id: str | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.db = db
        self.client_factory = client_factory
        self.client_for = client_for
        self.concurrency = concurrency
        self.per_host = per_host
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:delivery"
        self.on_outcome = on_outcome
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )

    async def _send(self, client: httpx.AsyncClient, job: Job) -> Outcome:
        if self.client_for is not None:
            client = self.client_for(job.domain)
        async with self._hosts[job.domain]:
            return await send(client, job)

    async def _record(self, done: Iterable[asyncio.Task[Outcome]]) -> None:
        outcomes = [task.result() for task in done if not task.cancelled()]
        await record(self.db, outcomes)
        if self.on_outcome:
            for outcome in outcomes:
                self.on_outcome(outcome)

    async def run(self, stopping: asyncio.Event, idle: Callable[[float], Awaitable[None]]) -> None:
        """Deliver until ``stopping`` is set; ``idle(seconds)`` waits for new work."""
        client = self.client_factory()
        inflight: set[asyncio.Task[Outcome]] = set()
        # Claim when a quarter of the slots are free (or nothing is in flight), not for
        # every single free slot: one claim and one record transaction serve many jobs.
        threshold = max(1, min(self.batch, self.concurrency // 4))
        try:
            while not stopping.is_set():
                room = self.concurrency - len(inflight)
                jobs: list[Job] = []
                if room >= threshold or not inflight:
                    jobs = await claim(
                        self.db,
                        self.worker_id,
                        batch=min(room, self.batch),
                        lease_seconds=self.lease_seconds,
                    )
                for job in jobs:
                    inflight.add(asyncio.create_task(self._send(client, job)))
                if not inflight:
                    await idle(self.poll_interval)
                    continue
                done, inflight_left = await asyncio.wait(
                    inflight,
                    timeout=0.05 if room > 0 and jobs else self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if done and inflight_left:
                    # Outcomes landing within a few milliseconds share one record.
                    more, inflight_left = await asyncio.wait(inflight_left, timeout=0.005)
                    done |= more
                inflight = set(inflight_left)
                if done:
                    await self._record(done)
        finally:
            # Let what is in flight finish (its outcome is recorded); what does not
            # finish in time keeps its lease and is retried after it.
            if inflight:
                done, pending = await asyncio.wait(inflight, timeout=10)
                for task in pending:
                    task.cancel()
                await self._record(done)

    async def drain(self) -> int:
        """Send every due delivery now (tests, ``entraide`` maintenance); returns the count."""
        client = self.client_factory()
        total = 0
        while jobs := await claim(
            self.db, self.worker_id, batch=self.batch, lease_seconds=self.lease_seconds
        ):
            tasks = [asyncio.create_task(self._send(client, job)) for job in jobs]
            await asyncio.wait(tasks)
            await self._record(tasks)
            total += len(jobs)
        return total
