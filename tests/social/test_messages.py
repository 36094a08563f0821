"""Direct messages between structures of two nodes, with Mastodon, and against intruders."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from federation.errors import FetchError
from federation.fetch import fetch_json
from federation.keystore import actor_signing_key
from federation.models import Actor
from federation.signatures import sign_request
from tests.fedinet import FakeActor, network
from tests.support import TestNode

FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads"


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def _two_structures(a: TestNode, b: TestNode) -> tuple[str, str]:
    await a.structure("menuiserie", owner="m@a.example")
    await b.structure("ressourcerie", owner="r@b.example")
    return await a.token("m@a.example"), await b.token("r@b.example")


async def _send(node: TestNode, token: str, sender: str, to: str, text: str, **extra: Any) -> Any:
    response = await node.api(
        "POST",
        "/api/v1/messages",
        token=token,
        json={"from": sender, "to": to, "content": text, **extra},
    )
    assert response.status_code == 201, await response.get_data()
    return await response.get_json()


async def _conversations(node: TestNode, token: str, handle: str) -> list[dict[str, Any]]:
    response = await node.api("GET", f"/api/v1/messages?actor={handle}", token=token)
    assert response.status_code == 200, await response.get_data()
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items


async def _actor_key(node: TestNode, handle: str) -> Any:
    async with node.node.db.session() as session:
        actor = (await session.execute(select(Actor).where(Actor.handle == handle))).scalar_one()
        return actor_signing_key(actor)


async def test_message_and_reply_across_nodes(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A structure on A writes to one on B; B's reply comes back into the same thread."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        token_a, token_b = await _two_structures(a, b)
        sent = await _send(
            a,
            token_a,
            "menuiserie",
            "acct:ressourcerie@b.test",
            "Bonjour, vos palettes sont-elles disponibles ?",
        )
        await net.settle()
        on_b = await _conversations(b, token_b, "ressourcerie")
        assert len(on_b) == 1
        assert on_b[0]["unread"] == 1
        assert [m["content"] for m in on_b[0]["messages"]] == [
            "@ressourcerie Bonjour, vos palettes sont-elles disponibles ?"
        ]
        assert on_b[0]["messages"][0]["ap_id"] == sent["ap_id"]

        await _send(b, token_b, "ressourcerie", "acct:menuiserie@a.test", "Oui, passez jeudi.")
        await net.settle()
        on_a = await _conversations(a, token_a, "menuiserie")
        assert len(on_a) == 1, on_a
        thread = on_a[0]["messages"]
        assert thread[0]["ap_id"] == sent["ap_id"]
        assert len(thread) == 2
        assert "Oui, passez jeudi." in thread[1]["content"]
        assert thread[1]["in_reply_to"] == sent["ap_id"]

        # The delivery was a DM as Mastodon shapes it: to the recipient only, a Mention.
        create = next(
            e.json()
            for e in net.sent("POST", "b.test")
            if e.json() and e.json().get("type") == "Create"
        )
        note = create["object"]
        assert note["to"] == ["https://b.test/actors/ressourcerie"]
        assert note["cc"] == []
        assert note["tag"][0]["type"] == "Mention"
        assert "https://www.w3.org/ns/activitystreams#Public" not in json.dumps(create)

        # Never public: not in the sender's outbox.
        response = await a.client().get(
            "/actors/menuiserie/outbox?page=1", headers={"Accept": "application/activity+json"}
        )
        assert sent["ap_id"] not in json.dumps(await response.get_json())


async def test_mastodon_direct_message_is_shown_and_answered(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A DM in the exact shape Mastodon sends (fixture) reaches the structure; the reply
    goes back to the Mastodon user as a DM."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        await a.structure("ferme", owner="f@a.example")
        token = await a.token("f@a.example")
        alice = FakeActor("https://mastodon.test/users/alice", _key())
        net.hooks.append(alice)
        raw = (FIXTURES / "mastodon_create_note_direct.json").read_text()
        raw = raw.replace("https://mastodon.example", "https://mastodon.test")
        raw = raw.replace("https://entraide.example/u/ferme-du-bosc", "https://a.test/actors/ferme")
        raw = raw.replace("https://entraide.example/@ferme-du-bosc", "https://a.test/@ferme")
        activity = json.loads(raw)
        activity["object"]["content"] += '<script>alert("x")</script><img src=x onerror=alert(1)>'
        body = json.dumps(activity).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers.update(
            sign_request("POST", "https://a.test/inbox", headers, body, alice.signing_key)
        )
        response = await a.client().post("/inbox", data=body, headers=headers)
        assert response.status_code == 202, await response.get_data()
        await net.settle()
        conversations = await _conversations(a, token, "ferme")
        assert len(conversations) == 1
        message = conversations[0]["messages"][0]
        assert "broyeur" in message["content"]
        assert "<script" not in message["content_html"]
        assert "onerror" not in message["content_html"]

        await _send(a, token, "ferme", "https://mastodon.test/users/alice", "Oui, samedi 10 h.")
        await net.settle()
        reply = json.loads(alice.received[-1].content)
        assert reply["type"] == "Create"
        assert reply["object"]["to"] == ["https://mastodon.test/users/alice"]
        assert reply["object"]["cc"] == []
        assert reply["object"]["tag"] == [
            {
                "type": "Mention",
                "href": "https://mastodon.test/users/alice",
                "name": "@alice@mastodon.test",
            }
        ]


async def test_third_node_cannot_read_or_join(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Attack: C fetches a message of the A↔B conversation (unsigned, signed by C) → 404;
    C replies into the thread → a separate conversation; C signs as B → 403."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test", "c.test"]) as (
        net,
        (a, b, c),
    ):
        token_a, _ = await _two_structures(a, b)
        await c.structure("intrus", owner="i@c.example")
        token_c = await c.token("i@c.example")
        sent = await _send(a, token_a, "menuiserie", "acct:ressourcerie@b.test", "Confidentiel")
        await net.settle()

        unsigned = await a.client().get(
            sent["ap_id"].removeprefix("https://a.test"),
            headers={"Accept": "application/activity+json"},
        )
        assert unsigned.status_code == 404
        with pytest.raises(FetchError):
            await fetch_json(
                c.node.http,
                sent["ap_id"],
                key=await _actor_key(c, "intrus"),
                allow_private=True,
                allow_http=True,
            )
        note = await fetch_json(
            b.node.http,
            sent["ap_id"],
            key=await _actor_key(b, "ressourcerie"),
            allow_private=True,
            allow_http=True,
        )
        assert note["content"].endswith("Confidentiel</p>")

        # C answers "in the thread": it must not land in the A↔B conversation.
        on_a = await _conversations(a, token_a, "menuiserie")
        context = on_a[0]["context"]
        await _send(c, token_c, "intrus", "acct:menuiserie@a.test", "Je m'invite")
        await net.settle()
        create = next(
            act
            for act in (e.json() for e in net.sent("POST", "a.test"))
            if act and act.get("type") == "Create" and "Je m" in json.dumps(act)
        )
        forged = json.loads(json.dumps(create))
        forged["id"] += "-forged"
        forged["object"]["id"] += "-forged"
        forged["object"]["inReplyTo"] = sent["ap_id"]
        forged["object"]["context"] = context
        body = json.dumps(forged).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers.update(
            sign_request(
                "POST", "https://a.test/inbox", headers, body, await _actor_key(c, "intrus")
            )
        )
        assert (await a.client().post("/inbox", data=body, headers=headers)).status_code == 202
        await net.settle()
        on_a = await _conversations(a, token_a, "menuiserie")
        by_context = {conv["context"]: conv for conv in on_a}
        assert [m["content"] for m in by_context[context]["messages"]] == ["Confidentiel"]
        assert {p["handle"] for p in by_context[context]["participants"]} == {
            "menuiserie",
            "ressourcerie",
        }
        assert len(on_a) == 2  # C's messages form their own conversation

        impersonation = json.loads(json.dumps(forged))
        impersonation["id"] = "https://b.test/activities/forged"
        impersonation["actor"] = "https://b.test/actors/ressourcerie"
        impersonation["object"]["id"] = "https://b.test/messages/forged"
        impersonation["object"]["attributedTo"] = "https://b.test/actors/ressourcerie"
        body = json.dumps(impersonation).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers.update(
            sign_request(
                "POST", "https://a.test/inbox", headers, body, await _actor_key(c, "intrus")
            )
        )
        response = await a.client().post("/inbox", data=body, headers=headers)
        assert response.status_code == 403
        assert (await response.get_json())["error"] == "origin_mismatch"


async def test_contact_about_a_listing(node: TestNode) -> None:
    """A message about a listing links it; both local structures see the conversation."""
    await node.structure("vendeur", owner="v@a.example")
    await node.structure("acheteur", owner="c@a.example")
    seller = await node.token("v@a.example")
    buyer = await node.token("c@a.example")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=seller,
        json={
            "structure": "vendeur",
            "kind": "offer",
            "title": "Palettes",
            "description": "20",
            "category": "materials",
            "modality": "give",
        },
    )
    listing = await response.get_json()
    sent = await _send(node, buyer, "acheteur", "vendeur", "Intéressé !", listing=listing["id"])
    assert listing["url"] in sent["content_html"]
    mine = await _conversations(node, buyer, "acheteur")
    theirs = await _conversations(node, seller, "vendeur")
    assert mine[0]["id"] == theirs[0]["id"]
    assert theirs[0]["listing"] == listing["id"]
    assert theirs[0]["unread"] == 1
    assert mine[0]["unread"] == 0


async def test_message_errors(node: TestNode) -> None:
    await node.structure("seule", owner="s@a.example")
    token = await node.token("s@a.example")
    for body, field in (
        ({"from": "seule", "to": "", "content": "x"}, "to"),
        ({"from": "seule", "to": "seule", "content": ""}, "content"),
        ({"from": "seule", "to": "nobody", "content": "x"}, "to"),
        ({"from": "seule", "to": "seule", "content": "x"}, "to"),
    ):
        response = await node.api("POST", "/api/v1/messages", token=token, json=body)
        assert response.status_code == 422, body
        assert field in (await response.get_json())["fields"]
    stranger = await node.token("x@a.example")
    response = await node.api(
        "POST",
        "/api/v1/messages",
        token=stranger,
        json={"from": "seule", "to": "seule", "content": "x"},
    )
    assert response.status_code == 403
