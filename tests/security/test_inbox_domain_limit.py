"""Inbox flood from one remote domain: a budget per domain, counted after the signature.

``ratelimit.inbox_per_domain_per_minute`` holds one remote server to one
budget however many addresses it sends from (here every sender shares the
network's one client address, and the per-IP budget is set high so that only
the per-domain rule can answer). The domain is counted only once its key has
verified the request: forged requests that *name* a peer's key cannot spend
that peer's budget.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from federation.keys import SigningKey
from tests.databases import DatabaseTemplates
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import deliver, inbox_count, new_id, note, rsa_key, signed_headers
from tests.support import TestNode

TARGET = "a.test"
BUDGET = 3


@dataclass
class Flood:
    net: FediNet
    node: TestNode
    loud: FakeActor  # a server that sends too much
    quiet: FakeActor  # another server, same client address
    victim: FakeActor  # whose key a forger names
    forger: FakeActor
    loud_port: FakeActor  # the same host, from another port


@pytest_asyncio.fixture
async def flood(templates: DatabaseTemplates, tmp_path: Path) -> AsyncIterator[Flood]:
    limits = {
        "enabled": True,
        "inbox_per_minute": 1000,
        "inbox_per_domain_per_minute": BUDGET,
    }
    async with network(
        tmp_path, lambda: templates.sqlite_url(tmp_path), [TARGET], ratelimit=limits
    ) as (net, (a,)):
        world = Flood(
            net=net,
            node=a,
            loud=FakeActor("https://loud.test/users/l", rsa_key(11)),
            quiet=FakeActor("https://quiet.test/users/q", rsa_key(12)),
            victim=FakeActor("https://victim.test/users/v", rsa_key(13)),
            forger=FakeActor("https://forger.test/users/f", rsa_key(14)),
            loud_port=FakeActor("https://loud.test:8443/users/p", rsa_key(15)),
        )
        net.hooks.extend([world.loud, world.quiet, world.victim, world.forger, world.loud_port])
        yield world


def create(actor: FakeActor) -> dict[str, object]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": new_id(actor.host),
        "type": "Create",
        "actor": actor.uri,
        "object": note(actor.uri),
    }


async def test_inbox_flood_from_one_domain_is_limited_per_domain(flood: Flood) -> None:
    """Attack: one server floods the inbox. Past its budget it gets 429 with Retry-After and
    nothing more is stored; another server behind the same address is still accepted."""
    url = f"https://{TARGET}/inbox"
    for _ in range(BUDGET):
        response = await deliver(flood.net, url, create(flood.loud), flood.loud.signing_key)
        assert response.status_code == 202, response.text
    before = await inbox_count(flood.node)
    response = await deliver(flood.net, url, create(flood.loud), flood.loud.signing_key)
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1
    assert await inbox_count(flood.node) == before  # refused before storing
    # Another port of the same host is the same server: no fresh budget.
    response = await deliver(flood.net, url, create(flood.loud_port), flood.loud_port.signing_key)
    assert response.status_code == 429, response.text
    response = await deliver(flood.net, url, create(flood.quiet), flood.quiet.signing_key)
    assert response.status_code == 202, response.text


async def test_forged_requests_naming_a_peer_do_not_spend_its_budget(flood: Flood) -> None:
    """Attack: a forger signs with her own key but names the victim's keyId, many times, to
    get the victim's deliveries refused. Each forgery is refused as a bad signature (401) and
    is not counted: the victim's honest deliveries are all accepted afterwards."""
    url = f"https://{TARGET}/inbox"
    for _ in range(BUDGET * 3):
        body = json.dumps(create(flood.victim)).encode()
        forged_key = SigningKey(flood.victim.key_id, flood.forger.private_key)
        response = await flood.net.post(url, body, signed_headers(url, body, forged_key))
        assert response.status_code == 401, response.text
    for _ in range(BUDGET):
        response = await deliver(flood.net, url, create(flood.victim), flood.victim.signing_key)
        assert response.status_code == 202, response.text
