"""The dashboard's flows with a peered territory and its needs answered
(``instance.services.stats_flows``), on two peered nodes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from instance.services.stats import Period
from instance.services.stats_flows import needs_answered, peer_flows
from tests.federation.test_exchanges import OFFER, act, post
from tests.federation.test_listings_federation import peer
from tests.federation.test_matching import NEED, publish
from tests.fedinet import network


async def test_flows_with_a_peer_and_needs_answered_on_the_dashboard(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await peer(net, b, a)
        offer_token, offer = await publish(a, "menuiserie", OFFER)
        await publish(a, "menuiserie", {**OFFER, "title": "Planches", "category": "equipment"})
        token, _ = await publish(b, "atelier", NEED)  # matched by A's offer
        await publish(b, "atelier", {**NEED, "title": "Recherche outils", "category": "food"})
        await net.settle()
        response = await post(
            b, "/api/v1/exchanges", token,
            {"listing": offer["ap_id"], "from": "atelier", "quantity": "100"},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        on_b = await response.get_json()
        await net.settle()
        exchanges = await a.api("GET", "/api/v1/exchanges?actor=menuiserie", token=offer_token)
        (on_a,) = (await exchanges.get_json())["items"]
        await act(a, offer_token, on_a["id"], "accept", "menuiserie")
        await net.settle()
        await act(b, token, on_b["id"], "done", "atelier")
        await act(a, offer_token, on_a["id"], "done", "menuiserie")
        await net.settle()

        async with b.node.db.session() as session:
            (flow,) = await peer_flows(session, b.node.db.dialect, Period(), {"a.test": 2})
            answered = await needs_answered(session, Period(), 2)
            future = await needs_answered(
                session, Period(start=datetime.now(UTC).date() + timedelta(days=1)), 0
            )
        assert (flow.host, flow.received, flow.sent, flow.exchanges) == ("a.test", 2, 2, 1)
        assert flow.name  # the territory's name, not its host
        assert (answered.needs, answered.answered) == (2, 1)
        assert answered.median_hours is not None and 0 <= answered.median_hours < 1
        assert (future.answered, future.median_hours) == (0, None)

        client = b.app.test_client()
        for language, words in (
            ("fr", ("Avec les territoires voisins", "Besoins pourvus", "Structures par type")),
            ("en", ("With the neighbouring territories", "Needs answered", "Structures by kind")),
        ):
            page = await client.get("/territoire", headers={"Accept-Language": language})
            html = (await page.get_data()).decode()
            assert page.status_code == 200
            for word in (*words, flow.name, "1 / 2"):
                assert word in html, (language, word)
