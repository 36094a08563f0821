"""Floods: one address hammering the inboxes, one stolen API token hammering the API.

A node on SQLite (the limits live in the process's memory, not in the
database) with small budgets: ``ratelimit.inbox_per_minute`` and
``ratelimit.api_per_minute`` of 3, and a per-domain inbox budget high enough
never to answer, so that the rule under test is the one that does. The
network's remote servers all reach the node from one client address, as a
single attacking machine would; other addresses are other clients.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.databases import DatabaseTemplates
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import (
    create,
    deliver,
    inbox_count,
    note,
    rsa_key,
    signed_headers,
)
from tests.support import TestNode

BUDGET = 3
TARGET = "a.test"


@pytest_asyncio.fixture
async def flooded(
    templates: DatabaseTemplates, tmp_path: Path
) -> AsyncIterator[tuple[FediNet, TestNode]]:
    limits = {
        "enabled": True,
        "inbox_per_minute": BUDGET,
        "inbox_per_domain_per_minute": 1000,
        "api_per_minute": BUDGET,
    }
    async with network(
        tmp_path, lambda: templates.sqlite_url(tmp_path), [TARGET], ratelimit=limits
    ) as (net, (a,)):
        yield net, a


def assert_limited(status: int, body: Any, headers: Any) -> None:
    assert status == 429, (status, body)
    assert body["error"] == "rate_limited", body
    assert int(headers["Retry-After"]) >= 1


async def test_inbox_flood_from_one_address_is_rate_limited(
    flooded: tuple[FediNet, TestNode],
) -> None:
    """Attack: one machine floods the inboxes, spreading its activities over several domains
    (each signing with a valid key of its own, so no per-domain budget fills) and over the
    shared and a personal inbox. Past the per-address budget, every POST from that address
    is answered 429 with Retry-After — signed or not, at either inbox — before its signature
    is checked (the new sender's key is never fetched) and nothing more is stored. A server
    at another address is still accepted."""
    net, node = flooded
    senders = [FakeActor(f"https://s{n}.flood.test/users/x", rsa_key(51 + n)) for n in range(4)]
    net.hooks.extend(senders)
    inboxes = [f"https://{TARGET}/inbox", f"https://{TARGET}/actors/territory/inbox"]
    for n, sender in enumerate(senders[:BUDGET]):
        activity = create(sender.uri, note(sender.uri))
        response = await deliver(net, inboxes[n % 2], activity, sender.signing_key)
        assert response.status_code == 202, response.text

    stored = await inbox_count(node)
    late = senders[BUDGET]
    for url in inboxes:
        response = await deliver(net, url, create(late.uri, note(late.uri)), late.signing_key)
        assert_limited(response.status_code, response.json(), response.headers)
    junk = await net.post(inboxes[0], b'{"type": "Follow"}', {"Content-Type": "application/json"})
    assert_limited(junk.status_code, junk.json(), junk.headers)
    assert net.sent("GET", late.host) == []  # refused before its key was looked up
    assert await inbox_count(node) == stored

    # Another server, at another address, is not held back by the flood.
    activity = create(late.uri, note(late.uri))
    body = json.dumps(activity).encode()
    response = await node.client().post(
        "/inbox",
        data=body,
        headers=signed_headers(inboxes[0], body, late.signing_key),
        scope_base={"client": ("198.51.100.20", 4000)},
    )
    assert response.status_code == 202, await response.get_data()
    assert await inbox_count(node) == stored + 1


async def _call(
    node: TestNode, path: str, token: str, ip: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    response = await node.client().get(
        path,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        scope_base={"client": (ip, 40000)},
    )
    return response.status_code, json.loads(await response.get_data()), response.headers


async def test_api_calls_in_bulk_with_a_stolen_token_are_rate_limited(
    flooded: tuple[FediNet, TestNode],
) -> None:
    """Attack: a script holding a member's stolen (or carelessly published) token hammers
    the API from several addresses, writing a new ``X-Forwarded-For`` each time and moving
    from one endpoint to the next, to escape a per-address or per-route limit. The budget
    belongs to the token: past ``api_per_minute`` calls every call with it is 429 with
    Retry-After, from any address; another member's token from the same addresses, and an
    anonymous reader, are still served."""
    _, node = flooded
    await node.structure("menuiserie", owner="m@a.example")
    stolen = await node.token("m@a.example")
    other = await node.token("f@a.example")
    paths = ["/api/v1/categories", "/api/v1/listings", "/api/v1/instance"]
    for n in range(BUDGET):
        status, body, _ = await _call(
            node, paths[n], stolen, f"10.0.0.{n + 1}", {"X-Forwarded-For": f"192.0.2.{n}"}
        )
        assert status == 200, body
    for ip, path in (("10.0.0.9", paths[0]), ("10.0.0.10", "/api/v1/listings?q=bois")):
        assert_limited(*await _call(node, path, stolen, ip, {"X-Forwarded-For": "192.0.2.99"}))

    status, body, _ = await _call(node, paths[0], other, "10.0.0.9")
    assert status == 200, body
    response = await node.client().get(paths[0], scope_base={"client": ("10.0.0.9", 40000)})
    assert response.status_code == 200
