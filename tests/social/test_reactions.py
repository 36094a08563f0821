"""Likes and boosts of a listing: counted once per actor, shown, taken back; a forged
flood of Likes from one domain is bounded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.models import Listing
from domain.replies import Reaction
from federation.models import InboxItem
from inbox import reactions
from instance.services.replies import interest
from tests.fedinet import FakeActor, network
from tests.social.replies_support import deliver, fixture, key, listing_on
from tests.support import TestNode

HOSTS = {"mastodon.example": "mastodon.test"}


async def _interested(node: TestNode, listing_id: int) -> int:
    async with node.node.db.session() as session:
        listing = await session.get(Listing, listing_id)
        assert listing is not None
        return await interest(session, listing)


async def test_likes_and_boosts_counted_without_who(
    tmp_path: Path, new_db_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted once per actor and kind, nobody's name kept, shown on the page, taken back
    by Undo. Attack: throwaway accounts of one server like the listing in a loop; past
    the hourly bound per domain, their Likes are dropped (ignored, with the reason)."""
    monkeypatch.setattr(reactions, "PER_DOMAIN_PER_HOUR", 3)
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        _, listing = await listing_on(a)
        alice = FakeActor("https://mastodon.test/users/alice", key())
        bob = FakeActor("https://mastodon.test/users/bob", key())
        net.hooks.extend([alice, bob])
        like = fixture("mastodon_like.json", a, listing, **HOSTS)
        await deliver(a, alice, like)
        again = {**like, "id": like["id"] + "0"}  # a second Like of the same actor
        await deliver(a, alice, again)
        await deliver(
            a,
            bob,
            {
                "id": "https://mastodon.test/users/bob/statuses/1/activity",
                "type": "Announce",
                "actor": bob.uri,
                "object": listing["ap_id"],
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            },
        )
        await net.settle()
        assert await _interested(a, listing["id"]) == 2
        async with a.node.db.session() as session:
            rows = list((await session.execute(select(Reaction))).scalars())
        stored = " ".join(f"{r.digest} {r.activity_digest} {r.origin}" for r in rows)
        assert "alice" not in stored and "bob" not in stored  # nobody's name is kept
        page = (await (await a.client().get(f"/listings/{listing['id']}")).get_data()).decode()
        assert "2 intéressés" in page

        await deliver(a, alice, fixture("mastodon_undo_like.json", a, listing, **HOSTS))
        await net.settle()
        assert await _interested(a, listing["id"]) == 1

        for n in range(5):
            bot = FakeActor(f"https://flood.test/users/bot{n}", key())
            net.hooks.append(bot)
            await deliver(
                a,
                bot,
                {
                    "id": f"{bot.uri}#likes/{n}",
                    "type": "Like",
                    "actor": bot.uri,
                    "object": listing["ap_id"],
                },
            )
        await net.settle()
        assert await _interested(a, listing["id"]) == 1 + 3
        async with a.node.db.session() as session:
            errors = list(
                (
                    await session.execute(
                        select(InboxItem.error).where(InboxItem.state == "ignored")
                    )
                ).scalars()
            )
        assert errors == ["like dropped: 3 from flood.test in the last hour"] * 2
