"""Exchanges between structures: proposed, accepted, done by both sides, counted.

On one node, and across two peered nodes (FEP-0837: ``Offer{Agreement}``,
``Accept``, ``Create{EconomicEvent}``…), where both nodes must show the same
state, value and CO2e.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.database import utcnow
from domain.exchanges import Exchange
from domain.impact import territory_impact
from domain.models import Listing
from tests.federation.test_listings_federation import LISTING, peer
from tests.federation.test_matching import get, publish, told_kind
from tests.fedinet import network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # exchange queries

OFFER = {**LISTING, "quantity": "300", "unit": "kg"}


async def atelier(node: TestNode) -> str:
    await node.structure("atelier", owner=f"atelier@{node.domain}.example", commune="Mourenx")
    return await node.token(f"atelier@{node.domain}.example")


async def post(node: TestNode, path: str, token: str, body: dict[str, Any]) -> Any:
    return await node.api("POST", path, token=token, json=body)


async def act(node: TestNode, token: str, exchange_id: int, action: str, actor: str) -> Any:
    path = f"/api/v1/exchanges/{exchange_id}/{action}"
    response = await post(node, path, token, {"actor": actor})
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def exchanges(node: TestNode, token: str, actor: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await get(node, f"/api/v1/exchanges?actor={actor}", token))[
        "items"
    ]
    return found


async def test_an_exchange_on_one_node_from_proposal_to_done(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        offer_token, offer = await publish(a, "menuiserie", OFFER)
        token = await atelier(a)
        response = await post(
            a, "/api/v1/exchanges", token,
            {"listing": offer["id"], "from": "atelier", "quantity": "120",
             "value": {"amount": "80", "currency": "EUR"}, "message": "Pour nos établis."},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        proposed = await response.get_json()
        assert proposed["state"] == "proposed"
        assert proposed["provider"] == offer["author"]["id"]  # an offer: its author provides
        assert proposed["receiver"] == "https://a.test/actors/atelier"
        assert proposed["impact"] is None
        # The listing's structure is told; it sees the same exchange.
        told = await told_kind(a, "menuiserie@a.test.example", "exchange")
        assert [n["action"] for n in told] == ["propose"]
        assert [e["id"] for e in await exchanges(a, offer_token, "menuiserie")] == [proposed["id"]]

        accepted = await act(a, offer_token, proposed["id"], "accept", "menuiserie")
        assert accepted["state"] == "accepted"
        half = await act(a, token, proposed["id"], "done", "atelier")
        assert half["state"] == "accepted"
        assert half["done_marked_by"] == "https://a.test/actors/atelier"
        done = await act(a, offer_token, proposed["id"], "done", "menuiserie")
        assert done["state"] == "done" and done["done_at"]
        impact = done["impact"]
        assert impact["value_eur"] == "80"
        assert impact["co2e_kg"] > 0
        assert 10 < impact["distance_km"] < 25  # Orthez – Mourenx
        await net.settle()

        listing = await get(a, f"/api/v1/listings/{offer['id']}")
        assert listing["quantity"] == "180" and listing["status"] == "open"
        async with a.node.db.session() as session:
            totals = await territory_impact(session)
        assert (totals.done, str(totals.value_eur)) == (1, "80.00")
        # Each change told the other side: atelier heard accept and done.
        assert [n["action"] for n in await told_kind(a, "atelier@a.test.example", "exchange")] == [
            "accept",
            "done",
        ]

        # What remains, taken whole: the listing is fulfilled.
        response = await post(
            a, "/api/v1/exchanges", token,
            {"listing": offer["ap_id"], "from": "atelier", "quantity": "180", "message": ""},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        second = (await response.get_json())["id"]
        await act(a, offer_token, second, "accept", "menuiserie")
        await act(a, offer_token, second, "done", "menuiserie")
        await act(a, token, second, "done", "atelier")
        listing = await get(a, f"/api/v1/listings/{offer['id']}")
        assert listing["quantity"] == "0" and listing["status"] == "fulfilled"
        page = await get(a, "/api/v1/exchanges?actor=atelier&limit=1", token)
        assert [e["id"] for e in page["items"]] == [second]
        assert page["next"]
        rest = await get(a, f"/api/v1/exchanges?actor=atelier&limit=1&cursor={page['next']}", token)
        assert [e["id"] for e in rest["items"]] == [proposed["id"]]


async def test_an_exchange_across_two_nodes(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """A has the offer; B's structure proposes. The Offer reaches A, A accepts, both mark
    done: both nodes show the same state, value and CO2e, and A's listing follows."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await peer(net, b, a)
        offer_token, offer = await publish(a, "menuiserie", OFFER)
        await net.settle()
        token = await atelier(b)
        response = await post(
            b, "/api/v1/exchanges", token,
            {"listing": offer["ap_id"], "from": "atelier", "quantity": "100",
             "value": {"amount": "45.50", "currency": "EUR"}, "message": "Bonjour !"},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        on_b = await response.get_json()
        await net.settle()
        offers = [x for x in net.activities_to("a.test") if x.get("type") == "Offer"]
        assert len(offers) == 1 and offers[0]["object"]["type"] == "Agreement"
        assert offers[0]["object"]["stipulates"]["satisfies"] == f"{offer['ap_id']}#primary"
        # An Entraide node reads the Offer: no second, wordy Note (test_exchange_to_mastodon).
        assert not [x for x in net.activities_to("a.test") if x.get("type") == "Create"]

        (on_a,) = await exchanges(a, offer_token, "menuiserie")
        assert on_a["ap_id"] == on_b["ap_id"]
        assert (on_a["state"], on_a["quantity"], on_a["value"]) == (
            "proposed", "100", {"amount": "45.5", "currency": "EUR"},
        )  # fmt: skip
        assert on_a["message"] == "Bonjour !"
        assert on_a["provider"] == on_b["provider"] == offer["author"]["id"]
        assert on_a["receiver"] == on_b["receiver"] == "https://b.test/actors/atelier"
        assert (await told_kind(a, "menuiserie@a.test.example", "exchange"))[0]["from"]

        await act(a, offer_token, on_a["id"], "accept", "menuiserie")
        await net.settle()
        assert (await exchanges(b, token, "atelier"))[0]["state"] == "accepted"
        await act(b, token, on_b["id"], "done", "atelier")
        await net.settle()
        assert (await exchanges(a, offer_token, "menuiserie"))[0]["state"] == "accepted"
        await act(a, offer_token, on_a["id"], "done", "menuiserie")
        await net.settle()

        (seen_a,) = await exchanges(a, offer_token, "menuiserie")
        (seen_b,) = await exchanges(b, token, "atelier")
        for field in ("state", "value", "quantity", "provider", "receiver"):
            assert seen_a[field] == seen_b[field], field
        assert seen_a["state"] == "done"
        assert seen_a["impact"]["value_eur"] == seen_b["impact"]["value_eur"] == "45.5"
        assert seen_a["impact"]["co2e_kg"] == seen_b["impact"]["co2e_kg"] > 0
        assert seen_a["impact"]["distance_km"] == seen_b["impact"]["distance_km"]
        listing = await get(a, f"/api/v1/listings/{offer['id']}")
        assert listing["quantity"] == "200"
        async with b.node.db.session() as session:
            copy = await session.scalar(
                select(Exchange.listing_id).where(Exchange.id == on_b["id"])
            )
        remote = await get(b, f"/api/v1/listings/{copy}")
        assert remote["quantity"] == "200"  # A's Update reached B


async def test_bad_proposals_and_changes_are_refused(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """422 for what cannot be (own listing, unknown listing, too much, bad value), 409 for a
    listing no longer open or a change not allowed from the state, 403 for who may not."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (_net, (a,)):
        offer_token, offer = await publish(a, "menuiserie", OFFER)
        token = await atelier(a)
        stranger = await a.token("stranger@a.test.example")
        base = {"listing": offer["id"], "from": "atelier", "message": "Bonjour"}

        async def propose(token: str, **changes: Any) -> Any:
            return await post(a, "/api/v1/exchanges", token, {**base, **changes})

        cases: list[tuple[str, dict[str, Any], int, str | None]] = [
            (offer_token, {"from": "menuiserie"}, 422, "listing"),  # its own listing
            (token, {"listing": "https://c.test/listings/1"}, 422, "listing"),  # unknown here
            (token, {"listing": 999999}, 422, "listing"),
            (token, {"quantity": "301"}, 422, "quantity"),  # 300 remain
            (token, {"quantity": "-2"}, 422, "quantity"),
            (token, {"quantity": "NaN"}, 422, "quantity"),
            (token, {"value": {"amount": "x", "currency": "EUR"}}, 422, "value"),
            (token, {"value": {"amount": "5", "currency": "euro"}}, 422, "value"),
            (token, {"value": "5"}, 422, "value"),
            (token, {"message": 5}, 422, "message"),
            (token, {"from": "nobody"}, 422, "from"),
            (stranger, {}, 403, None),  # not a member of atelier
        ]
        for who, changes, status, field in cases:
            response = await propose(who, **changes)
            assert response.status_code == status, (changes, await response.get_data())
            if field:
                assert field in (await response.get_json())["fields"], changes
        assert (await a.api("POST", "/api/v1/exchanges", json=base)).status_code == 401

        response = await propose(token)
        exchange_id = (await response.get_json())["id"]
        path = f"/api/v1/exchanges/{exchange_id}"
        refused = [
            (token, "accept", "atelier", 403),  # the proposer accepting its own proposal
            (offer_token, "withdraw", "menuiserie", 403),  # only the proposer withdraws
            (stranger, "accept", "menuiserie", 403),  # not a member of menuiserie
            (token, "done", "atelier", 409),  # not accepted yet
            (token, "cancel", "atelier", 409),
            (token, "explode", "atelier", 404),
        ]
        for who, action, actor, status in refused:
            response = await post(a, f"{path}/{action}", who, {"actor": actor})
            assert response.status_code == status, (action, await response.get_data())
        await a.structure("tiers", owner="tiers@a.test.example")
        tiers = await a.token("tiers@a.test.example")
        response = await post(a, f"{path}/accept", tiers, {"actor": "tiers"})
        assert response.status_code == 403  # a structure that is not a party
        response = await post(a, "/api/v1/exchanges/999999/accept", token, {"actor": "atelier"})
        assert response.status_code == 404

        await act(a, token, exchange_id, "withdraw", "atelier")
        response = await post(a, f"{path}/accept", offer_token, {"actor": "menuiserie"})
        assert response.status_code == 409  # withdrawn: nothing more

        # A listing no longer open takes no proposal: fulfilled, then withdrawn.
        for change in ({"status": "fulfilled"},):
            response = await a.api(
                "PATCH", f"/api/v1/listings/{offer['id']}", token=offer_token, json=change
            )
            assert response.status_code == 200, await response.get_data()
            assert (await propose(token)).status_code == 409
        await a.api("DELETE", f"/api/v1/listings/{offer['id']}", token=offer_token)
        assert (await propose(token)).status_code == 409
        # An open listing past its expiry date (the expiry loop has not run yet): 409.
        _, other = await publish(a, "menuiserie", OFFER)
        async with a.node.db.session() as session:
            listing = await session.get(Listing, other["id"])
            assert listing is not None
            listing.expires_at = utcnow() - timedelta(days=1)
        response = await propose(token, listing=other["id"])
        assert response.status_code == 409 and "expired" in (await response.get_json())["message"]
        async with a.node.db.session() as session:
            assert await session.scalar(
                select(Exchange.state).where(Exchange.id == exchange_id)
            ) == ("withdrawn")


async def test_a_proposal_on_a_listing_closed_meanwhile_is_declined_at_once(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """B's copy of A's listing is behind (A closed it, B has not heard yet): B's proposal
    reaches A, which declines it at once; B's exchange does not wait for ever."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await peer(net, b, a)
        offer_token, offer = await publish(a, "menuiserie", OFFER)
        await net.settle()
        response = await a.api(
            "PATCH", f"/api/v1/listings/{offer['id']}", token=offer_token,
            json={"status": "fulfilled"},
        )  # fmt: skip
        assert response.status_code == 200
        token = await atelier(b)
        response = await post(
            b, "/api/v1/exchanges", token,
            {"listing": offer["ap_id"], "from": "atelier", "message": "Encore là ?"},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        await net.settle()
        assert [e["state"] for e in await exchanges(b, token, "atelier")] == ["declined"]
        assert await exchanges(a, offer_token, "menuiserie") == []
        told = await told_kind(b, "atelier@b.test.example", "exchange")
        assert [n["action"] for n in told] == ["decline"]
