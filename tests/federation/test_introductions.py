"""« Correspondances » on a structure's page, the animators' view of every match of the
territory, and « Mettre en relation »: one message to both structures, in one
conversation, also when one of them lives on another node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from domain.models import Listing
from domain.social import Conversation, Message
from tests.federation.test_listings_federation import LISTING, peer
from tests.federation.test_matching import NEED, get, publish, told_kind
from tests.fedinet import network
from tests.web.browser import Browser


async def test_a_structure_page_shows_its_matches_to_whom_it_may(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        _, offer = await publish(a, "menuiserie", LISTING)
        _, need = await publish(a, "atelier", NEED)
        await net.settle()
        links = (f'href="/listings/{need["id"]}"', f'href="/listings/{offer["id"]}"')
        for language, heading in (("fr", "Correspondances"), ("en", "Matches")):
            page = await Browser(a, {"Accept-Language": language}).get("/@atelier")
            assert page.status == 200
            assert heading in page and all(link in page.text for link in links), language
        # A listing of the structure hidden by the moderators: the public no longer sees
        # its match; the structure's own people still do.
        async with a.node.db.session() as session:
            await session.execute(
                update(Listing).where(Listing.id == need["id"]).values(hidden=True)
            )
            await session.commit()
        public = await Browser(a).get("/@atelier")
        assert "Correspondances" not in public and links[1] not in public.text
        member = Browser(a)
        await member.login("atelier@a.test.example")
        own = await member.get("/@atelier")
        assert "Correspondances" in own and links[1] in own.text


async def test_an_animator_introduces_a_local_and_a_remote_structure(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        await peer(net, b, a)
        _, offer = await publish(a, "menuiserie", LISTING)
        await publish(b, "atelier", NEED)
        await publish(a, "jardin", {**NEED, "structure": "jardin", "category": "equipment"})
        await net.settle()

        # Only animators, moderators and administrators see the territory's matches.
        member = await a.token("menuiserie@a.test.example")
        response = await a.api("GET", "/api/v1/territory/matches", token=member)
        assert response.status_code == 403
        animator = await a.token("animation@a.test.example", role="animator")
        listed = await get(a, "/api/v1/territory/matches", animator)
        assert len(listed["items"]) == 1 and listed["next"] is None
        match = listed["items"][0]
        assert match["offer"]["id"] == offer["id"] and match["need"]["origin"] == "b.test"
        assert match["introduced_at"] is None
        empty = await get(a, "/api/v1/territory/matches?category=equipment", animator)
        assert empty["items"] == []

        browser = Browser(a)
        await browser.login("animation@a.test.example")
        page = await browser.get("/territoire/correspondances")
        assert page.status == 200 and offer["title"] in page and NEED["title"] in page
        assert (await Browser(a).get("/territoire/correspondances")).status == 302  # log in

        text = "Bonjour à vous deux : la menuiserie a du chêne, l'atelier en cherche."
        response = await a.api(
            "POST", f"/api/v1/matches/{match['id']}/introduce", token=member,
            json={"message": text},
        )  # fmt: skip
        assert response.status_code == 403
        for path, body, status in (
            ("/api/v1/matches/999999/introduce", {}, 404),
            (f"/api/v1/matches/{match['id']}/introduce", {"message": 5}, 422),
            (f"/api/v1/matches/{match['id']}/introduce", {"actor": "nobody"}, 422),
            (f"/api/v1/matches/{match['id']}/introduce", {"message": "x" * 5001}, 422),
        ):
            response = await a.api("POST", path, token=animator, json=body)
            assert response.status_code == status, (body, await response.get_data())
        page = await browser.post(
            f"/territoire/correspondances/{match['id']}/introduce",
            {"message": text},
            csrf_from="/territoire/correspondances",
        )
        assert page.status == 302
        again = await a.api(
            "POST", f"/api/v1/matches/{match['id']}/introduce", token=animator, json={}
        )
        assert again.status_code == 409  # told once, whoever asks again
        await net.settle()

        # On A: one conversation of three (the territory and both structures), one message,
        # the local structure told.
        async with a.node.db.session() as session:
            conversations = list((await session.execute(select(Conversation))).scalars())
            assert len(conversations) == 1
            assert len(conversations[0].participants) == 3
            sent = (await session.execute(select(Message))).scalars().one()
            assert sent.content_text == text
            assert "@menuiserie" in sent.content_html and "@atelier" in sent.content_html
        assert len(await told_kind(a, "menuiserie@a.test.example", "message")) == 1
        # On B: the remote structure received the direct message and is told.
        async with b.node.db.session() as session:
            received = (await session.execute(select(Message))).scalars().one()
            assert text in received.content_text
            assert not received.local
        assert len(await told_kind(b, "atelier@b.test.example", "message")) == 1
        listed = await get(a, "/api/v1/territory/matches", animator)
        assert listed["items"][0]["introduced_at"] is not None
        page = await browser.get("/territoire/correspondances")
        assert "Mis en relation le" in page
