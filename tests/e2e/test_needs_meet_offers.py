"""Issue 14 from outside, with two real ``entraide serve`` processes peered through the CLI:
a need on B is matched to an offer on A and both structures are told within 5 s; an
exchange proposed from B is accepted on A and marked done on both sides, which show the
same state, value and CO2e; a saved search on B is alerted by the new listing on A."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.harness import Cluster, Node, in_parallel, peer_through_cli, wait_for

pytestmark = [pytest.mark.e2e]
TOLD_WITHIN = 5.0
TIMEOUT = 15.0

NEED = {
    "structure": "atelier",
    "kind": "need",
    "title": "Recherche chutes de bois",
    "description": "Pour un atelier de meubles : planches, chutes de chêne ou de hêtre.",
    "category": "materials",
    "modality": "give",
    "location": {"commune": "Mourenx"},
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def _told(node: Node, kind: str) -> list[dict[str, Any]]:
    items = _ok(node.api("GET", "notifications", params={"actor": node.structure}))["items"]
    return [item for item in items if item["type"] == kind]


def _exchange(node: Node) -> dict[str, Any] | None:
    items = _ok(node.api("GET", "exchanges", params={"actor": node.structure}))["items"]
    return items[0] if items else None


def _in_state(node: Node, state: str) -> dict[str, Any] | None:
    found = _exchange(node)
    return found if found is not None and found["state"] == state else None


def test_a_need_on_b_meets_an_offer_on_a_and_the_exchange_counts_on_both(
    cluster: Cluster,
) -> None:
    a, b = cluster.add("a"), cluster.add("b")
    in_parallel(a.init, b.init)
    in_parallel(
        a.add_publisher,
        lambda: b.add_publisher(email="owner@atelier.example", handle="atelier"),
    )
    in_parallel(a.start, b.start)
    peer_through_cli(a, b)  # a peering goes both ways

    saved = b.api(
        "POST", "saved-searches",
        json={"actor": "atelier", "name": "Bois près de Mourenx",
              "query": {"q": "chêne", "kind": "offer", "near": "Mourenx", "radius_km": 40}},
    )  # fmt: skip
    _ok(saved, 201)
    need = _ok(b.api("POST", "listings", json=NEED), 201)
    wait_for(lambda: a.count_by_ap_id(need["ap_id"], origin="remote"), TIMEOUT, what="need on A")

    offer = a.create_listing()
    published = time.monotonic()
    wait_for(
        lambda: _told(a, "match") and _told(b, "match"),
        TOLD_WITHIN,
        what="both structures told of the match",
    )
    assert time.monotonic() - published < TOLD_WITHIN
    matches = _ok(b.api("GET", f"listings/{need['id']}/matches"))["items"]
    assert [m["listing"]["ap_id"] for m in matches] == [offer["ap_id"]]
    alerts = wait_for(lambda: _told(b, "saved_search"), TIMEOUT, what="the saved search alert")
    assert len(alerts) == 1

    proposed = b.api(
        "POST", "exchanges",
        json={"listing": offer["ap_id"], "from": "atelier", "quantity": "100",
              "value": {"amount": "45.50", "currency": "EUR"}, "message": "Bonjour !"},
    )  # fmt: skip
    on_b = _ok(proposed, 201)
    on_a = wait_for(lambda: _in_state(a, "proposed"), TIMEOUT, what="the proposal on A")
    act = {"actor": "menuiserie"}
    _ok(a.api("POST", f"exchanges/{on_a['id']}/accept", json=act))
    wait_for(lambda: _in_state(b, "accepted"), TIMEOUT, what="B to see it accepted")
    _ok(b.api("POST", f"exchanges/{on_b['id']}/done", json={"actor": "atelier"}))
    wait_for(
        lambda: (_exchange(a) or {}).get("done_marked_by") == on_b["receiver"],
        TIMEOUT,
        what="A to hear that B marked it done",
    )
    _ok(a.api("POST", f"exchanges/{on_a['id']}/done", json=act))
    seen_a = wait_for(lambda: _in_state(a, "done"), TIMEOUT, what="done on A")
    seen_b = wait_for(lambda: _in_state(b, "done"), TIMEOUT, what="done on B")

    for field in ("ap_id", "state", "value", "quantity", "provider", "receiver"):
        assert seen_a[field] == seen_b[field], field
    assert seen_a["impact"]["value_eur"] == seen_b["impact"]["value_eur"] == "45.5"
    assert seen_a["impact"]["co2e_kg"] == seen_b["impact"]["co2e_kg"] > 0
    stats_a, stats_b = _ok(a.api("GET", "stats")), _ok(b.api("GET", "stats"))
    assert stats_a["exchanges"]["done"] == stats_b["exchanges"]["done"] == 1
