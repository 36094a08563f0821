"""Reporting from the web: remote content forwarded, the links on posts and messages, escaping."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from domain.models import Listing
from domain.social import Message
from federation.models import Activity, Actor, Delivery
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.data import remote_listing
from tests.web.report_ui_support import (
    _field,
    _form_path,
    _publish,
    _report_href,
    _reports,
    _stays_here,
    _territory,
)
from tests.web.test_xss import PAYLOAD, SCRIPT, assert_escaped


async def test_remote_content_is_forwarded_without_the_reporter(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    listing_id = await remote_listing(node)
    async with node.node.db.session() as session:
        listing = await session.get(Listing, listing_id)
        assert listing is not None
        ap_id = listing.ap_id
    assert _report_href(await ressourcerie.get(f"/listings/{listing_id}"))
    form = await ressourcerie.get(_form_path(ap_id))
    assert "Cherche bâche agricole" in form
    assert "@ferme@b.test" in form
    assert "ses modérateurs reçoivent aussi votre motif" in form
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "reason": "Faux besoin"}, csrf=form.csrf
    )
    assert _stays_here(page) == f"/listings/{listing_id}"
    thanks = await ressourcerie.get(f"/listings/{listing_id}")
    assert "Les modérateurs de b.test en sont informés aussi" in thanks
    assert "Ressourcerie du Gave" not in thanks.text.split('class="flashes"')[1].split("</div>")[0]

    [report] = await _reports(node)
    assert report.forwarded
    async with node.node.db.session() as session:
        flag = (
            await session.execute(
                select(Activity).join(Delivery, Delivery.activity_id == Activity.id)
            )
        ).scalar_one()
        reporter = (
            await session.execute(select(Actor.uri).where(Actor.handle == "ressourcerie"))
        ).scalar_one()
    assert flag.type == "Flag"
    assert ap_id in json.dumps(flag.body)
    assert reporter not in json.dumps(flag.body)  # sent by the territory, not the structure


async def test_posts_and_received_messages_have_the_link(node: TestNode) -> None:
    menuiserie, ressourcerie = await _territory(node)

    # A message in a thread: the received one has « Signaler », one's own does not.
    page = await menuiserie.post(
        "/messages/new",
        {"from": "menuiserie", "to": "ressourcerie", "content": "Bonjour, vos palettes ?"},
        csrf_from="/messages/new",
    )
    thread = page.location.split("#")[0]
    await ressourcerie.post(
        thread, {"from": "ressourcerie", "content": "Oui, passez jeudi."}, csrf_from=thread
    )
    shown = await ressourcerie.get(thread)
    received, answered = re.findall(
        r'<li class="message[^"]*" id="message-\d+".*?</li>', shown.text, re.S
    )
    assert "vos palettes" in received and 'class="report-link"' in received
    assert "passez jeudi" in answered and 'class="report-link"' not in answered
    href = _report_href(shown)
    assert href
    form = await ressourcerie.get(href)
    assert "Le message" in form
    assert "Bonjour, vos palettes ?" in form
    page = await ressourcerie.post(
        "/report",
        {"target": _field(form, "target"), "next": _field(form, "next"), "reason": "Démarchage"},
        csrf=form.csrf,
    )
    assert _stays_here(page) == thread

    # Somebody outside the conversation cannot report (nor read) its messages.
    await node.structure("intrus", owner="i@a.example")
    intruder = Browser(node)
    await intruder.login("i@a.example")
    async with node.node.db.session() as session:
        message_ap_id = (
            (await session.execute(select(Message.ap_id).order_by(Message.id))).scalars().first()
        )
    assert message_ap_id
    page = await intruder.get(_form_path(message_ap_id))
    assert page.status == 404
    assert "palettes" not in page

    # A community post: members see « Signaler » under the others' posts.
    await node.person("anim@a.example", role="animator")
    animator = Browser(node)
    await animator.login("anim@a.example")
    await animator.post(
        "/communities/new",
        {"handle": "reseau", "name": "Réseau Dynéco", "description": ""},
        csrf_from="/communities/new",
    )
    for browser, handle in ((menuiserie, "menuiserie"), (ressourcerie, "ressourcerie")):
        await browser.post(
            "/communities/reseau/join", {"structure": handle}, csrf_from="/communities/reseau"
        )
    page = await menuiserie.post(
        "/communities/reseau/posts",
        {"structure": "menuiserie", "content": "Réunion jeudi 18 h"},
        csrf_from="/communities/reseau",
    )
    post_anchor = page.headers["Location"].rsplit("#", 1)[1]
    assert _report_href(await menuiserie.get("/communities/reseau")) is None  # its own post
    assert _report_href(await Browser(node).get("/communities/reseau")) is None  # visitors
    href = _report_href(await ressourcerie.get("/communities/reseau"))
    assert href and "next=/communities/reseau%23" + post_anchor in href
    form = await ressourcerie.get(href)
    assert "La publication" in form
    assert "Réunion jeudi 18 h" in form
    page = await ressourcerie.post(
        "/report",
        {
            "target": _field(form, "target"),
            "next": f"/communities/reseau#{post_anchor}",
            "reason": "Hors sujet",
        },
        csrf=form.csrf,
    )
    assert page.headers["Location"].endswith(f"/communities/reseau#{post_anchor}")
    assert len(await _reports(node)) == 2


async def test_titles_and_reasons_are_escaped(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    _listing_id, ap_id = await _publish(node, title=PAYLOAD)
    page = await ressourcerie.get(_form_path(ap_id, '/listings/1?x="><script>'))
    assert_escaped(page, "report form")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # A refused form shows the typed reason again, escaped.
    page = await ressourcerie.post(
        "/report", {"target": "https://a.test/nope", "reason": PAYLOAD}, csrf=page.csrf
    )
    assert page.status == 422
    assert SCRIPT not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text
