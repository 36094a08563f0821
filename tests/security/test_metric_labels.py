"""Metric labels flooded with values a client chooses (L9): ``/metrics`` stays bounded.

With metrics on, every request is counted by route, method and status. A
client choosing the method (``FOOBAR /x``) or the path, or a remote server
choosing the ``type`` of the activities it delivers, must not add a series
per value: each series lives in the process for good, so 3,000 random
methods used to add 700 kB to every scrape and 11 MB to the process. Every
label takes a bounded set of values: a known method or ``other``, the route
template (``unmatched`` when no route matches), a known activity type or
``other``, one of our error codes or ``other``.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

from instance.observability import ACTIVITY_TYPES, METHODS
from tests.databases import DatabaseTemplates
from tests.support import make_settings, running_node

FLOOD = 3_000


def series(body: str, name: str) -> list[str]:
    return re.findall(rf"^{name}\{{[^}}]*\}}", body, re.MULTILINE)


async def test_metrics_label_flood_with_random_methods_and_paths_is_bounded(
    tmp_path: Path, templates: DatabaseTemplates
) -> None:
    """3,000 requests, each with a random method on a random path (or a real route):
    the requests counter gains at most a handful of series, all with bounded values."""
    url = templates.sqlite_url(tmp_path)  # the defence touches no SQL: one backend
    settings = make_settings(tmp_path / "m", url, metrics={"enabled": True})
    rng = random.Random(9)
    async with running_node(settings) as node:
        client = node.client()
        before = (await (await client.get("/metrics")).get_data()).decode()
        for i in range(FLOOD):
            method = "".join(rng.choices(string.ascii_uppercase, k=8))
            path = f"/{rng.randrange(10**9)}" if i % 2 else "/api/v1/instance"
            response = await client.open(path, method=method)
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
        after = (await (await client.get("/metrics")).get_data()).decode()
    requests = series(after, "entraide_http_requests_total")
    methods = {re.search(r'method="([^"]*)"', s)[1] for s in requests}  # type: ignore[index]
    routes = {re.search(r'route="([^"]*)"', s)[1] for s in requests}  # type: ignore[index]
    assert methods <= METHODS | {"other"}, methods
    assert "other" in methods
    assert routes <= {"/metrics", "/api/v1/instance", "unmatched"}, routes
    assert len(requests) <= 6, requests
    assert len(after) - len(before) < 4_000, len(after) - len(before)


def test_activity_types_and_reasons_a_remote_server_chooses_are_bounded() -> None:
    """Random activity types and refusal codes count as ``other``."""
    from instance.observability import Metrics, refusal_reason

    metrics = Metrics(node=None)  # type: ignore[arg-type]  # no database gauges read here
    rng = random.Random(3)
    for _ in range(FLOOD):
        kind = "".join(rng.choices(string.ascii_letters, k=12))
        metrics.inbox_outcome(kind, "done")
    metrics.inbox_outcome("Create", "done")
    labels = {
        sample.labels["type"] for metric in metrics.processed.collect() for sample in metric.samples
    }
    assert labels == {"other", "Create"}
    assert {"Create", "Follow", "Undo", "Announce", "Delete", "Update"} <= ACTIVITY_TYPES
    assert refusal_reason("signature_invalid", 401) == "signature_invalid"
    assert refusal_reason("<script>" * 10, 400) == "400"
    assert refusal_reason(None, 999) == "other"
