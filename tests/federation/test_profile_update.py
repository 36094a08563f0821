"""A structure's profile edited on its node reaches its followers on another node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from federation.models import Actor
from tests.fedinet import network
from tests.web.browser import Browser
from tests.web.test_profiles import FORM, image_bytes, post_profile


async def test_an_edited_profile_reaches_a_follower_node(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("ressourcerie", owner="r@b.example")
        token = await b.token("r@b.example")
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "ressourcerie", "target": "acct:menuiserie@a.test"},
        )
        assert response.status_code == 202
        await net.settle()

        member = Browser(a)
        await member.login("m@a.example")
        page = await post_profile(member, "menuiserie", FORM, image_bytes("PNG", (600, 300)))
        assert page.status == 302
        await net.settle()

        updates = [x for x in net.activities_to("b.test") if x["type"] == "Update"]
        assert len(updates) == 1
        sent = updates[0]["object"]
        assert sent["id"] == "https://a.test/actors/menuiserie"
        assert sent["name"] == "Menuiserie Lasserre"
        assert sent["icon"]["mediaType"] == "image/png"
        async with b.node.db.session() as session:
            known = await session.scalar(
                select(Actor).where(Actor.uri == "https://a.test/actors/menuiserie")
            )
            assert known is not None
            assert known.name == "Menuiserie Lasserre"
            assert (known.document or {})["icon"]["url"] == sent["icon"]["url"]
        logo = await b.node.http.get(sent["icon"]["url"])
        assert logo.status_code == 200
        assert logo.headers["content-type"] == "image/png"
