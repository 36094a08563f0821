"""Manual approval of followers (``federation.auto_accept_follows = false``) between real
nodes in one process: B's structure approves its followers, a structure of A asks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from domain.models import Person
from domain.social import Notification
from federation.models import Follow
from tests.fedinet import FediNet, network
from tests.support import TestNode
from tests.web.browser import Browser

OWNER = "r@b.example"
FOLLOWED = "https://b.test/actors/ressourcerie"
FOLLOWER = "https://a.test/actors/atelier"
FOLLOWERS = "/api/v1/structures/ressourcerie/followers"
LISTING = {
    "structure": "ressourcerie",
    "kind": "offer",
    "title": "Palettes à donner",
    "description": "Une vingtaine de palettes en bon état, à venir chercher.",
    "category": "materials",
    "modality": "give",
}


@asynccontextmanager
async def asked(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> AsyncIterator[tuple[FediNet, TestNode, TestNode, str, str]]:
    """Given B's « ressourcerie » approving its followers by hand, when A's « atelier »
    follows it: the network, A, B, A's token and B's owner's token."""
    manual = {"auto_accept_follows": False}
    async with network(tmp_path, new_db_url, ["a.test", "b.test"], federation=manual) as (
        net,
        (a, b),
    ):
        await a.structure("atelier", owner="m@a.example")
        await b.structure("ressourcerie", owner=OWNER)
        a_token, b_token = await a.token("m@a.example"), await b.token(OWNER)
        response = await a.api(
            "POST",
            "/api/v1/follows",
            token=a_token,
            json={"actor": "atelier", "target": "acct:ressourcerie@b.test"},
        )
        assert response.status_code == 202, await response.get_data()
        await net.settle()
        yield net, a, b, a_token, b_token


async def a_follow_state(a: TestNode, token: str) -> list[tuple[str, str]]:
    response = await a.api("GET", "/api/v1/follows?actor=atelier", token=token)
    return [(i["target"], i["state"]) for i in (await response.get_json())["items"]]


async def followers(b: TestNode, token: str, query: str = "") -> list[dict[str, Any]]:
    response = await b.api("GET", FOLLOWERS + query, token=token)
    assert response.status_code == 200, await response.get_data()
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items


async def publish(net: FediNet, b: TestNode, token: str, title: str) -> None:
    response = await b.api(
        "POST", "/api/v1/listings", token=token, json={**LISTING, "title": title}
    )
    assert response.status_code == 201, await response.get_data()
    await net.settle()


def creates_to_a(net: FediNet) -> list[str]:
    """Titles of the listings B delivered to A."""
    return [
        body["object"]["name"]
        for body in net.activities_to("a.test")
        if body.get("type") == "Create" and isinstance(body.get("object"), dict)
    ]


def answers_to_a(net: FediNet) -> list[str]:
    return [
        body["type"]
        for body in net.activities_to("a.test")
        if body.get("type") in ("Accept", "Reject")
    ]


async def a_listings(a: TestNode) -> list[str]:
    response = await a.api("GET", "/api/v1/listings?origin=b.test")
    return [i["title"] for i in (await response.get_json())["items"]]


