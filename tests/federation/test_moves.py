"""A structure moves from node A to node B (FEP-7628, as Mastodon and Mitra do it), and a
follower on a third node C follows it there; a Move to an actor that does not name the old
one is refused."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from federation.models import Actor, Follow, InboxItem
from federation.signatures import sign_request
from instance.services import moving
from instance.services.export import FILES
from instance.services.structures import structure_by_handle
from outbox.actors import moved
from tests.fedinet import FakeActor, network
from tests.web.browser import Browser

AP = {"Accept": "application/activity+json"}
FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads"
OLD = "https://a.test/actors/menuiserie"
NEW = "https://b.test/actors/menuiserie"


async def _followed(node: object, follower: str) -> list[tuple[str, str]]:
    async with node.node.db.read() as session:  # type: ignore[attr-defined]
        me = select(Actor.id).where(Actor.uri == follower).scalar_subquery()
        rows = await session.execute(
            select(Actor.uri, Follow.state)
            .join(Follow, Follow.followed_id == Actor.id)
            .where(Follow.follower_id == me)
        )
        return sorted((uri, state) for uri, state in rows.all())


async def test_structure_moves_and_its_follower_follows(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test", "c.test"]) as (
        net,
        (a, b, c),
    ):
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("menuiserie", owner="m@b.example")
        await c.structure("ressourcerie", owner="r@c.example")
        follower = "https://c.test/actors/ressourcerie"
        token = await c.token("r@c.example")
        response = await c.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "ressourcerie", "target": "acct:menuiserie@a.test"},
        )
        assert response.status_code == 202
        await net.settle()
        assert await _followed(c, follower) == [(OLD, "accepted")]

        # Before the new actor names the old one, A refuses to move it.
        with pytest.raises(moving.NotAnAlias):
            await moving.move(a.node, "menuiserie", "acct:menuiserie@b.test")

        assert await moving.add_alias(b.node, "menuiserie", "acct:menuiserie@a.test") == [OLD]
        new_doc = await (await b.client().get("/actors/menuiserie", headers=AP)).get_json()
        assert new_doc["alsoKnownAs"] == [OLD]

        # The button of the structure's page, for its people.
        browser = Browser(a, headers={"Accept-Language": "fr"})
        await browser.login("m@a.example")
        # Its archive first, to take along.
        response = await browser.client.get("/@menuiserie/export", scheme="https")
        assert response.status_code == 200
        assert "attachment" in response.headers["Content-Disposition"]
        with tarfile.open(fileobj=io.BytesIO(await response.get_data()), mode="r:gz") as archive:
            names = archive.getnames()
            follows = archive.extractfile("menuiserie-export/follows.csv")
            actor_json = archive.extractfile("menuiserie-export/actor.json")
            assert follows is not None and actor_json is not None
            follows_csv = follows.read().decode()
            assert json.load(actor_json)["id"] == OLD
        assert names == [f"menuiserie-export/{name}" for name in FILES]
        assert follows_csv.splitlines() == [
            "direction,actor,state,since",
            f"follower,{follower},accepted,{follows_csv.splitlines()[1].rsplit(',', 1)[1]}",
        ]
        assert (await b.client().get("/@menuiserie/export")).status_code in (302, 401)
        page = await browser.post(
            "/@menuiserie/move", {"target": "acct:menuiserie@b.test"}, csrf_from="/@menuiserie"
        )
        assert page.status == 302
        await net.settle()

        moves = [x for x in net.activities_to("c.test") if x["type"] == "Move"]
        assert [(m["actor"], m["object"], m["target"]) for m in moves] == [(OLD, OLD, NEW)]
        old_doc = await (await a.client().get("/actors/menuiserie", headers=AP)).get_json()
        assert old_doc["movedTo"] == NEW
        # C's follow moved with it: Follow sent to B (accepted), the old one Undone at A.
        assert await _followed(c, follower) == [(NEW, "accepted")]
        followers = await a.client().get("/actors/menuiserie/followers?page=1", headers=AP)
        assert (await followers.get_json())["orderedItems"] == []
        followers = await b.client().get("/actors/menuiserie/followers?page=1", headers=AP)
        assert (await followers.get_json())["orderedItems"] == [follower]

        # The old structure no longer publishes, and its page says where it went.
        own = await a.token("m@a.example")
        response = await a.api(
            "POST",
            "/api/v1/listings",
            token=own,
            json={
                "structure": "menuiserie",
                "kind": "offer",
                "title": "Chutes de chêne",
                "description": "Chutes de bois massif à donner, idéal pour un atelier.",
                "category": "materials",
                "modality": "give",
                "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
            },
        )
        assert response.status_code == 403, await response.get_data()
        assert "moved" in (await response.get_json())["message"]
        page = await browser.get("/@menuiserie")
        assert "A déménagé" in page and NEW in page
        assert "/@menuiserie/move" not in page.text
        with pytest.raises(Exception, match="already moved"):
            await moving.move(a.node, "menuiserie", "acct:menuiserie@b.test")


async def test_move_to_an_actor_that_does_not_name_the_old_is_refused(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """The attack: an account (hijacked, or its server) sends its followers a Move to an
    unrelated actor, to hand them over. The receiver fetches the target itself, finds no
    ``alsoKnownAs`` naming the old account, and keeps its follow as it was."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test", "c.test"]) as (
        net,
        (a, b, c),
    ):
        await a.structure("menuiserie")
        await b.structure("menuiserie", owner="m@b.example")
        await c.structure("ressourcerie", owner="r@c.example")
        follower = "https://c.test/actors/ressourcerie"
        token = await c.token("r@c.example")
        await c.api(
            "POST",
            "/api/v1/follows",
            token=token,
            json={"actor": "ressourcerie", "target": "acct:menuiserie@a.test"},
        )
        await net.settle()
        # A sends the Move without the check of instance.services.moving.
        async with a.node.transaction() as session:
            structure = await structure_by_handle(session, "menuiserie")
            assert structure is not None and structure.actor is not None
            structure.actor.moved_to = NEW
            await moved(session, a.settings, structure.actor, structure)
        await net.settle()
        assert [x["type"] for x in net.activities_to("c.test")][-2:] == ["Update", "Move"]
        assert await _followed(c, follower) == [(OLD, "accepted")]
        async with c.node.db.read() as session:
            item = (
                await session.execute(select(InboxItem).where(InboxItem.activity_type == "Move"))
            ).scalar_one()
        assert item.state == "ignored"
        assert "alsoKnownAs" in (item.error or "")
        # Nothing was sent to B in the follower's name.
        assert not [x for x in net.activities_to("b.test") if x["type"] == "Follow"]


