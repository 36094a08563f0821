"""Helpers shared by the test_inbox_attacks modules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from federation.keys import SigningKey
from federation.policy import set_policy
from federation.signatures import sign_request
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import AS, PUBLIC, new_id, rsa_key
from tests.support import TestNode

TARGET = "a.test"
INBOXES = ["/inbox", "/actors/territory/inbox"]


# ------------------------------------------------------------------ the world


@dataclass
class World:
    net: FediNet
    node: TestNode
    alice: FakeActor  # an honest remote actor
    mallory: FakeActor  # an attacker on her own server
    banned: FakeActor  # on a domain that a.test blocks
    ghost: FakeActor  # deleted: her actor (and key) answer 410
    extra: dict[str, Any] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    async with network(tmp_path_factory.mktemp("attacks"), module_db, [TARGET]) as (net, (a,)):
        fakes = World(
            net=net,
            node=a,
            alice=FakeActor("https://remote.test/users/alice", rsa_key(1)),
            mallory=FakeActor("https://evil.test/users/mallory", rsa_key(2)),
            banned=FakeActor("https://banned.test/users/spam", rsa_key(3)),
            ghost=FakeActor("https://gone.test/users/ghost", rsa_key(4), status=410),
        )
        net.hooks.extend([fakes.alice, fakes.mallory, fakes.banned, fakes.ghost])
        async with a.node.db.session() as session:
            await set_policy(session, "banned.test", "block", "spam")
        yield fakes


# ------------------------------------------------------------------ requests


def note_create(actor: str, **object_fields: Any) -> dict[str, Any]:
    host = httpx.URL(actor).host
    note = {
        "id": new_id(host, "notes"),
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>Bonjour</p>",
        "to": [PUBLIC],
        **object_fields,
    }
    return {
        "@context": AS,
        "id": new_id(host),
        "type": "Create",
        "actor": actor,
        "object": note,
        "to": [PUBLIC],
    }


def signed(
    url: str, body: bytes, key: SigningKey, *, now: datetime | None = None, **kw: Any
) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, key, now=now, **kw))
    return headers


# ------------------------------------------------------------------ the attacks

Request = tuple[str, bytes, dict[str, str]]  # path (with query), body, headers


def _body(activity: dict[str, Any]) -> bytes:
    return json.dumps(activity).encode()


def signs_for_another_server(w: World, path: str) -> Request:
    """C signs as A: Mallory's valid key, an activity whose actor is Alice on another server."""
    activity = note_create(w.alice.uri)
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.mallory.signing_key)


async def send(w: World, request: Request) -> httpx.Response:
    path, body, headers = request
    return await w.net.post(f"https://{TARGET}{path}", body, headers)
