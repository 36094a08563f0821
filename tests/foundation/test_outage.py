"""A database that is down or too slow: 503 in the documented shape, no 500, no traceback.

In process: a node whose PostgreSQL refuses connections (nothing listens on
its port), and a node whose statements wait on a lock held by another
connection past ``database.statement_timeout_seconds``. The end-to-end drill
(PostgreSQL stopped and started under a running ``serve --workers 2``) is in
``tests/e2e/test_supervision.py``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from instance import create_app
from instance.outage import LOG_EVERY, OutageLog, database_trouble
from tests.databases import DatabaseTemplates, free_port
from tests.support import make_settings, running_node

pytestmark = pytest.mark.dialect  # driver errors


def no_traceback(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The warnings logged; fails on any record with a traceback or above WARNING."""
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert not [r for r in caplog.records if r.levelno > logging.WARNING]
    return [r for r in caplog.records if r.levelno == logging.WARNING]


async def test_unreachable_database_answers_503_then_a_short_page(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The API and federation answer 503 {"error": "unavailable"} with Retry-After, pages a
    short page in their language, /readyz names the database; one warning line for all."""
    url = f"postgresql+asyncpg://entraide@127.0.0.1:{free_port()}/gone"
    app = create_app(make_settings(tmp_path / "n", url), run_workers=False)
    caplog.set_level(logging.INFO)
    async with app.test_app():
        client = app.test_client()
        for path in ("/api/v1/instance", "/api/v1/listings", "/.well-known/nodeinfo"):
            response = await client.get(path)
            if path == "/.well-known/nodeinfo":  # needs no database: still served
                assert response.status_code == 200
                continue
            assert response.status_code == 503, (path, await response.get_data())
            body = await response.get_json()
            assert body["error"] == "unavailable"
            assert "database" in body["message"]
            assert response.headers["Retry-After"] == "10"
        english = await client.get("/", headers={"Accept-Language": "en"})
        assert english.status_code == 503
        page = (await english.get_data()).decode()
        assert '<html lang="en">' in page and "Service temporarily unavailable" in page
        french = await client.get("/search?q=bois", headers={"Accept-Language": "fr"})
        assert french.status_code == 503
        page = (await french.get_data()).decode()
        assert '<html lang="fr">' in page and "Service momentanément indisponible" in page
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        reason = (await ready.get_json())["reason"]
        assert reason.startswith("database unreachable (postgresql database gone on 127.0.0.1")
    warnings = no_traceback(caplog)
    requests = [r.getMessage() for r in warnings if "/readyz" not in r.getMessage()]
    assert len(requests) == 1, requests
    assert requests[0].startswith(
        "database unreachable (GET /api/v1/instance, postgresql database gone on 127.0.0.1:"
    )
    readiness = [r.getMessage() for r in warnings if "/readyz" in r.getMessage()]
    assert readiness and "postgresql database gone on 127.0.0.1" in readiness[0]


async def test_slow_database_answers_503_within_the_statement_timeout(
    templates: DatabaseTemplates, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement held up (here by a lock another connection keeps) is cancelled after
    database.statement_timeout_seconds: 503 "too slow", then 200 once the lock goes."""
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    import asyncpg

    url = templates.postgres_url()
    settings = make_settings(tmp_path / "n", url, database={"statement_timeout_seconds": 0.5})
    caplog.set_level(logging.INFO)
    async with running_node(settings) as node:
        client = node.client()
        assert (await client.get("/api/v1/instance")).status_code == 200
        database = url.rsplit("/", 1)[1]
        locker = await asyncpg.connect(
            host="127.0.0.1", port=templates.cluster.port, user="entraide", database=database
        )
        try:
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("LOCK TABLE actors IN ACCESS EXCLUSIVE MODE")
            started = asyncio.get_running_loop().time()
            response = await client.get("/api/v1/instance")
            waited = asyncio.get_running_loop().time() - started
            await transaction.rollback()
        finally:
            await locker.close()
        assert response.status_code == 503, await response.get_data()
        body = await response.get_json()
        assert body == {
            "error": "unavailable",
            "message": "the database is too slow to answer; try again in a moment",
        }
        assert waited < 5, waited
        assert (await client.get("/api/v1/instance")).status_code == 200
    assert any("database too slow" in r.getMessage() for r in no_traceback(caplog))


def test_what_counts_as_database_trouble() -> None:
    """Refusals and timeouts met inside the driver count; a bug's error does not."""

    wrapped = OperationalError("SELECT 1", {}, Exception("database is locked"))
    assert database_trouble(wrapped) == "too slow"
    assert database_trouble(ValueError("bug")) is None
    assert database_trouble(ConnectionRefusedError("not from a driver")) is None
    outer = RuntimeError("outer")
    outer.__cause__ = OperationalError("x", {}, Exception("unable to open database file"))
    assert database_trouble(outer) == "unreachable"


def test_outage_log_says_one_line_per_period(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    outage = OutageLog()
    for _ in range(50):
        outage.warn("unreachable", ConnectionRefusedError("refused"), "GET /")
    assert len(caplog.records) == 1
    outage.last[" unreachable"] -= LOG_EVERY
    outage.warn("unreachable", ConnectionRefusedError("refused"), "GET /")
    assert "49 more times since the last line" in caplog.records[-1].getMessage()
