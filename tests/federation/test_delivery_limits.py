"""The delivery worker keeps at most ``delivery_concurrency`` POSTs in flight, and at most
``per_host_concurrency`` to one server (docs/interface.md settings), with a real queue on the
node's database and a slow receiving network that counts what is in flight."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from actors.local import territory_actor
from federation.delivery import DeliveryWorker, enqueue
from federation.models import Activity, Delivery
from federation.net import make_client
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # delivery queue

HOSTS = [f"r{n}.example" for n in range(4)]
PER_HOST_INBOXES = 6


class SlowNetwork(httpx.AsyncBaseTransport):
    """Answers 202 after a pause, noting the most POSTs in flight overall and per host."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total = 0
        self.peak_total = 0
        self.received = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.now[host] += 1
        self.total += 1
        self.peak[host] = max(self.peak[host], self.now[host])
        self.peak_total = max(self.peak_total, self.total)
        try:
            await asyncio.sleep(0.02)
        finally:
            self.now[host] -= 1
            self.total -= 1
        self.received += 1
        return httpx.Response(202)


async def test_overall_and_per_host_limits_hold(node: TestNode) -> None:
    async with node.node.db.session() as session:
        territory = await territory_actor(session)
        activity = Activity(
            uri="https://a.test/activities/limits", actor_id=territory.id, type="Create", body={}
        )
        session.add(activity)
        await session.flush()
        # Hosts interleaved, so that every claim of the worker spans them: queued host by
        # host, a claim of 5 could hold 5 deliveries to one host, only 2 of them sending,
        # and under load the overall limit was then never reached (peak 2).
        inboxes = [
            f"https://{host}/users/u{n}/inbox" for n in range(PER_HOST_INBOXES) for host in HOSTS
        ]
        await enqueue(session, activity, inboxes, own_domain="a.test")

    network = SlowNetwork()
    client = make_client(allow_private=True, user_agent="test", transport=network)
    worker = DeliveryWorker(
        node.node.db, lambda: client, concurrency=5, per_host=2, batch=50, poll_interval=0.05
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(worker.run(stopping, asyncio.sleep))
    try:
        async with asyncio.timeout(30):
            while network.received < len(HOSTS) * PER_HOST_INBOXES:
                await asyncio.sleep(0.02)
    finally:
        stopping.set()
        await running
        await client.aclose()

    assert network.received == len(HOSTS) * PER_HOST_INBOXES
    assert max(network.peak.values()) == 2  # per host: reached, never passed
    # Overall: 4 hosts x 2 would allow 8 at once; the worker's limit of 5 holds, and is used.
    assert 3 <= network.peak_total <= 5
    async with node.node.db.session() as session:
        states = set((await session.scalars(select(Delivery.state))).all())
    assert states == {"done"}
