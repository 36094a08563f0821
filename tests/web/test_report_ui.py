"""« Signaler » from the pages: the report form, what it sends, and who may use it."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from domain.models import Listing
from domain.social import Message, Notification, Report
from federation.models import Activity, Actor, Delivery
from tests.support import TestNode
from tests.web.browser import Browser, Page
from tests.web.data import remote_listing
from tests.web.test_xss import PAYLOAD, SCRIPT, assert_escaped


async def _publish(node: TestNode, title: str = "Broyeur de végétaux") -> tuple[int, str]:
    """A listing of La Menuiserie (m@a.example); its id and ActivityPub id."""
    token = await node.token("m@a.example")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "menuiserie",
            "kind": "offer",
            "title": title,
            "description": "À prêter",
            "category": "equipment",
            "modality": "lend",
        },
    )
    assert response.status_code == 201, await response.get_data()
    listing = await response.get_json()
    return int(listing["id"]), str(listing["ap_id"])


async def _territory(node: TestNode) -> tuple[Browser, Browser]:
    """Two structures with their members logged in (menuiserie, ressourcerie), a moderator."""
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("ressourcerie", owner="r@a.example", name="Ressourcerie du Gave")
    await node.person("mod@a.example", role="moderator")
    menuiserie, ressourcerie = Browser(node), Browser(node)
    await menuiserie.login("m@a.example")
    await ressourcerie.login("r@a.example")
    return menuiserie, ressourcerie


def _form_path(target: str, next_path: str | None = None) -> str:
    path = f"/report?target={quote(target, safe='')}"
    return path + (f"&next={quote(next_path, safe='')}" if next_path else "")


def _field(page: Page, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert found, name
    return html.unescape(found.group(1))


def _report_href(page: Page) -> str | None:
    found = re.search(r'<p class="report-link"><a href="([^"]+)"', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


async def _reports(node: TestNode) -> list[Report]:
    async with node.node.db.session() as session:
        return list((await session.execute(select(Report))).scalars().unique())


def _stays_here(page: Page) -> str:
    """The redirect's target, asserted to be a path of this site."""
    assert page.status == 302, page.text
    location = page.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "a.test"), location
    assert "evil" not in location
    return parts.path


async def test_a_member_reports_a_listing_of_another_structure(node: TestNode) -> None:
    menuiserie, ressourcerie = await _territory(node)
    listing_id, ap_id = await _publish(node)

    # The listing page offers « Signaler » to another structure, not to its own nor to visitors.
    page = await ressourcerie.get(f"/listings/{listing_id}")
    href = _report_href(page)
    assert href == _form_path(ap_id, f"/listings/{listing_id}").replace("%2F", "/")
    assert _report_href(await menuiserie.get(f"/listings/{listing_id}")) is None
    assert _report_href(await Browser(node).get(f"/listings/{listing_id}")) is None

    form = await ressourcerie.get(href)
    assert form.status == 200
    assert "Signaler aux modérateurs" in form
    assert "Broyeur de végétaux" in form
    assert "Par Menuiserie Lasserre" in form
    assert "Signaler au nom de" in form and "Ressourcerie du Gave" in form
    assert f'name="target" value="{ap_id}"' in form.text

    page = await ressourcerie.post(
        "/report",
        {
            "target": ap_id,
            "next": f"/listings/{listing_id}",
            "structure": "ressourcerie",
            "reason": "Ce broyeur est vendu ailleurs, l’annonce trompe.",
        },
        csrf=form.csrf,
    )
    assert _stays_here(page) == f"/listings/{listing_id}"
    thanks = await ressourcerie.get(f"/listings/{listing_id}")
    assert "Merci : les modérateurs de ce territoire vont examiner votre signalement." in thanks

    [report] = await _reports(node)
    assert report.target_uri == ap_id
    assert report.objects == [ap_id]
    assert report.reason == "Ce broyeur est vendu ailleurs, l’annonce trompe."
    assert report.origin == "local"
    assert report.reporter_actor is not None and report.reporter_actor.handle == "ressourcerie"
    assert report.target_actor is not None and report.target_actor.handle == "menuiserie"
    assert not report.forwarded  # a local listing: nothing leaves the node

    # The moderator is notified and finds the report on /admin/reports.
    async with node.node.db.session() as session:
        kinds = (
            await session.execute(
                select(Notification.kind).where(Notification.url == "/admin/reports")
            )
        ).scalars()
        assert list(kinds) == ["report"]
    moderator = Browser(node)
    await moderator.login("mod@a.example")
    assert "Une structure de ce territoire a fait un signalement" in await moderator.get(
        "/notifications"
    )
    reports = await moderator.get("/admin/reports")
    assert "Ce broyeur est vendu ailleurs" in reports


async def test_the_acting_structure_is_chosen_when_there_are_several(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    await node.structure("atelier", owner="r@a.example", name="Atelier vélo")
    listing_id, ap_id = await _publish(node)
    form = await ressourcerie.get(_form_path(ap_id))
    assert '<select id="f-structure" name="structure"' in form.text
    assert "Atelier vélo" in form and "Ressourcerie du Gave" in form
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "structure": "atelier", "reason": "Doublon"}, csrf=form.csrf
    )
    # Without a ``next``, back to the listing's page.
    assert _stays_here(page) == f"/listings/{listing_id}"
    [report] = await _reports(node)
    assert report.reporter_actor is not None and report.reporter_actor.handle == "atelier"
    # A structure the person does not act for cannot be borrowed: the first of theirs is used.
    await ressourcerie.post(
        "/report",
        {"target": ap_id, "structure": "menuiserie", "reason": "Encore"},
        csrf=form.csrf,
    )
    handles = sorted(r.reporter_actor.handle for r in await _reports(node) if r.reporter_actor)
    assert "menuiserie" not in handles


