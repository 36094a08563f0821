"""Following from the web UI and the timeline of a structure, across two nodes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.fedinet import network
from tests.support import TestNode
from tests.web.browser import Browser

LISTING = {
    "structure": "ressourcerie",
    "kind": "offer",
    "title": "Palettes Europe",
    "description": "Une vingtaine de palettes.",
    "category": "materials",
    "modality": "give",
}


async def _publish(node: TestNode, email: str, **changes: str) -> None:
    token = await node.token(email)
    response = await node.api("POST", "/api/v1/listings", token=token, json={**LISTING, **changes})
    assert response.status_code == 201, await response.get_data()


async def test_follow_a_remote_structure_and_see_its_listings(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
        await b.structure("ressourcerie", owner="r@b.example", name="Ressourcerie du Gave")
        browser = Browser(a)
        await browser.login("m@a.example")
        empty = await browser.get("/timeline")
        assert "Rien pour l’instant" in empty

        page = await browser.post(
            "/follow",
            {"structure": "menuiserie", "target": "ressourcerie@b.test", "next": "/timeline"},
            csrf_from="/timeline",
        )
        assert page.status == 302
        pending = await browser.get("/timeline")
        assert "Menuiserie Lasserre a demandé à suivre Ressourcerie du Gave" in pending
        assert "Demande envoyée" in pending
        await net.settle()
        followed = await browser.get("/timeline")
        assert "Demande envoyée" not in followed
        assert "Ressourcerie du Gave" in followed

        await _publish(b, "r@b.example")
        await net.settle()
        timeline = await browser.get("/timeline")
        assert "Palettes Europe" in timeline
        assert "Depuis b.test" in timeline

        # The listing's page offers to follow its territory too, and to write to its author.
        found = re.search(r'href="/listings/(\d+)"', timeline.text)
        assert found
        listing = await browser.get(f"/listings/{found.group(1)}")
        assert "Suivi" in listing  # the author, already followed
        assert 'value="acct:territory@b.test"' in listing or "https://b.test/actors/" in listing
        assert "/messages/new?to=acct%3Aressourcerie%40b.test" in listing

        # Stop following.
        page = await browser.post(
            "/unfollow",
            {
                "structure": "menuiserie",
                "target": "https://b.test/actors/ressourcerie",
                "next": "/timeline",
            },
            csrf_from="/timeline",
        )
        assert page.status == 302
        assert "Menuiserie Lasserre ne suit plus Ressourcerie du Gave." in await browser.get(
            "/timeline"
        )


async def test_resolution_errors_are_explained(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, _b)):
        await a.structure("menuiserie", owner="m@a.example")
        browser = Browser(a)
        await browser.login("m@a.example")

        async def follow(target: str) -> str:
            page = await browser.post(
                "/follow",
                {"structure": "menuiserie", "target": target, "next": "/timeline"},
                csrf_from="/timeline",
            )
            assert page.status == 302, page.text
            shown = await browser.get(page.location)
            assert shown.status == 200
            return shown.text

        # A host that does not answer (not part of the network).
        text = await follow("acct:quelquun@injoignable.test")
        assert "Le serveur de cette adresse est injoignable." in text
        assert 'value="acct:quelquun@injoignable.test"' in text  # kept in the form
        # A node that is down.
        net.down("b.test")
        assert "injoignable" in await follow("ressourcerie@b.test")
        net.up("b.test")
        # An unknown name on a node that answers.
        assert "Rien n’a été trouvé à cette adresse." in await follow("personne@b.test")
        # Not an address at all, and an unknown local name.
        assert "Indiquez une adresse comme" in await follow("http//pas une adresse")
        assert "Aucune structure ni communauté de ce territoire" in await follow("inconnue")
        # A blocked domain.
        await a.person("admin@a.example", role="admin")
        admin = Browser(a)
        await admin.login("admin@a.example")
        page = await admin.post(
            "/admin/federation/policy",
            {"domain": "b.test", "policy": "block", "reason": "spam"},
            csrf_from="/admin/federation",
        )
        assert page.status == 302
        assert "bloqué par la politique de fédération" in await follow("ressourcerie@b.test")
        # Following itself.
        assert "ne peut pas se suivre elle-même" in await follow("menuiserie")


async def test_follow_a_local_structure_from_its_page(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("ressourcerie", owner="r@a.example", name="Ressourcerie du Gave")
    browser = Browser(node)
    await browser.login("m@a.example")
    profile = await browser.get("/@ressourcerie")
    assert 'action="/follow"' in profile
    assert "0 abonné" in profile
    page = await browser.post(
        "/follow",
        {
            "structure": "menuiserie",
            "target": "https://a.test/actors/ressourcerie",
            "next": "/@ressourcerie",
        },
        csrf_from="/@ressourcerie",
    )
    assert page.location == "/@ressourcerie"
    profile = await browser.get("/@ressourcerie")
    assert "Menuiserie Lasserre suit désormais Ressourcerie du Gave." in profile
    assert "1 abonné" in profile
    assert "Ne plus suivre" in profile
    await _publish(node, "r@a.example")
    assert "Palettes Europe" in await browser.get("/timeline")
    # Its own page offers no follow button to itself.
    assert 'action="/follow"' not in await browser.get("/@menuiserie")
