"""Notifications in the web UI: a sentence per kind, a link, the header count, marking read."""

from __future__ import annotations

import re

from domain.social import Notification
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.data import SIGNUP


def _count(text: str) -> int:
    found = re.search(r'href="/notifications"[^>]*>[^<]*(?:<span class="count">(\d+))?', text)
    assert found
    return int(found.group(1) or 0)


async def test_a_new_message_is_notified_then_read(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("ressourcerie", owner="r@a.example")
    writer, reader = Browser(node), Browser(node)
    await writer.login("m@a.example")
    await reader.login("r@a.example")
    page = await writer.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Bonjour"},
        csrf_from="/messages/new",
    )
    thread = page.location.split("#")[0]

    listing = await reader.get("/notifications")
    assert _count(listing.text) == 1
    # A sender of this territory is named without its domain.
    assert "Menuiserie Lasserre vous a envoyé un message." in listing
    link = re.search(r'href="(/notifications/\d+)"', listing.text)
    assert link
    opened = await reader.get(link.group(1))
    assert opened.status == 302
    assert opened.location == thread
    assert _count((await reader.get("/notifications")).text) == 0

    # Someone else's notification is not theirs to open.
    assert (await writer.get(link.group(1))).status == 404


async def test_viewing_the_thread_reads_its_notification(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example")
    await node.structure("ressourcerie", owner="r@a.example")
    writer, reader = Browser(node), Browser(node)
    await writer.login("m@a.example")
    await reader.login("r@a.example")
    page = await writer.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Bonjour"},
        csrf_from="/messages/new",
    )
    assert _count((await reader.get("/")).text) == 1
    shown = await reader.get(page.location.split("#")[0])
    assert _count(shown.text) == 0


async def test_a_pending_structure_is_notified_to_admins(node: TestNode) -> None:
    await node.person("admin@example.org", role="admin")
    await node.person("other-admin@example.org", role="admin")
    await node.person("mod@example.org", role="moderator")
    page = await Browser(node).post("/signup", SIGNUP, csrf_from="/signup")
    assert page.status == 302
    admin = Browser(node)
    await admin.login("admin@example.org")
    listing = await admin.get("/notifications")
    assert "Menuiserie Lasserre s’est inscrite et attend d’être validée." in listing
    assert _count(listing.text) == 1
    moderator = Browser(node)
    await moderator.login("mod@example.org")
    assert "s’est inscrite" not in await moderator.get("/notifications")

    # Mark all read.
    page = await admin.post("/notifications/read", csrf_from="/notifications")
    assert page.status == 302
    after = await admin.get("/notifications")
    assert _count(after.text) == 0
    assert "Toutes vos notifications sont marquées comme lues." in after
    assert "Tout marquer comme lu" not in after
    # The other administrator still has theirs.
    other = Browser(node)
    await other.login("other-admin@example.org")
    assert _count((await other.get("/")).text) == 1


async def test_every_kind_reads_as_a_sentence(node: TestNode) -> None:
    person = await node.person("admin@example.org", role="admin")
    rows = [
        ("follower", {"name": "Ferme du Gave", "domain": "b.test"}, "/@x"),
        ("follow_accepted", {"name": "Territoire B", "domain": "b.test"}, ""),
        (
            "peering_request",
            {"domain": "b.test", "actor": "https://b.test/actors/t"},
            "/admin/peers",
        ),
        ("report", {"origin": "c.test", "target": "https://a.test/listings/1"}, "/admin/reports"),
        ("report", {"origin": "local", "target": "https://b.test/x"}, "/admin/reports"),
    ]
    async with node.node.db.session() as session:
        for kind, data, url in rows:
            session.add(Notification(person_id=person.id, kind=kind, data=data, url=url))
        await session.commit()
    browser = Browser(node)
    await browser.login("admin@example.org")
    page = await browser.get("/notifications")
    for sentence in (
        "Ferme du Gave (b.test) suit désormais votre structure.",
        "Territoire B (b.test) a accepté votre abonnement.",
        "Le territoire b.test demande à s’appairer avec celui-ci.",
        "Un signalement reçu de c.test attend les modérateurs.",
        "Une structure de ce territoire a fait un signalement",
    ):
        assert sentence in page, sentence
    english = await browser.get("/notifications?lang=en")
    assert "Ferme du Gave (b.test) now follows your structure." in english
    assert "The territory b.test asks to peer with this one." in english