async def test_accepted_follower_receives_the_next_listing(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Pending: no listing and a notification; after Accept through the API, the follow is
    accepted on A and A receives the next listing."""
    async with asked(tmp_path, new_db_url) as (net, a, b, a_token, b_token):
        document = await b.client().get(FOLLOWED, headers={"Accept": "application/activity+json"})
        assert (await document.get_json())["manuallyApprovesFollowers"] is True
        assert await a_follow_state(a, a_token) == [(FOLLOWED, "pending")]
        pending = await followers(b, b_token, "?state=pending")
        assert [(f["actor"], f["state"], f["domain"]) for f in pending] == [
            (FOLLOWER, "pending", "a.test")
        ]
        assert await followers(b, b_token, "?state=accepted") == []
        async with b.node.db.session() as session:
            notes = (
                await session.execute(
                    select(Notification)
                    .join(Person, Notification.person_id == Person.id)
                    .where(Person.email == OWNER)
                )
            ).scalars()
            assert [(n.kind, n.data["actor"], n.url) for n in notes] == [
                ("follow_request", FOLLOWER, "/@ressourcerie/followers")
            ]

        await publish(net, b, b_token, "Palettes avant accord")
        assert creates_to_a(net) == []
        assert answers_to_a(net) == []

        response = await b.api("POST", f"{FOLLOWERS}/{pending[0]['id']}/accept", token=b_token)
        assert response.status_code == 200, await response.get_data()
        assert (await response.get_json())["state"] == "accepted"
        await net.settle()
        accepts = [e for e in net.sent("POST", "a.test") if e.json().get("type") == "Accept"]
        assert len(accepts) == 1 and accepts[0].status == 202
        assert "signature" in {k.lower() for k in accepts[0].headers}
        assert accepts[0].json()["object"]["actor"] == FOLLOWER
        assert await a_follow_state(a, a_token) == [(FOLLOWED, "accepted")]
        assert [f["state"] for f in await followers(b, b_token)] == ["accepted"]

        await publish(net, b, b_token, "Palettes après accord")
        assert creates_to_a(net) == ["Palettes après accord"]
        # The listing published while pending was never delivered (one Create above): A
        # read it back from B's outbox once the follow was accepted (backfill, issue 16).
        assert await a_listings(a) == ["Palettes après accord", "Palettes avant accord"]

        # Accepting again changes nothing and sends nothing.
        response = await b.api("POST", f"{FOLLOWERS}/{pending[0]['id']}/accept", token=b_token)
        assert response.status_code == 200
        await net.settle()
        assert answers_to_a(net) == ["Accept"]


async def test_rejected_follower_gets_nothing(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Reject: a Reject(Follow) reaches A, whose follow is refused; B keeps no row and A
    receives no listing."""
    async with asked(tmp_path, new_db_url) as (net, a, b, a_token, b_token):
        (request,) = await followers(b, b_token)
        response = await b.api("POST", f"{FOLLOWERS}/{request['id']}/reject", token=b_token)
        assert response.status_code == 200, await response.get_data()
        assert (await response.get_json())["state"] == "rejected"
        await net.settle()
        assert answers_to_a(net) == ["Reject"]
        assert await a_follow_state(a, a_token) == [(FOLLOWED, "rejected")]
        assert await followers(b, b_token) == []
        async with b.node.db.session() as session:
            assert (
                await session.execute(select(Follow.id).where(Follow.state != "accepted"))
            ).all() == []

        await publish(net, b, b_token, "Palettes refusées")
        assert creates_to_a(net) == []
        assert await a_listings(a) == []
        response = await b.api("POST", f"{FOLLOWERS}/{request['id']}/accept", token=b_token)
        assert response.status_code == 404


async def test_only_the_structures_people_answer(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Anonymous: 401; a person of another structure: 403; bad input: 404 / 422."""
    async with asked(tmp_path, new_db_url) as (net, _a, b, _a_token, b_token):
        (request,) = await followers(b, b_token)
        accept = f"{FOLLOWERS}/{request['id']}/accept"
        await b.structure("voisins", owner="v@b.example")
        other = await b.token("v@b.example")

        response = await b.api("POST", accept)
        assert response.status_code == 401
        assert (await response.get_json())["error"] == "unauthorized"
        assert (await b.api("GET", FOLLOWERS)).status_code == 401
        response = await b.api("POST", accept, token=other)
        assert response.status_code == 403
        assert (await response.get_json())["error"] == "forbidden"
        assert (await b.api("GET", FOLLOWERS, token=other)).status_code == 403
        response = await b.api(
            "POST", f"/api/v1/structures/voisins/followers/{request['id']}/accept", token=other
        )
        assert response.status_code == 404  # not a follow of « voisins »
        response = await b.api("GET", "/api/v1/structures/nobody/followers", token=b_token)
        assert response.status_code == 404
        response = await b.api("GET", FOLLOWERS + "?state=asked&limit=0", token=b_token)
        assert response.status_code == 422
        assert set((await response.get_json())["fields"]) == {"state", "limit"}

        await net.settle()
        assert answers_to_a(net) == []
        assert [f["state"] for f in await followers(b, b_token)] == ["pending"]

        document = await (await b.client().get("/api/openapi.json")).get_json()
        paths = document["paths"]
        assert "get" in paths["/api/v1/structures/{handle}/followers"]
        for answer in ("accept", "reject"):
            assert (
                "post" in paths[f"/api/v1/structures/{{handle}}/followers/{{follow_id}}/{answer}"]
            )


async def test_followers_page(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """The page in French and English, linked from the structure's page; a POST without
    the CSRF token is refused; « Accepter » accepts; strangers are refused."""
    async with asked(tmp_path, new_db_url) as (net, a, b, a_token, _b_token):
        page_path = "/@ressourcerie/followers"
        assert (await Browser(b).get(page_path)).status == 302  # to the login page

        browser = Browser(b)
        await browser.login(OWNER)
        profile = await browser.get("/@ressourcerie?lang=fr")
        assert f'href="{page_path}"' in profile
        assert "Gérer les abonnés" in profile and "1 demande" in profile
        notes = await browser.get("/notifications?lang=fr")
        assert "Atelier (a.test) demande à suivre votre structure." in notes
        notes = await browser.get("/notifications?lang=en")
        assert "Atelier (a.test) asks to follow your structure." in notes
        page = await browser.get(page_path + "?lang=fr")
        assert page.status == 200
        for text in ("Abonnés de Ressourcerie", "Demandes d’abonnement", "Accepter", "Refuser"):
            assert text in page, text
        assert "@atelier@a.test" in page
        english = await browser.get(page_path + "?lang=en")
        for text in ("Followers of Ressourcerie", "Follow requests", "Accept", "Reject"):
            assert text in english, text
        assert "Accepter" not in english

        async with b.node.db.session() as session:
            follow_id = await session.scalar(select(Follow.id).where(Follow.state == "pending"))
        action = f"{page_path}/{follow_id}/accept"
        refused = await browser.post(action, csrf_from=None)
        assert refused.status == 400
        await net.settle()
        assert await a_follow_state(a, a_token) == [(FOLLOWED, "pending")]

        stranger = Browser(b)
        await b.person("v@b.example")
        await stranger.login("v@b.example")
        assert (await stranger.get(page_path)).status == 403
        assert (await stranger.post(action, csrf_from="/")).status == 403

        done = await browser.post(action, csrf_from=page_path)
        assert done.status == 302 and done.location == page_path
        await net.settle()
        assert await a_follow_state(a, a_token) == [(FOLLOWED, "accepted")]
        page = await browser.get(page_path + "?lang=fr")
        assert "Aucune demande d’abonnement en attente." in page
        assert "1 abonné" in page and "Retirer" in page


async def test_local_follower_waits_too(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """A structure of the same node asks too; once accepted it is told so."""
    async with asked(tmp_path, new_db_url) as (_net, _a, b, _a_token, b_token):
        await b.structure("voisins", owner="v@b.example")
        token = await b.token("v@b.example")
        response = await b.api(
            "POST", "/api/v1/follows", token=token, json={"actor": "voisins", "target": FOLLOWED}
        )
        assert (await response.get_json())["state"] == "pending"
        pending = await followers(b, b_token, "?state=pending")
        assert [f["handle"] for f in pending] == ["voisins", "atelier"]
        assert pending[0]["local"] is True
        response = await b.api("POST", f"{FOLLOWERS}/{pending[0]['id']}/accept", token=b_token)
        assert response.status_code == 200
        response = await b.api("GET", "/api/v1/follows?actor=voisins", token=token)
        assert [i["state"] for i in (await response.get_json())["items"]] == ["accepted"]
        async with b.node.db.session() as session:
            kinds = (
                await session.execute(
                    select(Notification.kind)
                    .join(Person, Notification.person_id == Person.id)
                    .where(Person.email == "v@b.example")
                )
            ).scalars()
            assert list(kinds) == ["follow_accepted"]
