"""Backfill (``federation.backfill``, ``instance.services.backfill``): a followed actor's
outbox is read back, bounded, each item checked; and on two nodes, B following A after
A published shows A's listings at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from federation import backfill
from federation.backfill import Bounds, walk_outbox
from federation.models import Follow
from instance.services.backfill import keep_listing, run_due
from tests.federation.test_listings_federation import LISTING, peer, remote_listings
from tests.fedinet import network

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OUTBOX = "https://a.test/actors/menuiserie/outbox"
ACTOR = "https://a.test/actors/menuiserie"


def create(n: int, *, actor: str = ACTOR, days: int = 1, **changes: Any) -> dict[str, Any]:
    published = (NOW - timedelta(days=days)).isoformat()
    obj = {
        "id": f"https://a.test/listings/{n}", "type": "Note", "attributedTo": actor,
        "published": published, "entraide:status": "open",
    }  # fmt: skip
    obj.update(changes.pop("object", {}))
    item = {
        "id": f"https://a.test/activities/{n}", "type": "Create", "actor": actor,
        "published": published, "object": obj,
    }  # fmt: skip
    item.update(changes)
    return item


def server(pages: dict[str, Any], delay: float = 0.0) -> Callable[[str], Any]:
    fetched: list[str] = []

    async def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        if delay:
            await asyncio.sleep(delay)
        page = pages[url] if url in pages else pages["*"](url)
        return dict(page)

    fetch.fetched = fetched  # type: ignore[attr-defined]
    return fetch


def only(actor: str) -> Callable[[str], bool]:
    return lambda uri: uri == actor


async def walk(fetch: Any, bounds: Bounds | None = None) -> backfill.Walk:
    return await walk_outbox(fetch, OUTBOX, only(ACTOR), keep_listing, bounds or Bounds(), NOW)


async def test_inline_items_and_pages_by_url_or_inline_are_read() -> None:
    inline = server({OUTBOX: {"type": "OrderedCollection", "orderedItems": [create(1), create(2)]}})
    assert [i["id"] for i in (await walk(inline)).items] == [create(1)["id"], create(2)["id"]]
    paged = server({
        OUTBOX: {"type": "OrderedCollection", "first": f"{OUTBOX}?page=1"},
        f"{OUTBOX}?page=1": {"orderedItems": [create(1)], "next": f"{OUTBOX}?page=2"},
        f"{OUTBOX}?page=2": {"orderedItems": [create(2)]},
    })  # fmt: skip
    result = await walk(paged)
    assert (len(result.items), result.pages, result.stopped) == (2, 3, None)
    embedded = server({
        OUTBOX: {"type": "OrderedCollection",
                 "first": {"orderedItems": [create(3)], "next": f"{OUTBOX}?page=2"}},
        f"{OUTBOX}?page=2": {"orderedItems": [create(4)]},
    })  # fmt: skip
    assert len((await walk(embedded)).items) == 2


async def test_a_huge_outbox_stops_at_the_item_limit_and_an_endless_one_at_the_page_limit() -> None:
    counter = iter(range(1_000_000))

    def page(url: str) -> dict[str, Any]:
        base = next(counter) * 100
        return {"orderedItems": [create(base + i) for i in range(100)], "next": f"{url}x"}

    huge = server({OUTBOX: {"type": "OrderedCollection", "first": f"{OUTBOX}?p"}, "*": page})
    result = await walk(huge)
    assert (len(result.items), result.stopped) == (300, "item limit (300)")
    assert len(huge.fetched) == 4  # type: ignore[attr-defined]

    def empty(url: str) -> dict[str, Any]:
        return {"orderedItems": [], "next": f"{url}x"}  # never ends, never gives anything

    endless = server({OUTBOX: {"type": "OrderedCollection", "first": f"{OUTBOX}?p"}, "*": empty})
    result = await walk(endless, Bounds(max_pages=10))
    assert (result.items, result.pages, result.stopped) == ([], 10, "page limit (10)")
    looping = server({
        OUTBOX: {"type": "OrderedCollection", "first": f"{OUTBOX}?p"},
        f"{OUTBOX}?p": {"orderedItems": [create(1)], "next": f"{OUTBOX}?p"},
    })  # fmt: skip
    result = await walk(looping)
    assert (len(result.items), result.stopped) == (1, "a page seen twice")


async def test_a_slow_outbox_stops_at_the_time_budget_with_what_it_gave() -> None:
    def page(url: str) -> dict[str, Any]:
        return {"orderedItems": [create(len(url))], "next": f"{url}x"}

    slow = server({OUTBOX: {"type": "OrderedCollection", "first": f"{OUTBOX}?p"}, "*": page}, 0.1)
    started = asyncio.get_running_loop().time()
    result = await walk(slow, Bounds(seconds=0.45))
    assert asyncio.get_running_loop().time() - started < 1.0
    assert result.stopped == "time budget (0.45 s)"
    assert 1 <= len(result.items) <= 4


async def test_a_lying_outbox_is_refused_item_by_item() -> None:
    other = "https://a.test/actors/voisin"
    items = [
        create(1),  # kept
        create(2, actor=other),  # another actor of the same host
        create(3, actor="https://evil.test/actors/x"),  # an actor of another host
        create(4, object={"attributedTo": other}),  # an object attributed to someone else
        create(5, id="https://evil.test/activities/5"),  # an id on another host
        create(6, object={"id": "https://evil.test/listings/6"}),  # an object elsewhere
        create(7, days=120),  # older than 90 days
        create(8, object={"entraide:status": "fulfilled"}),  # not open
        "https://a.test/activities/9",  # not embedded
        {**create(10), "type": "Delete"},  # not a Create
        create(11, object={"published": "yesterday"}),  # no readable date
    ]
    result = await walk(server({OUTBOX: {"type": "OrderedCollection", "orderedItems": items}}))
    assert [i["id"] for i in result.items] == ["https://a.test/activities/1"]
    reasons = dict(result.refused)
    assert reasons == {
        "https://a.test/activities/2": "its actor is not the followed actor",
        "https://a.test/activities/3": "its actor is not on the outbox's host",
        "https://a.test/activities/4": "its object is attributed to another actor",
        "https://evil.test/activities/5": "its id is not on the outbox's host",
        "https://a.test/activities/6": "its object is not on the outbox's host",
        "https://a.test/activities/7": "not published in the last days kept",
        "https://a.test/activities/8": "not an open listing",
        "https://a.test/activities/9": "not an embedded activity",
        "https://a.test/activities/10": "a Delete (only what creates a listing is read back)",
        "https://a.test/activities/11": "not published in the last days kept",
    }
    # A peering accepts every actor of the peer's host, and still none of another host.
    peering = await walk_outbox(
        server({OUTBOX: {"type": "OrderedCollection", "orderedItems": items[:3]}}),
        OUTBOX, lambda uri: uri.startswith("https://a.test/"), keep_listing, Bounds(), NOW,
    )  # fmt: skip
    assert [i["id"] for i in peering.items] == [create(1)["id"], create(2)["id"]]


async def test_a_page_on_another_host_is_not_fetched() -> None:
    fetch = server({OUTBOX: {"type": "OrderedCollection", "orderedItems": [create(1)],
                             "first": "https://evil.test/page"}})  # fmt: skip
    result = await walk(fetch)
    assert len(result.items) == 1
    assert result.stopped is not None and "another host" in result.stopped
    assert fetch.fetched == [OUTBOX]  # type: ignore[attr-defined]


async def test_b_follows_a_after_a_published_and_sees_its_listings_at_once(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        token_a = await a.token("m@a.example")
        for title in ("Chutes de chêne", "Planches de hêtre", "Tasseaux"):
            response = await a.api(
                "POST", "/api/v1/listings", token=token_a, json={**LISTING, "title": title}
            )
            assert response.status_code == 201
        await net.settle()
        assert await remote_listings(b) == []  # nobody on B follows A yet

        await b.structure("ressourcerie", owner="r@b.example")
        token = await b.token("r@b.example")
        response = await b.api(
            "POST", "/api/v1/follows", token=token,
            json={"actor": "ressourcerie", "target": "acct:menuiserie@a.test"},
        )  # fmt: skip
        assert response.status_code == 202
        await net.settle()
        titles = sorted(item["title"] for item in await remote_listings(b))
        assert titles == ["Chutes de chêne", "Planches de hêtre", "Tasseaux"]

        # Read again (a second acceptance, a retry): nothing is stored twice.
        async with b.node.transaction() as session:
            follow_id = await session.scalar(select(Follow.id).where(Follow.state == "accepted"))
            assert follow_id is not None
            backfill.queue(session, follow_id)
        assert await run_due(b.node) == 1
        await net.settle()
        assert len(await remote_listings(b)) == 3
        async with b.node.db.session() as session:
            left = await session.scalar(select(func.count(backfill.BackfillJob.id)))
        assert left == 0


async def test_a_peering_accepted_reads_back_the_peer_territorys_listings(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        token_a = await a.token("m@a.example")
        for title in ("Chutes de chêne", "Tasseaux"):
            response = await a.api(
                "POST", "/api/v1/listings", token=token_a, json={**LISTING, "title": title}
            )
            assert response.status_code == 201
        await net.settle()
        await peer(net, b, a)  # B's territory follows A's, A approves
        titles = sorted(item["title"] for item in await remote_listings(b))
        assert titles == ["Chutes de chêne", "Tasseaux"]
