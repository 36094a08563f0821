"""Changing one's password from the account pages."""

from __future__ import annotations

from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser

NEW = "une nouvelle phrase secrète"


async def test_password_change_needs_the_current_one_and_ends_other_sessions(
    node: TestNode,
) -> None:
    await node.person("ana@example.org")
    here, elsewhere = Browser(node), Browser(node)
    await here.login("ana@example.org")
    await elsewhere.login("ana@example.org")

    page = await here.get("/account/password")
    assert page.status == 200
    assert "Mot de passe actuel" in page
    assert 'href="/account/password" aria-current="page"' in page

    wrong = await here.post(
        "/account/password",
        {"current_password": "pas le bon mot de passe", "password": NEW},
        csrf_from="/account/password",
    )
    assert wrong.status == 422
    assert "Ce n’est pas votre mot de passe actuel." in wrong
    short = await here.post(
        "/account/password",
        {"current_password": PASSWORD, "password": "court"},
        csrf_from="/account/password",
    )
    assert short.status == 422
    assert "Doit comporter au moins 10 caractères." in short
    assert (await elsewhere.get("/account")).status == 200  # nothing changed yet

    done = await here.post(
        "/account/password",
        {"current_password": PASSWORD, "password": NEW},
        csrf_from="/account/password",
    )
    assert done.status == 302
    assert done.location == "/account"
    account = await here.get("/account")
    assert account.status == 200  # this browser stays logged in
    assert "Votre mot de passe est changé." in account
    assert (await elsewhere.get("/account")).status == 302  # the other session ended

    old = await Browser(node).post(
        "/login", {"email": "ana@example.org", "password": PASSWORD}, csrf_from="/login"
    )
    assert old.status == 401
    await Browser(node).login("ana@example.org", NEW)


async def test_password_page_in_english_and_for_the_logged_in_only(node: TestNode) -> None:
    assert (await Browser(node).get("/account/password")).status == 302
    await node.person("ana@example.org")
    browser = Browser(node, headers={"Accept-Language": "en"})
    await browser.login("ana@example.org")
    page = await browser.get("/account/password")
    assert "Current password" in page
    assert "Change my password" in page
