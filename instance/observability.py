"""Health, readiness, metrics and request ids.

* ``GET /healthz`` — 200 while the process runs (nothing else is checked).
* ``GET /readyz`` — 200 when the database answers and its schema is at the
  head revision, 503 with the reason otherwise; it recovers by itself when the
  database comes back (the engine reconnects; nothing is cached).
* ``GET /metrics`` — Prometheus text (prometheus-client), only when
  ``metrics.enabled``; with ``metrics.token`` set it also needs
  ``Authorization: Bearer TOKEN``. Counters are per process (requests by route
  and status, inbox accepted/refused by reason, inbox processing and
  deliveries by outcome); gauges are read from the database at scrape time, so
  they are the same whichever process answers (delivery queue depth, retry
  backlog per domain, listings by origin and status, inbox backlog).
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

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from quart import Quart, Response, g, jsonify, request
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from domain.models import Listing
from federation.models import Delivery, DomainHealth, InboxItem
from instance.errors import ApiError
from instance.health import schema_is_current_on
from instance.node import Node

log = logging.getLogger(__name__)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
INBOX_PATH = re.compile(r"^(/inbox|/actors/[^/]+/inbox)$")
READY_TIMEOUT = 5.0


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class Metrics:
    """The metrics of one app (its own registry, so several apps can live in one process)."""

    def __init__(self, node: Node) -> None:
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
        self.gauges = _DatabaseGauges(node)
        self.registry.register(self.gauges)

    def delivery_outcome(self, outcome: Any) -> None:
        if outcome.ok:
            self.deliveries.labels("delivered").inc()
        elif outcome.status is None or outcome.status >= 500 or outcome.status in (401, 408, 429):
            self.deliveries.labels("failed_retryable").inc()
        else:
            self.deliveries.labels("failed_permanent").inc()

    def inbox_outcome(self, activity_type: str, state: str) -> None:
        self.processed.labels(activity_type[:32], state).inc()


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
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            metrics.latency.labels(route).observe(time.perf_counter() - started)
        if request.method == "POST" and INBOX_PATH.match(request.path):
            if response.status_code == 202:
                metrics.inbox.labels("accepted", "").inc()
            else:
                reason = str(response.status_code)
                if response.content_type and "json" in response.content_type:
                    body = await response.get_json(silent=True)
                    if isinstance(body, dict) and isinstance(body.get("error"), str):
                        reason = body["error"][:40]
                metrics.inbox.labels("refused", reason).inc()
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
            log.warning("not ready: %s", exc)
            return jsonify({"status": "unavailable", "reason": "database unreachable"}), 503
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
        await metrics.gauges.refresh()
        return Response(
            generate_latest(metrics.registry),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )
