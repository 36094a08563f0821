"""Health, readiness, metrics and request ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import settings_from_dict
from instance import create_app
from tests.support import TestNode, make_settings, running_node

pytestmark = pytest.mark.dialect  # readiness names the database


async def test_healthz_and_readyz(node: TestNode) -> None:
    assert (await node.client().get("/healthz")).status_code == 200
    response = await node.client().get("/readyz")
    assert response.status_code == 200
    assert (await response.get_json())["status"] == "ok"


async def test_readyz_fails_when_the_database_is_missing(tmp_path: Path) -> None:
    """A node whose database does not exist (or has no schema) is not ready: 503."""
    settings = settings_from_dict(
        {
            "instance": {"domain": "x.test", "name": "X"},
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/empty.db"},
            "web": {"secret_key": "k"},
        },
        tmp_path,
    )
    app = create_app(settings, run_workers=False)
    async with app.test_app():
        response = await app.test_client().get("/readyz")
        assert response.status_code == 503
        assert "migrations" in (await response.get_json())["reason"]


async def test_metrics_disabled_enabled_and_protected(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "m", db_url, metrics={"enabled": True, "token": "s3cret"})
    async with running_node(settings) as node:
        client = node.client()
        await client.get("/api/v1/instance")
        assert (await client.get("/metrics")).status_code == 401
        response = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200
        body = (await response.get_data()).decode()
        assert (
            'entraide_http_requests_total{method="GET",route="/api/v1/instance",status="200"}'
            in body
        )
        assert "entraide_delivery_queue_depth 0.0" in body
        assert "entraide_inbox_backlog 0.0" in body
    response = (
        await TestNode(create_app(make_settings(tmp_path / "d", db_url)), settings)
        .client()
        .get("/metrics")
    )
    assert response.status_code == 404


async def test_request_id_is_echoed_or_made(node: TestNode) -> None:
    response = await node.client().get("/healthz", headers={"X-Request-ID": "abc12345-req"})
    assert response.headers["X-Request-ID"] == "abc12345-req"
    response = await node.client().get("/healthz", headers={"X-Request-ID": "bad id!"})
    assert response.headers["X-Request-ID"] != "bad id!"
    assert len(response.headers["X-Request-ID"]) == 32


def test_shared_metric_files_of_processes_that_are_gone_are_dropped(tmp_path: Path) -> None:
    """Processes sharing DATA_DIR/metrics: one of this host is gone when its pid is; one of
    another container (another host name, another pid namespace) when its heartbeat file
    is missing or a minute old. Live gauges of those go at a scrape, every file of theirs
    when serve starts; counters of running processes stay."""
    import os
    import time

    from instance.shared_metrics import HEARTBEAT_LOST, forget_dead_processes, host_name

    me, dead = f"{host_name()}-{os.getpid()}", f"{host_name()}-999999999"
    names = []
    for who in (me, dead, "other-7", "other-8", "other-9"):
        names += [f"counter_{who}.db", f"gauge_livesum_{who}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    for who in ("other-7", "other-8"):
        (tmp_path / f"alive_{who}").touch()
    stale = time.time() - HEARTBEAT_LOST - 5
    os.utime(tmp_path / "alive_other-8", (stale, stale))

    forget_dead_processes(tmp_path, everything=False)
    left = {p.name for p in tmp_path.iterdir()}
    assert {f"gauge_livesum_{w}.db" for w in (dead, "other-8", "other-9")}.isdisjoint(left)
    assert {f"gauge_livesum_{me}.db", "gauge_livesum_other-7.db"} <= left
    assert {f"counter_{w}.db" for w in (me, dead, "other-7", "other-8", "other-9")} <= left

    forget_dead_processes(tmp_path, everything=True)
    assert {p.name for p in tmp_path.iterdir()} == {
        f"counter_{me}.db",
        f"gauge_livesum_{me}.db",
        "counter_other-7.db",
        "gauge_livesum_other-7.db",
        "alive_other-7",
    }
