"""Every kind of notification a structure's people receive reads as a sentence, in
French and English, with its link; an administrator's « awaiting approval » notice
shows as handled once anyone decided."""

from __future__ import annotations

import re

from domain.social import Notification
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.data import SIGNUP

# kind, data, url, French, English
KINDS = [
    (
        "structure_approved",
        {"name": "Atelier", "handle": "atelier"},
        "/@atelier",
        "Atelier est validée : elle est visible et peut publier.",
        "Atelier is approved: it is visible and can publish.",
    ),
    (
        "structure_rejected",
        {"name": "Atelier", "handle": "atelier", "reason": "Hors territoire"},
        "/@atelier/profile",
        "Atelier n’a pas été validée. Motif : Hors territoire",
        "Atelier was not approved. Reason given: Hors territoire",
    ),
    (
        "message",
        {"from": "Ferme du Gave", "domain": "b.test"},
        "/messages/7",
        "Ferme du Gave (b.test) vous a envoyé un message.",
        "Ferme du Gave (b.test) sent you a message.",
    ),
    (
        "follow_request",
        {"name": "Ferme du Gave", "domain": "b.test"},
        "/@atelier/followers",
        "Ferme du Gave (b.test) demande à suivre votre structure.",
        "Ferme du Gave (b.test) asks to follow your structure.",
    ),
    (
        "match",
        {"listing_title": "Recherche bois", "match_title": "Chutes de chêne"},
        "/listings/3",
        "« Chutes de chêne » pourrait répondre à votre annonce « Recherche bois ».",
        "« Chutes de chêne » may answer your listing « Recherche bois ».",
    ),
    (
        "saved_search",
        {"name": "Bois", "listing_title": "Planches"},
        "/listings/4",
        "Nouvelle annonce pour votre recherche « Bois » : « Planches ».",
        "New listing for your search « Bois »: « Planches ».",
    ),
    (
        "exchange",
        {
            "action": "propose",
            "from": "Ferme du Gave",
            "domain": "b.test",
            "listing_title": "Planches",
            "state": "proposed",
        },
        "/exchanges",
        "Ferme du Gave (b.test) propose un échange sur « Planches ».",
        "Ferme du Gave (b.test) proposes an exchange on « Planches ».",
    ),
    (
        "reply",
        {"name": "Léa", "domain": "mastodon.test", "listing_title": "Planches"},
        "/listings/4",
        "Léa (mastodon.test) a répondu publiquement sous votre annonce « Planches ».",
        "Léa (mastodon.test) replied publicly under your listing « Planches ».",
    ),
]


async def test_every_kind_of_a_structure_reads_with_its_link(node: TestNode) -> None:
    structure = await node.structure("atelier", owner="a@a.example")
    person = await node.person("a@a.example")
    async with node.node.transaction() as session:
        for kind, data, url, _fr, _en in KINDS:
            session.add(
                Notification(
                    person_id=person.id, structure_id=structure.id, kind=kind, data=data, url=url
                )
            )
    browser = Browser(node)
    await browser.login("a@a.example")
    french = await browser.get("/notifications")
    for kind, _data, _url, sentence, _en in KINDS:
        assert sentence in french, kind
    assert french.text.count("notification-unread") == len(KINDS)
    english = await browser.get("/notifications?lang=en")
    for kind, _data, _url, _fr, sentence in KINDS:
        assert sentence in english, kind
    # Newest first: each line links to its notification, which leads where it says.
    links = re.findall(r'href="(/notifications/\d+)"', english.text)
    assert len(links) == len(KINDS)
    for link, (kind, _data, url, _fr, _en) in zip(links, reversed(KINDS), strict=True):
        opened = await browser.get(link)
        assert (opened.status, opened.location) == (302, url), kind
    assert "notification-unread" not in (await browser.get("/notifications")).text


async def test_a_sign_up_shows_handled_for_every_administrator(node: TestNode) -> None:
    await node.person("admin@example.org", role="admin")
    await node.person("other-admin@example.org", role="admin")
    assert (await Browser(node).post("/signup", SIGNUP, csrf_from="/signup")).status == 302
    first, second = Browser(node), Browser(node)
    await first.login("admin@example.org")
    await second.login("other-admin@example.org")
    # The second one has already opened it; the first one decides.
    link = re.search(r'href="(/notifications/\d+)"', (await second.get("/notifications")).text)
    assert link
    await second.get(link.group(1))
    queue = await first.get("/admin/structures")
    found = re.search(r'action="(/admin/structures/\d+/reject)"', queue.text)
    assert found
    page = await first.post(found.group(1), {"reason": "Hors territoire"}, csrf_from="/admin")
    assert page.status == 302
    for browser in (first, second):
        shown = await browser.get("/notifications")
        assert "Traitée : refusée" in shown
        assert "notification-unread" not in shown.text
    assert "Handled: rejected" in await first.get("/notifications?lang=en")