async def test_an_empty_reason_is_refused_with_the_form(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    _listing_id, ap_id = await _publish(node)
    form_path = _form_path(ap_id)
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "reason": "   "}, csrf_from=form_path
    )
    assert page.status == 422
    assert "Dites en quelques mots ce qui ne va pas." in page
    assert "Broyeur de végétaux" in page  # the form again, with what is reported
    assert 'aria-invalid="true"' in page.text
    english = Browser(node, headers={"Accept-Language": "en"})
    await english.login("r@a.example")
    page = await english.post("/report", {"target": ap_id, "reason": ""}, csrf_from=form_path)
    assert page.status == 422
    assert "Say in a few words what is wrong." in page

    # Too long, refused too: the reason is kept in the textarea.
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "reason": "abus " * 1001}, csrf_from=form_path
    )
    assert page.status == 422
    assert "Votre motif est trop long : 5000 caractères au plus." in page
    assert await _reports(node) == []


async def test_an_unknown_target_is_refused(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    for target in ("https://evil.example/", "https://a.test/listings/999", "javascript:alert(1)"):
        page = await ressourcerie.get(_form_path(target))
        assert page.status == 404, target
        assert "Il n’y a rien à signaler à cette adresse" in page
        page = await ressourcerie.post(
            "/report", {"target": target, "reason": "Arnaque"}, csrf_from="/"
        )
        assert page.status == 422, target
        assert "Il n’y a rien à signaler à cette adresse" in page
    page = await ressourcerie.get("/report")
    assert page.status == 404
    assert await _reports(node) == []


async def test_the_form_needs_its_csrf_token(node: TestNode) -> None:
    _menuiserie, ressourcerie = await _territory(node)
    _listing_id, ap_id = await _publish(node)
    # A page of another site posting in the person's name carries no token.
    page = await ressourcerie.post("/report", {"target": ap_id, "reason": "x"}, csrf_from=None)
    assert page.status == 400
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "reason": "x"}, csrf="forged.token.value"
    )
    assert page.status == 400
    assert await _reports(node) == []


async def test_visitors_log_in_and_people_without_a_structure_are_told(node: TestNode) -> None:
    await _territory(node)
    _listing_id, ap_id = await _publish(node)
    anonymous = Browser(node)
    page = await anonymous.get(_form_path(ap_id))
    assert page.status == 302
    assert page.location.startswith("/login?next=%2Freport")
    page = await anonymous.post("/report", {"target": ap_id, "reason": "x"}, csrf_from="/login")
    assert page.status == 302
    assert page.location.startswith("/login")

    # Logged in, but acting for no approved structure: a clear refusal.
    await node.structure("en_attente", owner="p@a.example", approved=False)
    pending = Browser(node)
    await pending.login("p@a.example")
    assert _report_href(await pending.get(f"/listings/{_listing_id}")) is None
    page = await pending.get(_form_path(ap_id))
    assert page.status == 403
    assert "Seuls les membres d’une structure validée peuvent signaler." in page
    page = await pending.post("/report", {"target": ap_id, "reason": "x"}, csrf_from="/")
    assert page.status == 403
    assert await _reports(node) == []


async def test_no_redirect_leaves_the_site(node: TestNode) -> None:
    """Open-redirect attempts: ``next`` naming another site comes back to the listing."""
    _menuiserie, ressourcerie = await _territory(node)
    listing_id, ap_id = await _publish(node)
    for evil in (
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "///evil.example",
        "https:evil.example",
        " //evil.example",
    ):
        form = await ressourcerie.get(_form_path(ap_id, evil))
        assert form.status == 200
        # Neither the hidden field nor the Cancel link keeps it.
        assert _field(form, "next") == f"/listings/{listing_id}", evil
        assert f'<a href="/listings/{listing_id}">Annuler</a>' in form.text
        page = await ressourcerie.post(
            "/report", {"target": ap_id, "next": evil, "reason": "Arnaque"}, csrf=form.csrf
        )
        assert _stays_here(page) == f"/listings/{listing_id}", evil
    # A path of this site is followed.
    page = await ressourcerie.post(
        "/report", {"target": ap_id, "next": "/search?q=broyeur", "reason": "x"}, csrf_from="/"
    )
    assert page.headers["Location"].endswith("/search?q=broyeur")


async def test_the_page_in_french_and_english(node: TestNode) -> None:
    await _territory(node)
    _listing_id, ap_id = await _publish(node)
    french = Browser(node)
    await french.login("r@a.example")
    page = await french.get(_form_path(ap_id))
    assert '<html lang="fr">' in page
    for text in (
        "Signaler aux modérateurs",
        "L’annonce",
        "Ce qui ne va pas",
        "Envoyer le signalement",
        "l’auteur ne sait pas qui a signalé",
    ):
        assert text in page, text
    english = Browser(node, headers={"Accept-Language": "en"})
    await english.login("r@a.example")
    page = await english.get(_form_path(ap_id))
    assert '<html lang="en">' in page
    for text in (
        "Report to the moderators",
        "The listing",
        "What is wrong",
        "Send the report",
        "the author is not told who reported",
    ):
        assert text in page, text
    assert "Signaler" not in page


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
