"""Communities (FEP-1b12 groups) across two nodes: follow, post, admit, remove, pin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from domain.social import Post
from tests.fedinet import network
from tests.support import TestNode


async def _timeline(node: TestNode, token: str, handle: str) -> list[dict[str, Any]]:
    response = await node.api("GET", f"/api/v1/timeline?actor={handle}", token=token)
    assert response.status_code == 200, await response.get_data()
    items: list[dict[str, Any]] = (await response.get_json())["items"]
    return items


async def _community(a: TestNode) -> str:
    animator = await a.token("anim@a.example", role="animator")
    response = await a.api(
        "POST",
        "/api/v1/communities",
        token=animator,
        json={"handle": "reseau", "name": "Réseau Dynéco", "description": "Club d'entreprises"},
    )
    assert response.status_code == 201, await response.get_data()
    assert (await response.get_json())["actor"] == "https://a.test/actors/reseau"
    return animator


async def test_every_node_has_gouvernance(node: TestNode) -> None:
    response = await node.api("GET", "/api/v1/communities")
    handles = [c["handle"] for c in (await response.get_json())["items"]]
    assert handles == ["gouvernance"]
    jrd = await node.client().get("/.well-known/webfinger?resource=acct:gouvernance@a.test")
    assert jrd.status_code == 200
    doc = await node.client().get(
        "/actors/gouvernance", headers={"Accept": "application/activity+json"}
    )
    assert (await doc.get_json())["type"] == "Group"


async def test_only_animators_create_communities(node: TestNode) -> None:
    member = await node.token("m@a.example")
    response = await node.api(
        "POST", "/api/v1/communities", token=member, json={"handle": "club", "name": "Club"}
    )
    assert response.status_code == 403
    animator = await node.token("anim@a.example", role="animator")
    response = await node.api(
        "POST",
        "/api/v1/communities",
        token=animator,
        json={"handle": "gouvernance", "name": "Doublon"},
    )
    assert response.status_code == 409
    response = await node.api(
        "POST", "/api/v1/communities", token=animator, json={"handle": "Bad Handle", "name": "x"}
    )
    assert response.status_code == 422
    assert set((await response.get_json())["fields"]) == {"handle", "name"}


async def test_a_community_can_be_given_to_an_animator(node: TestNode) -> None:
    """An admin creates a community for a business network's animator (``animator``: an
    e-mail): that person animates it — and may then admit members — while an unknown
    e-mail is a 422 naming the field."""
    admin = await node.token("admin@a.example", role="admin")
    animator = await node.token("reseau@a.example", role="member")
    response = await node.api(
        "POST",
        "/api/v1/communities",
        token=admin,
        json={"handle": "reseau_bois", "name": "Réseau bois", "animator": "reseau@a.example"},
    )
    assert response.status_code == 201, await response.get_data()
    assert "reseau@a.example" in (await response.get_json())["animators"]
    await node.structure("scierie", owner="s@a.example")
    response = await node.api(
        "POST",
        "/api/v1/communities/reseau_bois/members",
        token=animator,
        json={"actor": "scierie"},
    )
    assert response.status_code == 201, await response.get_data()
    response = await node.api(
        "POST",
        "/api/v1/communities",
        token=admin,
        json={"handle": "autre", "name": "Autre", "animator": "personne@a.example"},
    )
    assert response.status_code == 422
    assert "animator" in (await response.get_json())["fields"]


async def test_community_across_nodes(tmp_path: Path, new_db_url: Callable[[], str]) -> None:
    """A structure on B follows a community on A; posts by A's members reach B; B may post
    only once an animator admits it; a removal by the animator federates; a pin shows as
    an announcement."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        animator = await _community(a)
        await a.structure("menuiserie", owner="m@a.example")
        await a.structure("curieux", owner="c@a.example")
        token_a = await a.token("m@a.example")
        token_curieux = await a.token("c@a.example")
        await b.structure("ressourcerie", owner="r@b.example")
        token_b = await b.token("r@b.example")

        # A member of A joins (open community) and B follows it.
        response = await a.api(
            "POST",
            "/api/v1/communities/reseau/members",
            token=token_a,
            json={"actor": "menuiserie"},
        )
        assert response.status_code == 201
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=token_b,
            json={"actor": "ressourcerie", "target": "acct:reseau@a.test"},
        )
        assert response.status_code == 202
        await net.settle()

        # A non-member (local) cannot post.
        response = await a.api(
            "POST",
            "/api/v1/communities/reseau/posts",
            token=token_curieux,
            json={"from": "curieux", "content": "Je ne suis pas membre"},
        )
        assert response.status_code == 403

        response = await a.api(
            "POST",
            "/api/v1/communities/reseau/posts",
            token=token_a,
            json={"from": "menuiserie", "content": "Réunion jeudi 18 h"},
        )
        assert response.status_code == 201
        post = await response.get_json()
        await net.settle()
        items = await _timeline(b, token_b, "ressourcerie")
        assert [(i["type"], i["ap_id"]) for i in items] == [("post", post["ap_id"])]
        announces = [e.json() for e in net.sent("POST", "b.test") if e.json()]
        assert {"Announce"} <= {act["type"] for act in announces}

        # B (a follower, not a member) posts: refused by A's group.
        response = await b.api(
            "POST",
            "/api/v1/communities/reseau@a.test/posts",
            token=token_b,
            json={"from": "ressourcerie", "content": "Bonjour à tous"},
        )
        assert response.status_code == 202
        await net.settle()
        async with a.node.db.session() as session:
            contents = (await session.execute(select(Post.content_text))).scalars().all()
        assert "Bonjour à tous" not in contents

        # Admitted by the animator, B's next post is announced.
        response = await a.api(
            "POST",
            "/api/v1/communities/reseau/members",
            token=animator,
            json={"actor": "https://b.test/actors/ressourcerie"},
        )
        assert response.status_code == 201
        response = await b.api(
            "POST",
            "/api/v1/communities/reseau@a.test/posts",
            token=token_b,
            json={"from": "ressourcerie", "content": "Merci pour l'accueil"},
        )
        assert response.status_code == 202
        await net.settle()
        response = await a.api("GET", "/api/v1/communities/reseau/posts")
        texts = [p["content"] for p in (await response.get_json())["items"]]
        assert "Merci pour l'accueil" in texts

        # The animator pins A's post, then removes it: B sees an announcement, then nothing.
        response = await a.api(
            "POST", f"/api/v1/communities/reseau/posts/{post['id']}/pin", token=animator
        )
        assert response.status_code == 200
        items = await _timeline(a, token_a, "menuiserie")
        assert ("announcement", post["ap_id"]) in [(i["type"], i.get("ap_id")) for i in items]
        response = await a.api(
            "POST", f"/api/v1/communities/reseau/posts/{post['id']}/remove", token=token_a
        )
        assert response.status_code == 403  # members are not animators
        response = await a.api(
            "POST", f"/api/v1/communities/reseau/posts/{post['id']}/remove", token=animator
        )
        assert response.status_code == 200
        await net.settle()
        items = await _timeline(b, token_b, "ressourcerie")
        assert post["ap_id"] not in [i.get("ap_id") for i in items]
        gone = await a.client().get(
            post["ap_id"].removeprefix("https://a.test"),
            headers={"Accept": "application/activity+json"},
        )
        assert gone.status_code == 410

        # The animator removes a member: its posts are refused from then on.
        response = await a.api(
            "DELETE",
            "/api/v1/communities/reseau/members?actor=https://b.test/actors/ressourcerie",
            token=animator,
        )
        assert response.status_code == 204
        await b.api(
            "POST",
            "/api/v1/communities/reseau@a.test/posts",
            token=token_b,
            json={"from": "ressourcerie", "content": "Encore moi"},
        )
        await net.settle()
        response = await a.api("GET", "/api/v1/communities/reseau/posts")
        texts = [p["content"] for p in (await response.get_json())["items"]]
        assert "Encore moi" not in texts
