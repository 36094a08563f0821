"""Forged changes of an exchange between two other structures.

Three nodes for the module (on the databases of ``module_db``): ``menuiserie`` of
a.test has an offer; ``atelier`` of b.test (peered with a.test) proposes
exchanges on it. ``intrus`` of c.test is a genuine structure of a genuine node:
it signs correctly, but only as itself. Each attack is delivered correctly
signed to the inbox that would act on it; the inbox must leave the exchange as
it was (the item is kept, processed, and ignored) on both nodes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.exchanges import Exchange
from federation.keystore import actor_signing_key
from federation.models import Actor, InboxItem
from tests.federation.test_listings_federation import LISTING, peer
from tests.fedinet import FediNet, network
from tests.security.helpers import signed_headers
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

INTRUS = "https://c.test/actors/intrus"
ATELIER = "https://b.test/actors/atelier"
MENUISERIE = "https://a.test/actors/menuiserie"


@dataclass
class World:
    net: FediNet
    a: TestNode
    b: TestNode
    c: TestNode
    offer: dict[str, Any]  # menuiserie's listing on a.test
    tokens: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("exchange-forgeries")
    async with network(path, module_db, ["a.test", "b.test", "c.test"]) as (net, (a, b, c)):
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("atelier", owner="t@b.example")
        await c.structure("intrus", owner="i@c.example")
        await peer(net, a, b)
        await peer(net, b, a)
        tokens = {"a": await a.token("m@a.example"), "b": await b.token("t@b.example")}
        response = await a.api("POST", "/api/v1/listings", token=tokens["a"], json=LISTING)
        assert response.status_code == 201
        offer = await response.get_json()
        await net.settle()
        yield World(net, a, b, c, offer, tokens)


async def _propose(world: World, *, accept: bool = False) -> tuple[str, str]:
    """A fresh exchange proposed by atelier (and accepted by menuiserie): (Offer, Agreement)."""
    response = await world.b.api(
        "POST",
        "/api/v1/exchanges",
        token=world.tokens["b"],
        json={"listing": world.offer["ap_id"], "from": "atelier", "message": "Bonjour"},
    )
    assert response.status_code == 201, await response.get_data()
    ap_id = (await response.get_json())["ap_id"]
    await world.net.settle()
    async with world.a.node.db.session() as session:
        exchange = await session.scalar(select(Exchange).where(Exchange.ap_id == ap_id))
        assert exchange is not None and exchange.state == "proposed"
        offer_id, exchange_id = exchange.offer_ap_id, exchange.id
    if accept:
        response = await world.a.api(
            "POST",
            f"/api/v1/exchanges/{exchange_id}/accept",
            token=world.tokens["a"],
            json={"actor": "menuiserie"},
        )
        assert response.status_code == 200
        await world.net.settle()
    return offer_id, ap_id


async def _states(world: World, ap_id: str) -> tuple[tuple[str, int | None], ...]:
    """(state, done marked by) of the exchange on a.test and on b.test."""
    found = []
    for node in (world.a, world.b):
        async with node.node.db.session() as session:
            exchange = await session.scalar(select(Exchange).where(Exchange.ap_id == ap_id))
            assert exchange is not None
            found.append((exchange.state, exchange.done_marked_by_id))
    return tuple(found)


async def _send_as(
    world: World, node: TestNode, handle: str, to: TestNode, body: dict[str, Any]
) -> None:
    """Deliver ``body`` to ``to``'s inbox, correctly signed by ``handle`` of ``node``."""
    async with node.node.db.session() as session:
        actor = (await session.execute(select(Actor).where(Actor.handle == handle))).scalar_one()
        key = actor_signing_key(actor)
    inbox = f"https://{to.domain}/inbox"
    data = json.dumps(body).encode()
    response = await world.net.post(inbox, data, signed_headers(inbox, data, key))
    assert response.status_code == 202, response.text
    await world.net.settle()
    async with to.node.db.session() as session:
        item = await session.scalar(select(InboxItem).where(InboxItem.activity_uri == body["id"]))
        assert item is not None and item.state == "ignored", item and (item.state, item.error)


def _activity(actor: str, type_: str, obj: Any, **extra: Any) -> dict[str, Any]:
    host = actor.split("/")[2]
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"https://{host}/activities/{uuid.uuid4()}",
        "type": type_,
        "actor": actor,
        "object": obj,
        **extra,
    }


async def test_accept_from_a_third_node_is_refused(world: World) -> None:
    """Attack: intrus (c.test) sends atelier's node an Accept of atelier's Offer, as if it
    were the listing's structure. The exchange stays proposed on both nodes."""
    offer_id, ap_id = await _propose(world)
    accept = _activity(INTRUS, "Accept", offer_id, result=ap_id, to=[ATELIER])
    await _send_as(world, world.c, "intrus", world.b, accept)
    assert await _states(world, ap_id) == (("proposed", None), ("proposed", None))


async def test_accept_of_an_agreement_nobody_made_is_refused(world: World) -> None:
    """Attack: menuiserie's own node (a genuine signature) accepts an Offer and an
    Agreement that were never made. Nothing is created or changed on b.test."""
    async with world.b.node.db.session() as session:
        before = list((await session.execute(select(Exchange.ap_id, Exchange.state))).all())
    forged_offer = f"https://b.test/activities/{uuid.uuid4()}"
    accept = _activity(
        MENUISERIE, "Accept", forged_offer,
        result=f"https://b.test/agreements/{uuid.uuid4()}", to=[ATELIER],
    )  # fmt: skip
    await _send_as(world, world.a, "menuiserie", world.b, accept)
    async with world.b.node.db.session() as session:
        after = list((await session.execute(select(Exchange.ap_id, Exchange.state))).all())
    assert after == before


async def test_proposer_accepting_its_own_offer_is_refused(world: World) -> None:
    """Attack: atelier accepts its own Offer at a.test, in the listing's structure's
    place. The exchange stays proposed on a.test."""
    offer_id, ap_id = await _propose(world)
    accept = _activity(ATELIER, "Accept", offer_id, result=ap_id, to=[MENUISERIE])
    await _send_as(world, world.b, "atelier", world.a, accept)
    assert await _states(world, ap_id) == (("proposed", None), ("proposed", None))


async def test_forged_done_and_cancel_from_a_non_party_are_refused(world: World) -> None:
    """Attack: on an accepted exchange, intrus (c.test) marks it done (a Create of an
    EconomicEvent realising the Agreement) and cancels it (a Reject of the Agreement),
    at both parties' nodes. It stays accepted, marked done by nobody."""
    _offer_id, ap_id = await _propose(world, accept=True)
    assert await _states(world, ap_id) == (("accepted", None), ("accepted", None))
    for target in (world.a, world.b):
        event = {
            "id": f"https://c.test/economic-events/{uuid.uuid4()}",
            "type": "EconomicEvent",
            "attributedTo": INTRUS,
            "action": "transfer",
            "realizationOf": ap_id,
            "fulfills": f"{ap_id}#commitment",
        }
        await _send_as(world, world.c, "intrus", target, _activity(INTRUS, "Create", event))
        await _send_as(world, world.c, "intrus", target, _activity(INTRUS, "Reject", ap_id))
    assert await _states(world, ap_id) == (("accepted", None), ("accepted", None))
