"""Delivering the queue: each POST signed by the activity's actor, outside any
transaction, with bounded concurrency overall and per host (:class:`DeliveryWorker`).

The queue itself — enqueueing in the caller's transaction, leases, domain health,
recording outcomes — is ``federation.delivery_queue``; its names are importable
from here too.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

import httpx

from config.database import Database
from federation.delivery_queue import (
    Job,
    Outcome,
    claim,
    enqueue,
    ensure_health,
    record,
    record_and_claim,
    release,
    release_stale_leases,
    revive,
    revive_any,
)
from federation.errors import FederationError
from federation.httpx_internals import transport_of
from federation.poster import Poster
from federation.signatures import sign_request

ACTIVITY_JSON = "application/activity+json"


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
    return _outcome(job, response.status_code, response.headers.get("Retry-After"))


async def post(poster: Poster, job: Job, time_limit: float = 30.0) -> Outcome:
    """:func:`send` through the lean client of ``federation.poster`` (same signature
    headers, same guards, same outcomes); never raises."""
    headers = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON}
    try:
        async with asyncio.timeout(time_limit):
            url = httpx.URL(job.inbox_url)
            signed = sign_request("POST", url, headers, job.body, job.key)
            del signed["Host"]  # the poster writes it, from the same URL
            answer = await poster.post(url, job.body, headers | signed)
    except TimeoutError:
        return Outcome(job, None, f"no answer within {time_limit:g} s")
    except FederationError as exc:  # refused by the SSRF guard: will not get better
        return Outcome(job, 0, exc.message)
    except httpx.InvalidURL as exc:
        return Outcome(job, 0, f"invalid inbox URL: {exc}"[:500])
    except (httpx.HTTPError, OSError) as exc:
        return Outcome(job, None, f"{type(exc).__name__}: {exc}"[:500])
    return _outcome(job, answer.status, answer.retry_after)


def _outcome(job: Job, status: int, retry_after: str | None) -> Outcome:
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(job, status, error, retry_after)


class DeliveryWorker:
    """Claims due deliveries and sends them, keeping ``concurrency`` POSTs in flight."""

    def __init__(
        self,
        db: Database,
        client_factory: Callable[[], httpx.AsyncClient],
        *,
        client_for: Callable[[str], httpx.AsyncClient] | None = None,
        poster: Poster | None = None,
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
        self.poster = poster
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
        if self.poster is not None:
            async with self._hosts[job.domain]:
                return await post(self.poster, job)
        if self.client_for is not None:
            client = self.client_for(job.domain)
        async with self._hosts[job.domain]:
            return await send(client, job)

    async def _record(
        self, done: Iterable[asyncio.Task[Outcome]], claim_next: int = 0
    ) -> list[Job]:
        """Record the outcomes of ``done``; with ``claim_next``, claim that many more
        deliveries in the same transaction when it can (``record_and_claim``)."""
        outcomes = [task.result() for task in done if not task.cancelled()]
        claimed: list[Job] = []
        if claim_next:
            claimed = await record_and_claim(
                self.db,
                outcomes,
                self.worker_id,
                batch=claim_next,
                lease_seconds=self.lease_seconds,
            )
        else:
            await record(self.db, outcomes)
        if self.on_outcome:
            for outcome in outcomes:
                self.on_outcome(outcome)
        return claimed

    async def run(self, stopping: asyncio.Event, idle: Callable[[float], Awaitable[None]]) -> None:
        """Deliver until ``stopping`` is set; ``idle(seconds)`` waits for new work."""
        client = self.client_factory()
        inflight: set[asyncio.Task[Outcome]] = set()
        # Claim when a quarter of the slots are free (or nothing is in flight), not for
        # every single free slot: one claim and one record transaction serve many jobs.
        # When a batch of outcomes leaves that much room, the next claim is made in the
        # same transaction as their record (``claimed``).
        threshold = max(1, min(self.batch, self.concurrency // 4))
        claimed: list[Job] | None = None
        try:
            while not stopping.is_set():
                room = self.concurrency - len(inflight)
                jobs: list[Job] = []
                if claimed is not None:
                    jobs, claimed = claimed, None
                elif room >= threshold or not inflight:
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
                    room = self.concurrency - len(inflight)
                    if room >= threshold and not stopping.is_set():
                        claimed = await self._record(done, min(room, self.batch))
                    else:
                        await self._record(done)
        finally:
            if claimed:  # claimed with the last outcomes, never started: free them now
                await release(self.db, claimed, self.worker_id)
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


__all__ = [
    "ACTIVITY_JSON",
    "REPLY_BYTES",
    "DeliveryWorker",
    "Job",
    "Outcome",
    "claim",
    "enqueue",
    "ensure_health",
    "post",
    "record",
    "record_and_claim",
    "release",
    "release_stale_leases",
    "revive",
    "revive_any",
    "send",
]
