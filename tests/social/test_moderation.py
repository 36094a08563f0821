"""Reports, Flags, suspension, hiding, blocking, and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from domain.social import Notification
from federation.models import Actor
from tests.federation.test_listings_federation import peer, publish, remote_listings
from tests.fedinet import network
from tests.support import TestNode


async def test_report_reaches_the_other_node_as_a_flag(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A structure on B reports a listing of A: B's moderators see it, and A receives a
    Flag that lands in its moderation queue (its moderators are notified)."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        await b.structure("vigilante", owner="v@b.example")
        reporter = await b.token("v@b.example")
        mod_a = await a.token("mod@a.example", role="moderator")
        mod_b = await b.token("mod@b.example", role="moderator")

        response = await b.api(
            "POST",
            "/api/v1/reports",
            token=reporter,
            json={"actor": "vigilante", "target": created["ap_id"], "reason": "Annonce trompeuse"},
        )
        assert response.status_code == 201, await response.get_data()
        assert (await response.get_json())["forwarded"] is True
        await net.settle()

        response = await b.api("GET", "/api/v1/reports", token=mod_b)
        assert [r["target"] for r in (await response.get_json())["items"]] == [created["ap_id"]]
        response = await a.api("GET", "/api/v1/reports", token=mod_a)
        received = (await response.get_json())["items"]
        assert len(received) == 1
        assert received[0]["origin"] == "b.test"
        assert received[0]["target_actor"] == "https://a.test/actors/menuiserie"
        assert received[0]["reason"] == "Annonce trompeuse"
        flag = next(e.json() for e in net.sent("POST", "a.test") if e.json()["type"] == "Flag")
        assert flag["actor"] == "https://b.test/actors/territory"  # the reporter stays anonymous
        async with a.node.db.session() as session:
            kinds = (await session.execute(select(Notification.kind))).scalars().all()
        assert "report" in kinds

        response = await a.api("GET", "/api/v1/reports", token=await a.token("m@a.example"))
        assert response.status_code == 403


async def test_reports_stay_home_when_forwarding_is_off(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """federation.forward_reports = false: a report of another node's listing reaches this
    node's moderators only; no Flag leaves, and the other node's queue stays empty."""
    async with network(
        tmp_path, new_db_url, ["a.test", "b.test"], federation={"forward_reports": False}
    ) as (net, (a, b)):
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        await b.structure("vigilante", owner="v@b.example")
        reporter = await b.token("v@b.example")
        mod_a = await a.token("mod@a.example", role="moderator")
        mod_b = await b.token("mod@b.example", role="moderator")
        net.log.clear()

        response = await b.api(
            "POST",
            "/api/v1/reports",
            token=reporter,
            json={"actor": "vigilante", "target": created["ap_id"], "reason": "Annonce trompeuse"},
        )
        assert response.status_code == 201, await response.get_data()
        assert (await response.get_json())["forwarded"] is False
        await net.settle()

        response = await b.api("GET", "/api/v1/reports", token=mod_b)
        assert [r["target"] for r in (await response.get_json())["items"]] == [created["ap_id"]]
        assert not [e for e in net.sent("POST", "a.test") if e.json().get("type") == "Flag"]
        response = await a.api("GET", "/api/v1/reports", token=mod_a)
        assert (await response.get_json())["items"] == []


async def test_suspension_federates_a_delete(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("fan", owner="f@b.example")
        fan = await b.token("f@b.example")
        await b.api(
            "POST",
            "/api/v1/follows",
            token=fan,
            json={"actor": "fan", "target": "acct:menuiserie@a.test"},
        )
        await net.settle()
        moderator = await a.token("mod@a.example", role="moderator")
        response = await a.api(
            "POST",
            "/api/v1/moderation/structures/menuiserie/suspend",
            token=moderator,
            json={"reason": "Usurpation"},
        )
        assert response.status_code == 200
        await net.settle()
        gone = await a.client().get(
            "/actors/menuiserie", headers={"Accept": "application/activity+json"}
        )
        assert gone.status_code == 410
        async with b.node.db.session() as session:
            actor = (
                await session.execute(
                    select(Actor).where(Actor.uri == "https://a.test/actors/menuiserie")
                )
            ).scalar_one()
            assert actor.deleted_at is not None
        response = await b.api("GET", "/api/v1/follows?actor=fan", token=fan)
        assert (await response.get_json())["items"] == []
        response = await a.api("GET", "/api/v1/moderation/audit", token=moderator)
        actions = [e["action"] for e in (await response.get_json())["items"]]
        assert actions == ["structure.suspend"]


async def test_hide_block_and_silence(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        _, created = await publish(a)
        await net.settle()
        moderator = await b.token("mod@b.example", role="moderator")
        remote = await remote_listings(b)
        assert len(remote) == 1

        # Silence the author on B: its listing leaves B's search; clearing brings it back.
        response = await b.api(
            "POST",
            "/api/v1/moderation/actors",
            token=moderator,
            json={"actor": created["author"]["id"], "level": "silenced"},
        )
        assert response.status_code == 200
        assert await remote_listings(b) == []
        await b.api(
            "POST",
            "/api/v1/moderation/actors",
            token=moderator,
            json={"actor": created["author"]["id"], "level": ""},
        )
        assert len(await remote_listings(b)) == 1

        # Hide the listing on B.
        response = await b.api(
            "POST",
            f"/api/v1/moderation/listings/{remote[0]['id']}/hide",
            token=moderator,
            json={"reason": "hors charte"},
        )
        assert response.status_code == 200
        assert await remote_listings(b) == []

        # Block A's structure: its deliveries are refused from then on.
        await b.api(
            "POST",
            "/api/v1/moderation/actors",
            token=moderator,
            json={"actor": created["author"]["id"], "level": "blocked"},
        )
        token = await a.token("m@a.example")
        await a.api(
            "POST",
            "/api/v1/listings",
            token=token,
            json={
                "structure": "menuiserie",
                "kind": "need",
                "title": "Autre annonce",
                "description": "x",
                "category": "other",
                "modality": "give",
            },
        )
        await net.settle()
        refused = [e for e in net.sent("POST", "b.test") if e.status == 403]
        assert refused
        response = await b.api("GET", "/api/v1/moderation/audit", token=moderator)
        actions = [e["action"] for e in (await response.get_json())["items"]]
        assert actions == ["actor.blocked", "listing.hide", "actor.clear", "actor.silenced"]


async def test_moderation_needs_a_moderator(node: TestNode) -> None:
    member = await node.token("m@a.example")
    for path in (
        "/api/v1/moderation/listings/1/hide",
        "/api/v1/moderation/actors",
        "/api/v1/moderation/domains",
        "/api/v1/moderation/structures/x/suspend",
    ):
        response = await node.api("POST", path, token=member, json={})
        assert response.status_code == 403, path