async def test_mastodon_move_of_a_followed_account(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """The Mastodon ``Move`` fixture (tests/fixtures/payloads/mastodon_move.json), signed by
    a followed Mastodon account: the new account, fetched, names the old one, so the local
    follow becomes a ``Follow`` of the new account and the old one gets an ``Undo``."""
    text = (FIXTURES / "mastodon_move.json").read_text()
    text = text.replace("https://autre-mastodon.example", "https://autre-mastodon.test")
    move = json.loads(text.replace("https://mastodon.example", "https://mastodon.test"))
    old = FakeActor(move["actor"], rsa.generate_private_key(public_exponent=65537, key_size=2048))
    new = FakeActor(
        move["target"], old.private_key, key_id=f"{move['target']}#main-key",
        extra={"alsoKnownAs": [old.uri]},
    )  # fmt: skip
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        net.hooks += [old, new]
        await a.structure("ressourcerie", owner="r@a.example")
        follower = "https://a.test/actors/ressourcerie"
        response = await a.api(
            "POST",
            "/api/v1/follows",
            token=await a.token("r@a.example"),
            json={"actor": "ressourcerie", "target": old.uri},
        )
        assert response.status_code == 202, await response.get_data()
        await net.settle()
        async with a.node.db.session() as session:
            await session.execute(update(Follow).values(state="accepted"))  # old accepted it
        body = json.dumps(move).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers.update(sign_request("POST", "https://a.test/inbox", headers, body, old.signing_key))
        assert (await net.post("https://a.test/inbox", body, headers)).status_code == 202
        await net.settle()
        assert await _followed(a, follower) == [(new.uri, "pending")]
        sent = [json.loads(r.content) for r in new.received]
        assert [(x["type"], x["object"]) for x in sent] == [("Follow", new.uri)]
        undone = [json.loads(r.content) for r in old.received][-1]
        assert (undone["type"], undone["object"]["type"]) == ("Undo", "Follow")
