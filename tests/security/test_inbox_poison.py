"""One sender must not spoil the inbox for the others.

Concurrent inbox requests are stored together (``GroupCommit``). A row that the
database refuses used to fail the whole group, so every request that shared
its transaction answered 500 — and the attacker's own retries kept poisoning
new groups. Now such a row is refused on its own; what the database cannot
hold is caught before (lone surrogates, over-long ids); and the memory that
remembers parsed hosts does not keep the long URLs an unverified request can
send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from federation.inbox_store import GroupCommit, VerifiedActivity
from federation.keys import _host_of, host_of
from federation.models import InboxItem
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import create, deliver, inbox_count, note, rsa_key, signed_headers
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # rows the database refuses

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"


@pytest_asyncio.fixture
async def world(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> AsyncIterator[tuple[FediNet, TestNode, FakeActor]]:
    async with network(tmp_path, new_db_url, [TARGET]) as (net, (a,)):
        alice = FakeActor("https://remote.test/users/alice", rsa_key(21))
        net.hooks.append(alice)
        yield net, a, alice


def _incoming(activity: dict[str, Any]) -> VerifiedActivity:
    from config.database import utcnow

    return VerifiedActivity(
        activity=activity,
        actor_uri="https://remote.test/users/alice",
        domain="remote.test",
        key_id="https://remote.test/users/alice#main-key",
        recipient=None,
        received_at=utcnow(),
    )


async def test_a_row_the_database_refuses_fails_alone(
    world: tuple[FediNet, TestNode, FakeActor],
) -> None:
    """Attack: a request whose row the database refuses shares a transaction with honest
    ones. The honest rows are stored (their requests get 202), only its request fails."""
    _, node, _ = world
    writer = GroupCommit(node.node.db.session)
    good = [{"id": f"https://remote.test/a/{n}", "type": "Create"} for n in range(3)]
    bad = {"id": None, "type": "Create"}  # NOT NULL: the database refuses the row
    results = await asyncio.gather(
        *(writer.store(_incoming(a)) for a in [good[0], bad, good[1], good[2]]),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True and results[3] is True, results
    assert isinstance(results[1], Exception)
    async with node.node.db.session() as session:
        stored = set((await session.scalars(select(InboxItem.activity_uri))).all())
    assert {a["id"] for a in good} <= stored


async def test_a_lone_surrogate_is_stored_not_a_500(
    world: tuple[FediNet, TestNode, FakeActor],
) -> None:
    """Attack: a correctly signed activity carrying ``"\\ud800"`` (valid JSON, not encodable
    as UTF-8). Accepted (202) and stored with ASCII escapes, instead of failing its group."""
    net, node, alice = world
    activity = create(alice.uri, note(alice.uri, content="<p>x\ud800y</p>"))
    body = json.dumps(activity).encode()  # ASCII: carries the escape "\ud800"
    assert b"\\ud800" in body
    response = await net.post(INBOX, body, signed_headers(INBOX, body, alice.signing_key))
    assert response.status_code == 202, response.text
    async with node.node.db.session() as session:
        row = await session.scalar(
            select(InboxItem.body).where(InboxItem.activity_uri == activity["id"])
        )
    assert row is not None and "\\ud800" in row


@pytest.mark.parametrize("field", ["id", "actor"])
async def test_an_over_long_id_is_a_400(
    world: tuple[FediNet, TestNode, FakeActor], field: str
) -> None:
    """Attack: an activity id (or actor) longer than the database's URI columns (2,048):
    refused with 400 ``bad_payload`` before any work, nothing stored."""
    net, node, alice = world
    activity = create(alice.uri, note(alice.uri))
    activity[field] = activity[field] + "/" + "x" * 2100
    before = await inbox_count(node)
    response = await deliver(net, INBOX, activity, alice.signing_key)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_payload"
    assert await inbox_count(node) == before


def test_long_urls_are_not_remembered() -> None:
    """Attack: unverified requests naming 64 kB actor URLs, to fill the memory of parsed
    hosts. Short URLs are remembered; long ones are parsed and forgotten."""
    _host_of.cache_clear()
    assert host_of("https://remote.test/users/alice") == "remote.test"
    long_url = "https://remote.test/" + "x" * 60_000
    assert host_of(long_url) == "remote.test"
    assert _host_of.cache_info().currsize == 1
