"""Rate limits (docs/interface.md: 429 with Retry-After; ``ratelimit.*`` settings).

Limits are kept in the process and do not depend on the database, so these
tests run on SQLite only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from instance.ratelimits import ExpiringMemoryStore
from tests.api.helpers import OWNER, assert_error
from tests.databases import DatabaseTemplates
from tests.support import TestNode, make_settings, running_node

LIMIT = 3


@pytest.fixture
def limits() -> dict[str, Any]:
    """The ratelimit section of the node under test (tests may change it before use)."""
    return {
        "enabled": True,
        "api_per_minute": LIMIT,
        "login_per_minute": 2,
        "signup_per_hour": 2,
        "inbox_per_minute": LIMIT,
    }


@pytest.fixture
def web() -> dict[str, Any]:
    return {}


@pytest.fixture
async def limited(
    templates: DatabaseTemplates, tmp_path: Path, limits: dict[str, Any], web: dict[str, Any]
) -> AsyncIterator[TestNode]:
    """A node on SQLite with small limits."""
    db_url = templates.sqlite_url(tmp_path)
    settings = make_settings(tmp_path / "a", db_url, ratelimit=limits, web=web)
    async with running_node(settings) as node:
        yield node


async def _get(
    node: TestNode,
    path: str = "/api/v1/categories",
    *,
    ip: str = "10.0.0.1",
    token: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> tuple[int, Any, Any]:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    response = await node.client().open(
        path, method=method, headers=sent, scope_base={"client": (ip, 40000)}, **kw
    )
    try:
        body = json.loads(await response.get_data())
    except ValueError:
        body = None
    return response.status_code, body, response.headers


async def test_api_limit_per_token(limited: TestNode) -> None:
    """The N+1-th call with one token in a minute is 429 with Retry-After; another token is not.

    The attack: a script with a stolen or careless token hammering the API
    (or the database behind it) for every other client.
    """
    first = await limited.token(OWNER)
    second = await limited.token("other@example.org")
    for _ in range(LIMIT):
        status, _, headers = await _get(limited, token=first)
        assert status == 200
        assert headers["RateLimit-Limit"] == str(LIMIT)
    status, body, headers = await _get(limited, token=first)
    assert_error(status, body, 429, "rate_limited")
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # Another token from the same address has its own budget.
    status, _, _ = await _get(limited, token=second)
    assert status == 200


async def test_api_budget_is_shared_by_all_endpoints(limited: TestNode) -> None:
    """Spreading calls over several endpoints does not multiply the budget."""
    token = await limited.token(OWNER)
    for path in ("/api/v1/categories", "/api/v1/instance", "/api/v1/listings")[:LIMIT]:
        status, _, _ = await _get(limited, path, token=token)
        assert status == 200
    status, body, _ = await _get(limited, "/api/v1/listings/1", token=token)
    assert_error(status, body, 429, "rate_limited")


async def test_api_limit_per_ip_without_token(limited: TestNode) -> None:
    """Anonymous reads are counted per client address; another address is not blocked."""
    for _ in range(LIMIT):
        assert (await _get(limited, ip="10.0.0.1"))[0] == 200
    status, body, headers = await _get(limited, ip="10.0.0.1")
    assert_error(status, body, 429, "rate_limited")
    assert "Retry-After" in headers
    assert (await _get(limited, ip="10.0.0.2"))[0] == 200


async def test_forwarded_for_is_not_believed_by_default(limited: TestNode) -> None:
    """A client cannot escape its limit by writing a new X-Forwarded-For on every request."""
    for n in range(LIMIT):
        status, _, _ = await _get(limited, headers={"X-Forwarded-For": f"192.0.2.{n}"})
        assert status == 200
    status, body, _ = await _get(limited, headers={"X-Forwarded-For": "192.0.2.200"})
    assert_error(status, body, 429, "rate_limited")


@pytest.mark.parametrize("web", [{"trusted_proxies": ["127.0.0.1"]}])
async def test_forwarded_for_from_a_trusted_proxy(limited: TestNode) -> None:
    """Behind a trusted reverse proxy, clients are told apart by X-Forwarded-For.

    Only the hop the proxy appended counts: a client writing its own
    X-Forwarded-For in front of it cannot pick its identity.
    """
    proxy = "127.0.0.1"
    for n in range(LIMIT):
        status, _, _ = await _get(
            limited, ip=proxy, headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"}
        )
        assert status == 200
    status, body, _ = await _get(limited, ip=proxy, headers={"X-Forwarded-For": "203.0.113.7"})
    assert_error(status, body, 429, "rate_limited")
    status, _, _ = await _get(limited, ip=proxy, headers={"X-Forwarded-For": "203.0.113.8"})
    assert status == 200


async def test_login_limit_per_ip(limited: TestNode) -> None:
    """Password guessing: the 3rd POST /login from one address in a minute is refused.

    Showing the form (GET) is not counted, and another address can still log in.
    """
    for _ in range(3):
        status, _, _ = await _get(limited, "/login", headers={"Accept": "text/html"})
        assert status == 200
    form = {"email": OWNER, "password": "wrong password"}
    for _ in range(2):
        status, _, _ = await _get(limited, "/login", method="POST", form=form)
        assert status != 429
    status, body, headers = await _get(limited, "/login", method="POST", form=form)
    assert_error(status, body, 429, "rate_limited")
    assert int(headers["Retry-After"]) >= 1
    status, _, _ = await _get(limited, "/login", method="POST", form=form, ip="10.0.0.9")
    assert status != 429


async def test_code_and_password_forms_share_the_login_budget(limited: TestNode) -> None:
    """Guessing a second-factor code or a current password spends the same budget as
    guessing a login's password: two tries in all, then 429."""
    status, _, _ = await _get(limited, "/login/code", method="POST", form={"code": "1"})
    assert status != 429
    status, _, _ = await _get(limited, "/account/password", method="POST", form={})
    assert status != 429
    for path in ("/login", "/login/code", "/account/password", "/account/two-factor/disable"):
        status, body, _ = await _get(limited, path, method="POST", form={"code": "1"})
        assert_error(status, body, 429, "rate_limited")


