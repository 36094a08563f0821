"""The delivery queue on the network: retries, dead letters, Retry-After, unsafe inboxes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from config.database import utcnow
from federation.keystore import actor_signing_key
from federation.models import Activity, Actor, Delivery, DomainHealth, Follow
from federation.retry import (
    UNAVAILABLE_AFTER,
    backoff,
)
from federation.signatures import sign_request
from outbox import follows
from tests.federation.delivery_support import ALMOST_ONE, deliveries
from tests.fedinet import FediNet, network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # queue claims (FOR UPDATE SKIP LOCKED), leases, upserts


# ------------------------------------------------------------------ helpers

LISTING = {
    "kind": "offer",
    "title": "Scie à ruban",
    "description": "Une scie à ruban à prêter le samedi.",
    "category": "equipment",
    "modality": "lend",
}


async def local_actor(node: TestNode, handle: str) -> Actor:
    async with node.node.db.session() as session:
        return (
            await session.execute(
                select(Actor).where(Actor.local.is_(True), Actor.handle == handle)
            )
        ).scalar_one()


async def follow(net: FediNet, follower: TestNode, handle: str, target: str) -> None:
    """The local actor ``handle`` of ``follower`` follows ``target``; settles the network."""
    remote = await follower.node.remote.resolve(target)
    async with follower.node.transaction() as session:
        local = (
            await session.execute(
                select(Actor).where(Actor.local.is_(True), Actor.handle == handle)
            )
        ).scalar_one()
        await follows.follow(session, follower.settings, local, await session.merge(remote))
    await net.settle()


async def publish(node: TestNode, token: str, structure: str, **changes: Any) -> dict[str, Any]:
    response = await node.api(
        "POST", "/api/v1/listings", token=token, json={**LISTING, "structure": structure, **changes}
    )
    assert response.status_code == 201, await response.get_data()
    created: dict[str, Any] = await response.get_json()
    return created


async def make_due(node: TestNode) -> None:
    """Time passes: every pending delivery is due now."""
    async with node.node.db.session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.state == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def delivery_of(node: TestNode, activity_uri: str) -> Delivery:
    """The one delivery of ``activity_uri``."""
    async with node.node.db.session() as session:
        (row,) = (
            await session.execute(
                select(Delivery).join(Activity).where(Activity.uri == activity_uri)
            )
        ).scalars()
        return row


def posts_of(net: FediNet, host: str, activity_uri: str) -> list[int | None]:
    """Statuses of the POSTs that carried ``activity_uri`` to ``host`` (None: unreachable)."""
    return [
        e.status
        for e in net.sent("POST", host)
        if e.body and json.loads(e.body).get("id") == activity_uri
    ]


async def a_follows_b_setup(net: FediNet, a: TestNode, b: TestNode) -> str:
    """menuiserie on A, followed by ressourcerie on B; returns a token for menuiserie."""
    await a.structure("menuiserie", owner="m@a.example")
    await b.structure("ressourcerie", owner="r@b.example")
    await follow(net, b, "ressourcerie", "acct:menuiserie@a.test")
    return await a.token("m@a.example")


async def create_of(node: TestNode, listing: dict[str, Any]) -> str:
    async with node.node.db.session() as session:
        uri = await session.scalar(
            select(Activity.uri).where(
                Activity.type == "Create", Activity.object_uri == listing["ap_id"]
            )
        )
    assert uri is not None
    return uri


# ------------------------------------------------------------------ the queue on the network


async def test_peer_down_then_up_is_delivered_exactly_once(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Given B down, A's listing waits in the queue with growing waits between tries; when B
    comes back the delivery is made once, and B has the listing."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token = await a_follows_b_setup(net, a, b)
        net.down("b.test")
        listing = await publish(a, token, "menuiserie")
        uri = await create_of(a, listing)
        waits = []
        for attempt in range(1, 4):
            if attempt > 1:
                await make_due(a)
            started = utcnow()
            await net.settle()
            row = await delivery_of(a, uri)
            assert (row.state, row.tries, row.last_status) == ("pending", attempt, None)
            assert "unreachable" in (row.last_error or "")
            wait = row.next_attempt_at - started
            assert backoff(attempt, 0) - timedelta(seconds=1) <= wait
            assert wait <= backoff(attempt, ALMOST_ONE) + timedelta(seconds=5)
            waits.append(wait)
        assert waits[0] < waits[2]
        assert posts_of(net, "b.test", uri) == [None, None, None]

        net.up("b.test")
        await net.settle()  # not due yet: nothing is sent
        assert posts_of(net, "b.test", uri) == [None, None, None]
        await make_due(a)
        await net.settle()
        await make_due(a)
        await net.settle()  # and nothing more once done
        row = await delivery_of(a, uri)
        assert (row.state, row.tries, row.last_status) == ("done", 4, 202)
        assert posts_of(net, "b.test", uri) == [None, None, None, 202]
        response = await b.api("GET", "/api/v1/listings?origin=remote")
        assert [i["ap_id"] for i in (await response.get_json())["items"]] == [listing["ap_id"]]


async def test_client_error_is_dead_at_once(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """B answers 400 to a delivery: it will not change by waiting, so the row is dead after one
    try and is never sent again."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token = await a_follows_b_setup(net, a, b)

        async def refuse(request: httpx.Request) -> httpx.Response | None:
            if request.method == "POST" and request.url.host == "b.test":
                return httpx.Response(400, json={"error": "bad_payload"})
            return None

        net.hooks.append(refuse)
        uri = await create_of(a, await publish(a, token, "menuiserie"))
        await net.settle()
        await make_due(a)
        await net.settle()
        row = await delivery_of(a, uri)
        assert (row.state, row.tries, row.last_status) == ("dead", 1, 400)
        assert row.done_at is not None
        assert posts_of(net, "b.test", uri) == [400]


