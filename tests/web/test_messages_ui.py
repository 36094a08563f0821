"""Direct messages in the web UI: the list, a thread, replying, writing from a listing."""

from __future__ import annotations

import re

from tests.support import TestNode
from tests.web.browser import Browser, Page


async def _people(node: TestNode) -> tuple[Browser, Browser]:
    """Two structures of the node, each with its member logged in."""
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("ressourcerie", owner="r@a.example", name="Ressourcerie du Gave")
    menuiserie, ressourcerie = Browser(node), Browser(node)
    await menuiserie.login("m@a.example")
    await ressourcerie.login("r@a.example")
    return menuiserie, ressourcerie


def _conversation_path(page: Page) -> str:
    assert page.status == 302, page.text
    path = page.location.split("#")[0]
    assert re.fullmatch(r"/messages/\d+", path), path
    return path


def _header_count(page: Page, label: str) -> int:
    found = re.search(rf'href="/{label}"[^>]*>[^<]*(?:<span class="count">(\d+))?', page.text)
    assert found, label
    return int(found.group(1) or 0)


async def test_write_read_and_reply(node: TestNode) -> None:
    menuiserie, ressourcerie = await _people(node)
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Bonjour,\nvos palettes ?"},
        csrf_from="/messages/new",
    )
    thread = _conversation_path(page)

    # The recipient sees the conversation, unread, and the header badge.
    inbox = await ressourcerie.get("/messages")
    assert "Menuiserie Lasserre" in inbox
    assert "1 non lu" in inbox
    assert "vos palettes ?" in inbox
    assert _header_count(inbox, "messages") == 1

    # Viewing the thread marks it read: the badge goes.
    shown = await ressourcerie.get(thread)
    assert shown.status == 200
    assert "Conversation avec Menuiserie Lasserre" in shown
    assert "Bonjour,\nvos palettes ?" in shown
    assert _header_count(shown, "messages") == 0
    assert _header_count(await ressourcerie.get("/messages"), "messages") == 0

    # Reply through the form; the first writer now has one unread message.
    page = await ressourcerie.post(
        thread, {"from": "ressourcerie", "content": "Oui, passez jeudi."}, csrf_from=thread
    )
    assert page.status == 302
    assert page.location.startswith(thread)
    mine = await menuiserie.get("/messages")
    assert _header_count(mine, "messages") == 1
    again = await menuiserie.get(thread)
    assert "Oui, passez jeudi." in again
    assert again.text.index("vos palettes") < again.text.index("passez jeudi")

    # An empty reply is refused with the reason, nothing sent.
    page = await menuiserie.post(thread, {"from": "menuiserie", "content": "  "}, csrf_from=thread)
    assert page.status == 422
    assert "Écrivez votre message." in page


async def test_thread_is_only_for_its_participants(node: TestNode) -> None:
    menuiserie, _ressourcerie = await _people(node)
    await node.structure("intrus", owner="i@a.example")
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Confidentiel"},
        csrf_from="/messages/new",
    )
    thread = _conversation_path(page)

    intruder = Browser(node)
    await intruder.login("i@a.example")
    assert (await intruder.get(thread)).status == 404  # not 403: it does not exist for them
    page = await intruder.post(thread, {"from": "intrus", "content": "Je m'invite"})
    assert page.status == 404
    assert "Confidentiel" not in await intruder.get("/messages")
    assert (await intruder.get("/messages/999")).status == 404

    # A moderator who is not a member does not read it either.
    await node.person("mod@a.example", role="moderator")
    moderator = Browser(node)
    await moderator.login("mod@a.example")
    assert (await moderator.get(thread)).status == 404

    anonymous = Browser(node)
    page = await anonymous.get(thread)
    assert page.status == 302
    assert page.location.startswith("/login?next=")
    assert (await anonymous.get("/messages")).location.startswith("/login")


async def test_contact_from_a_listing_opens_a_prefilled_message(node: TestNode) -> None:
    menuiserie, ressourcerie = await _people(node)
    token = await node.token("r@a.example")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "ressourcerie",
            "kind": "offer",
            "title": "Palettes Europe",
            "description": "Une vingtaine.",
            "category": "materials",
            "modality": "give",
        },
    )
    assert response.status_code == 201
    listing_id = (await response.get_json())["id"]

    listing_page = await menuiserie.get(f"/listings/{listing_id}")
    found = re.search(
        r'<a class="button button-block" href="([^"]+)">Contacter</a>', listing_page.text
    )
    assert found, listing_page.text
    compose_path = found.group(1).replace("&amp;", "&")
    assert compose_path == f"/messages/new?to=ressourcerie&listing={listing_id}"

    compose = await menuiserie.get(compose_path)
    assert compose.status == 200
    assert "Écrire à Ressourcerie du Gave" in compose
    assert "Palettes Europe" in compose
    assert 'value="ressourcerie"' in compose
    assert f'name="listing" value="{listing_id}"' in compose

    page = await menuiserie.post(
        "/messages/new",
        {
            "from": "menuiserie",
            "to": "ressourcerie",
            "listing": str(listing_id),
            "content": "Sont-elles encore disponibles ?",
        },
        csrf_from=compose_path,
    )
    thread = _conversation_path(page)
    received = await ressourcerie.get(thread)
    assert "Sont-elles encore disponibles ?" in received
    assert "À propos de l’annonce" in received
    assert f'href="/listings/{listing_id}"' in received
    assert "À propos de : Palettes Europe" in await ressourcerie.get("/messages")


async def test_compose_errors_are_explained(node: TestNode) -> None:
    menuiserie, _ = await _people(node)
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "inconnue", "content": "Bonjour"},
        csrf_from="/messages/new",
    )
    assert page.status == 422
    assert "Aucune structure de ce territoire ne porte ce nom." in page
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "menuiserie", "content": "Moi"},
        csrf_from="/messages/new",
    )
    assert page.status == 422
    assert "Vous ne pouvez pas écrire à votre propre structure." in page
    page = await menuiserie.post(
        "/messages/new", {"from": "menuiserie", "to": "", "content": ""}, csrf_from="/messages/new"
    )
    assert page.status == 422
    assert "Indiquez le destinataire" in page
    assert "Écrivez votre message." in page


async def test_switcher_for_a_person_acting_for_two_structures(node: TestNode) -> None:
    menuiserie, _ = await _people(node)
    await node.structure("atelier", owner="m@a.example", name="Atelier Partagé")
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Depuis la menuiserie"},
        csrf_from="/messages/new",
    )
    assert page.status == 302
    listing = await menuiserie.get("/messages?as=atelier")
    assert 'href="/messages?as=menuiserie"' in listing
    assert "Depuis la menuiserie" not in listing
    assert "Depuis la menuiserie" in await menuiserie.get("/messages?as=menuiserie")
