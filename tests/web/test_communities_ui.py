"""Communities in the web UI: create, join, post, pin and remove, admit a remote follower."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from domain.social import Post
from tests.fedinet import network
from tests.support import TestNode
from tests.web.browser import Browser


async def _animator(node: TestNode) -> Browser:
    await node.person("anim@a.example", role="animator")
    browser = Browser(node)
    await browser.login("anim@a.example")
    page = await browser.post(
        "/communities/new",
        {"handle": "reseau", "name": "Réseau Dynéco", "description": "Club d'entreprises"},
        csrf_from="/communities/new",
    )
    assert page.status == 302, page.text
    assert page.location == "/communities/reseau"
    return browser


async def _member(node: TestNode, handle: str, email: str) -> Browser:
    await node.structure(handle, owner=email, name=handle.title())
    browser = Browser(node)
    await browser.login(email)
    return browser


async def test_only_animators_create_and_errors_are_shown(node: TestNode) -> None:
    member = await _member(node, "menuiserie", "m@a.example")
    assert (await member.get("/communities/new")).status == 403
    page = await member.post("/communities/new", {"handle": "club", "name": "Club"})
    assert page.status == 403
    assert "Créer une communauté" not in await member.get("/communities")

    animator = await _animator(node)
    listing = await animator.get("/communities")
    assert "Réseau Dynéco" in listing
    assert "Gouvernance" in listing
    page = await animator.post(
        "/communities/new",
        {"handle": "Pas Bon", "name": "x", "description": ""},
        csrf_from="/communities/new",
    )
    assert page.status == 422
    assert "Doit comporter de 2 à 64 lettres minuscules, chiffres ou _." in page
    assert "Doit comporter de 2 à 200 caractères." in page
    page = await animator.post(
        "/communities/new", {"handle": "reseau", "name": "Doublon"}, csrf_from="/communities/new"
    )
    assert page.status == 409
    assert "Ce nom est déjà pris." in page


async def test_join_post_and_non_member_refused(node: TestNode) -> None:
    await _animator(node)
    member = await _member(node, "menuiserie", "m@a.example")
    outsider = await _member(node, "curieux", "c@a.example")

    page = await member.get("/communities/reseau")
    assert "Rejoindre avec Menuiserie" in page
    assert 'name="content"' not in page
    page = await member.post(
        "/communities/reseau/join", {"structure": "menuiserie"}, csrf_from="/communities/reseau"
    )
    assert page.status == 302
    page = await member.get("/communities/reseau")
    assert "Menuiserie est maintenant membre de la communauté." in page
    assert 'name="content"' in page

    page = await member.post(
        "/communities/reseau/posts",
        {"structure": "menuiserie", "content": "Réunion jeudi 18 h"},
        csrf_from="/communities/reseau",
    )
    assert page.status == 302
    post_id = re.search(r"/communities/reseau#post-(\d+)$", page.headers["Location"])
    assert post_id, page.headers["Location"]
    feed = await Browser(node).get("/communities/reseau")
    assert f'id="post-{post_id.group(1)}"' in feed
    assert "Réunion jeudi 18 h" in feed

    # The post's id (its ActivityPub URL) redirects to that anchor.
    async with node.node.db.session() as session:
        ap_id = (await session.execute(select(Post.ap_id))).scalar_one()
    redirect = await Browser(node).get(ap_id.removeprefix("https://a.test"))
    assert redirect.headers["Location"].endswith(f"/communities/reseau#post-{post_id.group(1)}")

    # A structure that is not a member cannot post, even by forging the form.
    page = await outsider.post(
        "/communities/reseau/posts",
        {"structure": "curieux", "content": "Je ne suis pas membre"},
        csrf_from="/communities/reseau",
    )
    assert page.status == 403
    # Nor in the name of a structure it does not act for.
    page = await outsider.post(
        "/communities/reseau/posts",
        {"structure": "menuiserie", "content": "Usurpation"},
        csrf_from="/communities/reseau",
    )
    assert page.status == 403
    assert "Je ne suis pas membre" not in await Browser(node).get("/communities/reseau")

    # An empty post is refused with the reason.
    page = await member.post(
        "/communities/reseau/posts",
        {"structure": "menuiserie", "content": " "},
        csrf_from="/communities/reseau",
    )
    assert page.status == 422
    assert "Écrivez votre publication." in page


async def test_animator_pins_and_removes(node: TestNode) -> None:
    animator = await _animator(node)
    member = await _member(node, "menuiserie", "m@a.example")
    await member.post(
        "/communities/reseau/join", {"structure": "menuiserie"}, csrf_from="/communities/reseau"
    )
    ids = []
    for text in ("Première nouvelle", "Seconde nouvelle"):
        page = await member.post(
            "/communities/reseau/posts",
            {"structure": "menuiserie", "content": text},
            csrf_from="/communities/reseau",
        )
        ids.append(page.headers["Location"].rsplit("-", 1)[1])
    first, second = ids

    # Members do not see the animators' buttons, nor may they use them.
    assert f"/posts/{first}/pin" not in await member.get("/communities/reseau")
    page = await member.post(f"/communities/reseau/posts/{first}/pin")
    assert page.status == 403

    page = await animator.post(f"/communities/reseau/posts/{first}/pin")
    assert page.status == 302
    feed = await Browser(node).get("/communities/reseau")
    # Pinned first, with the announcement badge.
    assert feed.text.index("Première nouvelle") < feed.text.index("Seconde nouvelle")
    assert '<span class="badge badge-announcement">Annonce</span>' in feed
    page = await animator.post(f"/communities/reseau/posts/{first}/unpin")
    feed = await Browser(node).get("/communities/reseau")
    assert feed.text.index("Seconde nouvelle") < feed.text.index("Première nouvelle")

    page = await animator.post(f"/communities/reseau/posts/{second}/remove")
    assert page.status == 302
    assert "Seconde nouvelle" not in await Browser(node).get("/communities/reseau")
    audit = await animator.get("/communities/reseau")
    assert "La publication est retirée de la communauté." in audit

    # The animator removes a member.
    page = await animator.get("/communities/reseau")
    assert 'action="/communities/reseau/members/remove"' in page
    page = await animator.post(
        "/communities/reseau/members/remove", {"actor": "https://a.test/actors/menuiserie"}
    )
    assert page.status == 302
    assert 'name="content"' not in await member.get("/communities/reseau")


async def test_remote_follower_is_admitted_and_posts(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """A structure of B follows A's community through B's web form, A's animator admits it
    on the community page, and B's post (written on B's page of that community) shows on A."""
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        animator = await _animator(a)
        ressourcerie = await _member(b, "ressourcerie", "r@b.example")
        page = await ressourcerie.post(
            "/follow",
            {"structure": "ressourcerie", "target": "acct:reseau@a.test", "next": "/communities"},
        )
        assert page.status == 302
        await net.settle()
        listing = await ressourcerie.get("/communities")
        assert "Réseau Dynéco" in listing
        assert 'href="/communities/reseau@a.test"' in listing

        page = await animator.get("/communities/reseau")
        assert "Abonnés à admettre" in page
        assert "@ressourcerie@b.test" in page
        page = await animator.post(
            "/communities/reseau/members/add", {"actor": "https://b.test/actors/ressourcerie"}
        )
        assert page.status == 302
        assert "Ressourcerie est admis comme membre." in await animator.get("/communities/reseau")

        remote_page = await ressourcerie.get("/communities/reseau@a.test")
        assert remote_page.status == 200
        page = await ressourcerie.post(
            "/communities/reseau@a.test/posts",
            {"structure": "ressourcerie", "content": "Bonjour de la vallée voisine"},
            csrf_from="/communities/reseau@a.test",
        )
        assert page.status == 302
        await net.settle()
        assert "Bonjour de la vallée voisine" in await Browser(a).get("/communities/reseau")

        # A community nobody of the person follows has no page for them.
        assert (await ressourcerie.get("/communities/gouvernance@a.test")).status == 404
