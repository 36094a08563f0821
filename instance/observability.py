"""Health, readiness, metrics and request ids.

* ``GET /healthz`` — 200 while the process runs (nothing else is checked).
* ``GET /readyz`` — 200 when the database answers and its schema is at the
  head revision, 503 with the reason otherwise; it recovers by itself when the
  database comes back (the engine reconnects; nothing is cached).
* ``GET /metrics`` — Prometheus text (prometheus-client), only when
  ``metrics.enabled``; with ``metrics.token`` set it also needs
  ``Authorization: Bearer TOKEN``. Counters: requests by route, method and
  status, inbox accepted/refused by reason, inbox processing and deliveries
  by outcome; ``entraide_processes`` counts the live processes by role
  (``web``, ``worker``). Gauges read from the database at scrape time:
  delivery queue depth, retry backlog per domain, listings by origin and
  status, inbox backlog.
* Several processes, one answer: every process of a node counts into files of
  ``DATA_DIR/metrics`` that a scrape adds up (``instance.shared_metrics``).
* Every label takes a bounded set of values (L9, SECURITY.md): the HTTP
  method is one of :data:`METHODS` or ``other``, the route is the URL
  template (``unmatched`` when none), the activity type is one of
  :data:`ACTIVITY_TYPES` or ``other``, the inbox's refusal reason is one of
  our error codes or ``other``: what a client sends cannot grow ``/metrics``.
* Every request gets an id: a sane incoming ``X-Request-ID`` is kept,
  otherwise one is made; it is echoed in the response and attached to every
  log record written while the request is handled.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import time
import uuid
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from quart import Quart, Response, g, jsonify, request
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from domain.models import Listing
from federation.models import Delivery, DomainHealth, InboxItem
from instance.api_errors import ApiError
from instance.health import database_name, schema_is_current_on
from instance.node import Node
from instance.outage import database_trouble, requests_log
from instance.shared_metrics import (
    HEARTBEAT,
    HEARTBEAT_LOST,
    METRICS_DIR,
    MULTIPROC_ENV,
    forget_dead_processes,
    heartbeat,
    process_ended,
    process_identifier,
    share_metrics,
    shared_metrics_dir,
    use_shared_values,
)

__all__ = [  # with the names of instance.shared_metrics, for their users
    "ACTIVITY_TYPES",
    "HEARTBEAT",
    "HEARTBEAT_LOST",
    "METHODS",
    "METRICS_DIR",
    "MULTIPROC_ENV",
    "REQUEST_ID",
    "Metrics",
    "RequestIdFilter",
    "forget_dead_processes",
    "heartbeat",
    "init_observability",
    "process_ended",
    "process_identifier",
    "refusal_reason",
    "request_labels",
    "share_metrics",
    "shared_metrics_dir",
]

log = logging.getLogger(__name__)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
INBOX_PATH = re.compile(r"^(/inbox|/actors/[^/]+/inbox)$")
READY_TIMEOUT = 5.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The activity types of ActivityStreams 2.0 (https://www.w3.org/TR/activitystreams-vocabulary/
# #activity-types); anything else a remote server sends is counted as "other".
ACTIVITY_TYPES = frozenset(
    {
        "Accept", "Add", "Announce", "Arrive", "Block", "Create", "Delete", "Dislike",
        "Flag", "Follow", "Ignore", "Invite", "Join", "Leave", "Like", "Listen", "Move",
        "Offer", "Question", "Reject", "Read", "Remove", "TentativeReject",
        "TentativeAccept", "Travel", "Undo", "Update", "View",
    }
)  # fmt: skip
_ERROR_CODE = re.compile(r"^[a-z][a-z_]{0,39}$")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class Metrics:
    """The metrics of one app (its own registry, so several apps can live in one process).

    In a process that shares its metrics (:func:`share_metrics`), a scrape reads
    every process's files instead of this registry.
    """

    def __init__(self, node: Node) -> None:
        self.shared_dir = shared_metrics_dir()
        if self.shared_dir is not None:
            use_shared_values()
            # Alive before its first file is written: another container's scrape must
            # not take it for gone in between.
            (self.shared_dir / f"alive_{process_identifier()}").touch()
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "entraide_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "entraide_http_request_duration_seconds",
            "HTTP request duration",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.inbox = Counter(
            "entraide_inbox_requests_total",
            "Inbox POSTs by outcome and reason",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.processed = Counter(
            "entraide_inbox_processed_total",
            "Stored activities processed, by type and state",
            ["type", "state"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "entraide_deliveries_total",
            "Delivery attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.processes = Gauge(
            "entraide_processes",
            "Live processes of the node, by role (web, worker)",
            ["role"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.role: str | None = None
        self.gauges = _DatabaseGauges(node)
        self.registry.register(self.gauges)

    def set_role(self, role: str) -> None:
        """Count this process as a ``web`` or ``worker`` process."""
        if self.role is not None:
            self.processes.labels(self.role).set(0)
        self.role = role
        self.processes.labels(role).set(1)

    def delivery_outcome(self, outcome: Any) -> None:
        if outcome.ok:
            self.deliveries.labels("delivered").inc()
        elif outcome.status is None or outcome.status >= 500 or outcome.status in (401, 408, 429):
            self.deliveries.labels("failed_retryable").inc()
        else:
            self.deliveries.labels("failed_permanent").inc()

    def inbox_outcome(self, activity_type: str, state: str) -> None:
        kind = activity_type if activity_type in ACTIVITY_TYPES else "other"
        self.processed.labels(kind, state if _ERROR_CODE.match(state) else "other").inc()

    def exposition(self) -> bytes:
        """The text of a scrape: every process's counters when they are shared."""
        if self.shared_dir is None:
            return bytes(generate_latest(self.registry))
        forget_dead_processes(self.shared_dir, everything=False)
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, str(self.shared_dir))  # type: ignore[no-untyped-call]
        registry.register(self.gauges)
        return bytes(generate_latest(registry))


