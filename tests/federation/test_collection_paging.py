"""The collections served to other servers, walked page by page as Mastodon does: ``first``,
then ``next`` (``max_id``) to the oldest item and ``prev`` (``min_id``) back to the newest,
each item once; a page is bounded; bad paging parameters are answered 400."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import instance.ap.actors
from federation.models import Activity, Actor, Follow
from tests.fedinet import network

AP = {"Accept": "application/activity+json"}
BASE = "https://a.test"
SIZE = 3


async def _walk(client: Any, url: str, link: str) -> list[dict[str, Any]]:
    pages = []
    while url:
        response = await client.get(url.removeprefix(BASE), headers=AP)
        assert response.status_code == 200, url
        page = await response.get_json()
        assert page["type"] == "OrderedCollectionPage" and page["id"] == url
        assert len(page["orderedItems"]) <= SIZE
        pages.append(page)
        url = page.get(link, "")
    return pages


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [x["id"] if isinstance(x, dict) else x for p in pages for x in p["orderedItems"]]


async def test_outbox_and_followers_beyond_one_page(
    tmp_path: Path, new_db_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instance.ap.actors, "PAGE_SIZE", SIZE)
    async with network(tmp_path, new_db_url, ["a.test"]) as (_, (a,)):
        await a.structure("menuiserie")
        actor = f"{BASE}/actors/menuiserie"
        async with a.node.db.session() as session:
            me = (await session.execute(select(Actor).where(Actor.uri == actor))).scalar_one()
            for i in range(8):
                fan = Actor(
                    uri=f"https://fans.test/users/{i}",
                    handle=str(i),
                    domain="fans.test",
                    inbox_url=f"https://fans.test/users/{i}/inbox",
                )
                session.add(fan)
                await session.flush()
                session.add(Follow(follower_id=fan.id, followed_id=me.id, state="accepted"))
                uri = f"{BASE}/activities/old-{i}"
                session.add(Activity(uri=uri, actor_id=me.id, type="Create", body={"id": uri}))
        client = a.client()
        for name, newest_first in (
            ("outbox", [f"{BASE}/activities/old-{i}" for i in reversed(range(8))]),
            ("followers", [f"https://fans.test/users/{i}" for i in reversed(range(8))]),
        ):
            uri = f"{actor}/{name}"
            top = await (await client.get(uri.removeprefix(BASE), headers=AP)).get_json()
            assert (top["type"], top["totalItems"], top["first"]) == (
                "OrderedCollection", 8, f"{uri}?page=1"
            )  # fmt: skip
            forward = await _walk(client, top["first"], "next")
            assert [len(p["orderedItems"]) for p in forward] == [3, 3, 2]
            assert _ids(forward) == newest_first, name
            assert all(p["partOf"] == uri for p in forward)
            assert "prev" not in forward[0] and "next" not in forward[-1]
            backward = await _walk(client, forward[-1]["prev"], "prev")
            assert len(backward) == 2  # the pages before the last, newest last
            assert _ids(list(reversed(backward))) == newest_first[:6], name
            page_true = await (
                await client.get(f"/actors/menuiserie/{name}?page=true", headers=AP)
            ).get_json()
            assert page_true["orderedItems"] == forward[0]["orderedItems"]

        for query in ("page=0", "page=abc", "max_id=-1", "max_id=x", "min_id=", "page=1&max_id=3"):
            response = await client.get(f"/actors/menuiserie/outbox?{query}", headers=AP)
            assert response.status_code == 400, query