async def test_login_limit_answers_browsers_with_a_page(limited: TestNode) -> None:
    """A browser (Accept: text/html first) gets a page, still 429 with Retry-After."""
    form = {"email": OWNER, "password": "wrong password"}
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for _ in range(2):
        await _get(limited, "/login", method="POST", form=form, headers=browser)
    response = await limited.client().post(
        "/login", form=form, headers=browser, scope_base={"client": ("10.0.0.1", 1)}
    )
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("text/html")
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("limits", [{"enabled": True, "signup_per_hour": 2}])
async def test_signup_limit_per_ip(limited: TestNode) -> None:
    """Account creation in bulk from one address is stopped after signup_per_hour."""
    for n in range(2):
        form = {"email": f"new{n}@example.org", "password": "x"}
        status, _, _ = await _get(limited, "/signup", method="POST", form=form)
        assert status != 429
    status, body, _ = await _get(
        limited, "/signup", method="POST", form={"email": "new9@example.org"}
    )
    assert_error(status, body, 429, "rate_limited")


@pytest.mark.parametrize("path", ["/inbox", "/actors/territory/inbox"])
async def test_inbox_limit_per_remote_ip(limited: TestNode, path: str) -> None:
    """A remote server flooding the inboxes is slowed down per address, others are not."""
    activity = b'{"type": "Follow"}'
    headers = {"Content-Type": "application/activity+json"}
    for _ in range(LIMIT):
        status, _, _ = await _get(limited, path, method="POST", data=activity, headers=headers)
        assert status != 429
    status, body, headers_out = await _get(
        limited, path, method="POST", data=activity, headers=headers
    )
    assert_error(status, body, 429, "rate_limited")
    assert "Retry-After" in headers_out
    status, _, _ = await _get(
        limited, path, method="POST", data=activity, headers=headers, ip="10.0.0.3"
    )
    assert status != 429


@pytest.mark.parametrize("limits", [{"enabled": False, "api_per_minute": 1}])
async def test_disabled_by_setting(limited: TestNode) -> None:
    """ratelimit.enabled = false (load tests, benchmarks): never 429, whatever the budgets."""
    token = await limited.token(OWNER)
    for _ in range(10):
        assert (await _get(limited, token=token))[0] == 200
        assert (await _get(limited))[0] == 200


async def test_pages_and_feeds_are_not_limited(limited: TestNode) -> None:
    """Reading public pages is not counted against the API budget of the same address."""
    for _ in range(LIMIT + 2):
        status, _, _ = await _get(limited, "/", headers={"Accept": "text/html"})
        assert status == 200
    assert (await _get(limited))[0] == 200


async def test_expired_counters_are_dropped() -> None:
    """Made-up tokens, one per request, must not grow the counters without bound."""
    store = ExpiringMemoryStore(prune_every=0)
    now = datetime.now(UTC)
    for n in range(1000):
        await store.set(f"api:token:{n}", now - timedelta(seconds=1))
    await store.set("api:token:live", now + timedelta(seconds=30))
    assert len(store) == 1
    assert await store.get("api:token:live", now) > now
    assert await store.get("api:token:3", now) == now