async def test_too_many_requests_respects_retry_after(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """B answers 429 with ``Retry-After: 7200``: the next try waits two hours, not 25 s."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token = await a_follows_b_setup(net, a, b)

        async def slow_down(request: httpx.Request) -> httpx.Response | None:
            if request.method == "POST" and request.url.host == "b.test":
                return httpx.Response(429, headers={"Retry-After": "7200"})
            return None

        net.hooks.append(slow_down)
        uri = await create_of(a, await publish(a, token, "menuiserie"))
        started = utcnow()
        await net.settle()
        row = await delivery_of(a, uri)
        assert (row.state, row.tries, row.last_status) == ("pending", 1, 429)
        wait = row.next_attempt_at - started
        assert timedelta(seconds=7199) <= wait <= timedelta(seconds=7210)


async def test_one_post_per_server_with_several_followers(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Three structures on B follow one structure on A: A's new listing is POSTed once, to B's
    shared inbox, not once per follower."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        menuiserie = await b.node.remote.resolve("acct:menuiserie@a.test")
        for handle in ("ressourcerie", "recyclerie", "fablab"):
            await b.structure(handle, owner="r@b.example")
            async with b.node.transaction() as session:
                local = (
                    await session.execute(select(Actor).where(Actor.handle == handle))
                ).scalar_one()
                await follows.follow(session, b.settings, local, await session.merge(menuiserie))
        await net.settle()
        async with a.node.db.session() as session:
            accepted = await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.state == "accepted")
            )
        assert accepted == 3
        token = await a.token("m@a.example")
        uri = await create_of(a, await publish(a, token, "menuiserie"))
        await net.settle()
        creates = [
            e.url
            for e in net.sent("POST", "b.test")
            if e.body and json.loads(e.body).get("id") == uri
        ]
        assert creates == ["https://b.test/inbox"]
        assert [(d.inbox_url, d.state) for d in await deliveries(a, "b.test")][-1:] == [
            ("https://b.test/inbox", "done")
        ]
        response = await b.api("GET", "/api/v1/listings?origin=remote")
        assert len((await response.get_json())["items"]) == 1


async def test_unavailable_domain_waits_until_it_delivers_to_us(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A domain failing for longer than ``UNAVAILABLE_AFTER`` is marked unavailable: its due
    deliveries are not claimed (no tries burnt) until an activity arrives from it, which makes
    them due again at once."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token = await a_follows_b_setup(net, a, b)
        net.down("b.test")
        uri = await create_of(a, await publish(a, token, "menuiserie"))
        await net.settle()
        async with a.node.db.session() as session:
            await session.execute(
                update(DomainHealth)
                .where(DomainHealth.domain == "b.test")
                .values(failing_since=utcnow() - UNAVAILABLE_AFTER - timedelta(hours=1))
            )
        await make_due(a)
        await net.settle()
        async with a.node.db.session() as session:
            health = await session.get(DomainHealth, "b.test")
            assert health is not None and health.unavailable_since is not None
        assert posts_of(net, "b.test", uri) == [None, None]

        net.up("b.test")
        await make_due(a)
        await net.settle()
        assert posts_of(net, "b.test", uri) == [None, None]  # unavailable: not even tried
        row = await delivery_of(a, uri)
        assert (row.state, row.tries) == ("pending", 2)

        # B speaks to A (its structure's profile changed): A revives B.
        status = await deliver_update_of_self(net, b, "ressourcerie", a)
        assert status == 202
        await net.settle()
        row = await delivery_of(a, uri)
        assert (row.state, row.tries, row.last_status) == ("done", 3, 202)
        assert posts_of(net, "b.test", uri) == [None, None, 202]
        async with a.node.db.session() as session:
            health = await session.get(DomainHealth, "b.test")
            assert health is not None
            assert (health.unavailable_since, health.failing_since, health.failures) == (
                None,
                None,
                0,
            )


async def deliver_update_of_self(
    net: FediNet, sender: TestNode, handle: str, receiver: TestNode
) -> int:
    """``handle`` on ``sender`` POSTs an Update of itself to ``receiver``'s shared inbox."""
    actor = await local_actor(sender, handle)
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{sender.base_url}/activities/profile-{handle}",
        "type": "Update",
        "actor": actor.uri,
        "object": actor.uri,
    }
    body = json.dumps(activity).encode()
    url = f"https://{receiver.domain}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, actor_signing_key(actor)))
    return (await net.post(url, body, headers)).status_code


