"""Follows and peering between real nodes in one process (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from federation.models import Follow, InboxItem
from instance.services import peering
from outbox.publish import emit, new_activity
from outbox.to_ap.follows import follow_object
from tests.fedinet import network


async def test_discovery_webfinger_and_actor(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """Given node A, when B resolves acct:territory@a.test, then it gets A's territory actor."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (_, (_a, b)):
        actor = await b.node.remote.resolve("acct:territory@a.test")
        assert actor.uri == "https://a.test/actors/territory"
        assert actor.is_territory
        assert actor.shared_inbox_url == "https://a.test/inbox"
        assert {k.kind for k in actor.keys} == {"rsa", "ed25519"}


async def test_structure_follow_is_accepted(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """A structure on B follows a structure on A through the API; A accepts at once."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie")
        await b.structure("ressourcerie", owner="r@b.example")
        token = await b.token("r@b.example")
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "ressourcerie", "target": "acct:menuiserie@a.test"},
        )
        assert response.status_code == 202, await response.get_data()
        assert (await response.get_json())["state"] == "pending"
        await net.settle()
        response = await b.api("GET", "/api/v1/follows?actor=ressourcerie", token=token)
        items = (await response.get_json())["items"]
        assert [(i["target"], i["state"]) for i in items] == [
            ("https://a.test/actors/menuiserie", "accepted")
        ]
        followers = await a.client().get(
            "/actors/menuiserie/followers?page=1", headers={"Accept": "application/activity+json"}
        )
        items = (await followers.get_json())["orderedItems"]
        assert items == ["https://b.test/actors/ressourcerie"]


async def test_peering_request_approve_remove(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A asks B to peer; B sees a pending request, approves; both follow; removal undoes both."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        result = await peering.request(a.node, "acct:territory@b.test")
        assert (result.host, result.direction, result.state) == ("b.test", "outgoing", "pending")
        await net.settle()
        async with b.node.db.session() as session:
            listed = [(p.host, p.direction, p.state) for p in await peering.list_peerings(session)]
        assert listed == [("a.test", "incoming", "pending")]

        await peering.approve(b.node, "a.test")
        await net.settle()
        async with a.node.db.session() as session:
            listed = [(p.host, p.direction, p.state) for p in await peering.list_peerings(session)]
        assert listed == [("b.test", "incoming", "accepted"), ("b.test", "outgoing", "accepted")]

        await peering.remove(a.node, "b.test")
        await net.settle()
        for node in (a, b):
            async with node.node.db.session() as session:
                assert await peering.list_peerings(session) == []
                assert (await session.execute(select(Follow))).first() is None


async def test_peering_reject(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peering.request(a.node, "acct:territory@b.test")
        await net.settle()
        await peering.reject_request(b.node, "a.test")
        await net.settle()
        async with a.node.db.session() as session:
            listed = [(p.host, p.direction, p.state) for p in await peering.list_peerings(session)]
        assert listed == [("b.test", "outgoing", "rejected")]


async def test_an_accept_of_a_rejected_follow_changes_nothing(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A asks B to peer and B rejects; a late (or replayed) Accept of that follow then
    reaches A: A's follow stays rejected, and the Accept is set aside with a note."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peering.request(a.node, "acct:territory@b.test")
        await net.settle()
        await peering.reject_request(b.node, "a.test")
        await net.settle()
        async with b.node.transaction() as session:
            row = (await session.execute(select(Follow))).scalar_one()
            body = new_activity(
                b.node.settings, "Accept", row.followed, follow_object(row), to=[row.follower.uri]
            )
            await emit(
                session,
                b.node.settings,
                row.followed,
                body,
                to_followers=False,
                recipients=[row.follower],
                public=False,
            )
        await net.settle()
        async with a.node.db.session() as session:
            listed = [(p.host, p.direction, p.state) for p in await peering.list_peerings(session)]
            item = (
                await session.execute(select(InboxItem).where(InboxItem.activity_uri == body["id"]))
            ).scalar_one()
        assert listed == [("b.test", "outgoing", "rejected")]
        assert (item.state, item.error) == ("ignored", "accept of a follow that is rejected")