def request_labels(method: str, route: str | None, status: int) -> tuple[str, str, str]:
    """Bounded label values of one request (L9): a client sends any method and path."""
    return (
        route if route is not None else "unmatched",
        method if method in METHODS else "other",
        str(status) if 100 <= status <= 599 else "other",
    )


def refusal_reason(error: Any, status: int) -> str:
    """An inbox refusal's label: our error code, else the status."""
    if isinstance(error, str) and _ERROR_CODE.match(error):
        return error
    return str(status) if 100 <= status <= 599 else "other"


class _DatabaseGauges(Collector):
    """Gauges read from the database when Prometheus scrapes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.values: list[GaugeMetricFamily] = []

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> list[GaugeMetricFamily]:
        return self.values

    async def refresh(self) -> None:
        queue = GaugeMetricFamily("entraide_delivery_queue_depth", "Deliveries waiting")
        backlog = GaugeMetricFamily(
            "entraide_delivery_retry_backlog",
            "Deliveries waiting after a failure, by domain",
            labels=["domain"],
        )
        unavailable = GaugeMetricFamily(
            "entraide_domains_unavailable", "Remote domains marked unavailable"
        )
        inbox = GaugeMetricFamily("entraide_inbox_backlog", "Received activities not processed")
        listings = GaugeMetricFamily(
            "entraide_listings", "Listings by origin and status", labels=["origin", "status"]
        )
        async with self.node.db.session() as session:
            queue.add_metric(
                [],
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
                )
                or 0,
            )
            rows = await session.execute(
                select(Delivery.domain, func.count())
                .where(Delivery.state == "pending", Delivery.tries > 0)
                .group_by(Delivery.domain)
            )
            for domain, count in rows.all():
                backlog.add_metric([domain], count)
            unavailable.add_metric(
                [],
                await session.scalar(
                    select(func.count())
                    .select_from(DomainHealth)
                    .where(DomainHealth.unavailable_since.is_not(None))
                )
                or 0,
            )
            inbox.add_metric(
                [],
                await session.scalar(
                    select(func.count()).select_from(InboxItem).where(InboxItem.state == "pending")
                )
                or 0,
            )
            by_status = await session.execute(
                select(Listing.local, Listing.status, func.count()).group_by(
                    Listing.local, Listing.status
                )
            )
            for local, status, count in by_status.all():
                listings.add_metric(["local" if local else "remote", status], count)
        self.values = [queue, backlog, unavailable, inbox, listings]


def init_observability(app: Quart, node: Node) -> None:
    metrics = Metrics(node)
    node.metrics = metrics
    metrics.set_role("web")
    beating: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    @app.before_serving
    async def _beat() -> None:
        if metrics.shared_dir is not None:
            stop = asyncio.Event()
            beating.append((stop, asyncio.create_task(heartbeat(metrics.shared_dir, stop))))

    @app.after_serving
    async def _still() -> None:
        for stop, task in beating:
            stop.set()
            await task
        beating.clear()

    logging.getLogger().addFilter(RequestIdFilter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())

    @app.before_request
    async def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = request_id
        g.request_token = REQUEST_ID.set(request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    async def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        rule = request.url_rule.rule if request.url_rule is not None else None
        route, method, status = request_labels(request.method, rule, response.status_code)
        metrics.requests.labels(route, method, status).inc()
        started = g.get("request_started")
        if started is not None:
            metrics.latency.labels(route).observe(time.perf_counter() - started)
        if request.method == "POST" and INBOX_PATH.match(request.path):
            if response.status_code == 202:
                metrics.inbox.labels("accepted", "").inc()
            else:
                error = None
                if response.content_type and "json" in response.content_type:
                    body = await response.get_json(silent=True)
                    if isinstance(body, dict):
                        error = body.get("error")
                metrics.inbox.labels("refused", refusal_reason(error, response.status_code)).inc()
        return response

    @app.teardown_request
    async def _forget(_exc: BaseException | None) -> None:
        token = g.get("request_token")
        if token is not None:
            REQUEST_ID.reset(token)

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok", "pid": os.getpid()})

    @app.get("/readyz")
    async def readyz() -> Any:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                async with node.db.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                current = await schema_is_current_on(node.db.engine)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            trouble = database_trouble(exc) or "unreachable"
            if isinstance(exc, TimeoutError) and database_trouble(exc) is None:
                trouble = "too slow"  # no answer within READY_TIMEOUT
            where = database_name(node.db.url)
            # Its own topic: a monitor's probe does not silence the lines about requests.
            requests_log().warn(trouble, exc, f"/readyz, {where}", topic="readyz")
            return jsonify(
                {"status": "unavailable", "reason": f"database {trouble} ({where})"}
            ), 503
        if not current:
            return jsonify(
                {"status": "unavailable", "reason": "migrations pending: run entraide db upgrade"}
            ), 503
        return jsonify({"status": "ok"})

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        settings = node.settings.metrics
        if not settings.enabled:
            raise ApiError(404, "metrics are disabled (metrics.enabled)")
        if settings.token:
            header = request.headers.get("Authorization", "")
            if header != f"Bearer {settings.token}":
                raise ApiError(
                    401, "a metrics token is required", headers={"WWW-Authenticate": "Bearer"}
                )
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await metrics.gauges.refresh()
        except (SQLAlchemyError, OSError, TimeoutError):
            # Counters are worth serving while the database is away; its gauges are not.
            metrics.gauges.values = []
        return Response(
            metrics.exposition(), content_type="text/plain; version=0.0.4; charset=utf-8"
        )
