"""Timelines: the public posts of a Mastodon account a structure follows show in its
timeline, sanitised, bounded per account; edits and deletions apply; a mention of a
structure in a public post notifies it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from federation.models import Actor, Follow
from inbox import replies as public_notes
from tests.fedinet import FakeActor, network
from tests.social.replies_support import FIXTURES, deliver, key, notifications
from tests.support import TestNode

ALICE = "https://mastodon.test/users/alice"


def _note(n: int, text: str) -> dict[str, Any]:
    raw = (FIXTURES / "mastodon_create_note_public.json").read_text()
    document: dict[str, Any] = json.loads(
        raw.replace("https://mastodon.example", "https://mastodon.test")
    )
    document["id"] = f"{ALICE}/statuses/{n}/activity"
    document["object"]["id"] = f"{ALICE}/statuses/{n}"
    document["object"]["content"] = text
    return document


async def _follows_alice(node: TestNode, handle: str) -> None:
    async with node.node.db.session() as session:
        follower = await session.scalar(select(Actor).where(Actor.handle == handle))
        followed = await session.scalar(select(Actor).where(Actor.uri == ALICE))
        assert follower is not None and followed is not None
        session.add(Follow(follower_id=follower.id, followed_id=followed.id, state="accepted"))
        await session.commit()


async def _timeline(node: TestNode, token: str) -> list[dict[str, Any]]:
    response = await node.api("GET", "/api/v1/timeline?actor=ferme", token=token)
    assert response.status_code == 200, await response.get_data()
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items


async def test_followed_account_posts_in_timeline(
    tmp_path: Path, new_db_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public_notes, "POSTS_KEPT_PER_ACTOR", 2)
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        await a.structure("ferme", owner="f@a.example")
        token = await a.token("f@a.example")
        alice = FakeActor(ALICE, key())
        net.hooks.append(alice)
        # Not followed yet: her public post is not kept.
        await deliver(a, alice, _note(1, "<p>Avant</p>"))
        await net.settle()
        assert await _timeline(a, token) == []
        await _follows_alice(a, "ferme")
        await deliver(a, alice, _note(2, "<p>Deux</p><script>alert(1)</script>"))
        await deliver(a, alice, _note(3, "<p>Trois</p>"))
        await net.settle()
        items = await _timeline(a, token)
        assert [i["content"] for i in items] == ["Trois", "Deux"]
        assert items[0]["type"] == "post" and items[0]["author"] == ALICE
        assert items[0]["community"] is None
        assert "<script" not in items[1]["content_html"]
        page = (await (await a.client().get("/timeline")).get_data()).decode()
        assert page  # the page renders for anyone (a login page when logged out)

        await deliver(a, alice, _note(4, "<p>Quatre</p>"))
        await net.settle()
        assert [i["content"] for i in await _timeline(a, token)] == ["Quatre", "Trois"]

        edited = _note(4, "<p>Quatre, corrigé</p>")
        await deliver(
            a,
            alice,
            {"id": f"{ALICE}/statuses/4#updates/1", "type": "Update", "actor": ALICE,
             "object": edited["object"]},
        )  # fmt: skip
        await deliver(
            a,
            alice,
            {"id": f"{ALICE}/statuses/3#delete", "type": "Delete", "actor": ALICE,
             "object": {"id": f"{ALICE}/statuses/3", "type": "Tombstone"}},
        )  # fmt: skip
        await net.settle()
        assert [i["content"] for i in await _timeline(a, token)] == ["Quatre, corrigé"]

        # A mention of the structure in a public post notifies it, once.
        note = _note(
            7, '<p><a href="https://a.test/@ferme" class="u-url mention">@ferme</a> bravo</p>'
        )
        note["object"]["tag"] = [
            {"type": "Mention", "href": "https://a.test/actors/ferme", "name": "@ferme@a.test"}
        ]
        await deliver(a, alice, note)
        await deliver(a, alice, {**note, "id": note["id"] + "-replayed"})
        await net.settle()
        notices = await notifications(a, token, "ferme")
        assert [n["type"] for n in notices] == ["mention"]
        assert notices[0]["subject"]["note"] == f"{ALICE}/statuses/7"
