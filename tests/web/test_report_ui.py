"""« Signaler » from the pages: the report form, what it sends, and who may use it."""

from __future__ import annotations

from sqlalchemy import select

from domain.social import Notification
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.report_ui_support import (
    _field,
    _form_path,
    _publish,
    _report_href,
    _reports,
    _stays_here,
    _territory,
)


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