async def test_unsafe_inbox_is_dead_and_never_sent(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A remote follower whose inbox is on a loopback address (SSRF bait, e.g.
    ``http://127.0.0.1/admin``): with ``allow_private_addresses`` off, the delivery is dead
    after one try with a clear error, and no request leaves."""
    async with network(
        tmp_path, new_db_url, ["a.test"], federation={"allow_private_addresses": False}
    ) as (net, (a,)):
        await a.structure("menuiserie", owner="m@a.example")
        menuiserie = await local_actor(a, "menuiserie")
        async with a.node.db.session() as session:
            bait = Actor(
                uri="https://127.0.0.1/users/bait",
                local=False,
                type="Person",
                handle="bait",
                domain="127.0.0.1",
                inbox_url="https://127.0.0.1/admin/inbox",
            )
            session.add(bait)
            await session.flush()
            session.add(Follow(follower_id=bait.id, followed_id=menuiserie.id, state="accepted"))
        token = await a.token("m@a.example")
        uri = await create_of(a, await publish(a, token, "menuiserie"))
        await net.settle()
        row = await delivery_of(a, uri)
        assert (row.state, row.tries) == ("dead", 1)
        assert "refusing loopback address 127.0.0.1" in (row.last_error or "")
        assert [e.url for e in net.log if "127.0.0.1" in e.url] == []
