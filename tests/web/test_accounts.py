"""Signing up, logging in and out, and API tokens, through the pages."""

from __future__ import annotations

import re

from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser
from tests.web.data import SIGNUP


async def test_signup_creates_a_pending_structure(node: TestNode) -> None:
    browser = Browser(node)
    page = await browser.post("/signup", SIGNUP, csrf_from="/signup")
    assert page.status == 302
    assert page.location == "/signup/done"

    done = await browser.get("/signup/done")
    assert done.status == 200
    assert "Merci : votre inscription est bien reçue." in done
    assert "attend la validation des administrateurs du territoire" in done
    # Signing up logs nobody in (it would tell whether the address was new).
    assert (await browser.get("/account")).status == 302

    await browser.login(SIGNUP["email"], SIGNUP["password"])
    account = await browser.get("/account")
    assert "En attente de validation" in account
    assert "Claire Lasserre" in account


async def test_signup_errors_are_shown_next_to_the_fields(node: TestNode) -> None:
    await node.structure("menuiserie_lasserre", owner="someone@example.org")
    browser = Browser(node)
    form = {**SIGNUP, "email": "pas-une-adresse", "password": "court", "lat": "43.4", "lon": ""}
    page = await browser.post("/signup", form, csrf_from="/signup")
    assert page.status == 422
    # Translated, next to their field, described for assistive technology.
    assert 'id="f-email-error"' in page
    assert "Le format n’est pas valide." in page
    assert "Doit comporter au moins 10 caractères." in page
    assert "Latitude et longitude vont ensemble" in page
    assert re.search(r'id="f-email"[^>]*aria-describedby="[^"]*f-email-error"', page.text)
    assert re.search(r'id="f-email"[^>]*aria-invalid="true"', page.text)
    # What was typed is kept, except the password.
    assert 'value="pas-une-adresse"' in page
    assert 'value="Menuiserie Lasserre"' in page
    assert "court" not in page.text.split('id="f-password"')[1].split(">")[0]

    # Once the fields are valid, a taken handle is reported too.
    page = await browser.post("/signup", SIGNUP, csrf_from="/signup")
    assert page.status == 422
    assert "Ce nom est déjà pris." in page
    assert (await browser.get("/account")).status == 302  # nobody was logged in


async def test_login_failure_does_not_say_what_was_wrong(node: TestNode) -> None:
    await node.person("ana@example.org")
    browser = Browser(node)
    wrong_password = await browser.post(
        "/login", {"email": "ana@example.org", "password": "nope nope nope"}, csrf_from="/login"
    )
    unknown_email = await browser.post(
        "/login", {"email": "nobody@example.org", "password": PASSWORD}, csrf_from="/login"
    )
    for page in (wrong_password, unknown_email):
        assert page.status == 401
        assert "L’adresse e-mail ou le mot de passe est incorrect." in page
    assert (await browser.get("/account")).status == 302


async def test_login_and_logout(node: TestNode) -> None:
    await node.person("ana@example.org")
    browser = Browser(node)
    page = await browser.login("ana@example.org")
    assert page.location == "/"
    home = await browser.get("/")
    assert "Connexion réussie" in home
    assert "Déconnexion" in home
    assert (await browser.get("/account")).status == 200

    page = await browser.logout()
    assert page.status == 302
    assert (await browser.get("/account")).status == 302
    assert "Connexion" in await browser.get("/")


async def test_login_honours_only_local_next(node: TestNode) -> None:
    await node.person("ana@example.org")
    browser = Browser(node)
    page = await browser.get("/account")
    assert page.status == 302
    assert page.location == "/login?next=%2Faccount"
    login_page = await browser.get(page.location)
    assert 'name="next" value="/account"' in login_page

    form = {"email": "ana@example.org", "password": PASSWORD}
    page = await browser.post("/login", {**form, "next": "/account"}, csrf_from="/login")
    assert page.location == "/account"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        other = Browser(node)
        page = await other.post("/login", {**form, "next": evil}, csrf_from="/login")
        assert page.status == 302
        assert page.location == "/", evil


async def test_token_is_shown_once_and_works_until_revoked(node: TestNode) -> None:
    await node.structure("menuiserie", owner="ana@example.org")
    browser = Browser(node)
    await browser.login("ana@example.org")

    page = await browser.post("/account/tokens", {"name": "Tableur"}, csrf_from="/account")
    assert page.status == 200
    assert page.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="token"[^>]*value="(ent_[^"]+)"', page.text)
    assert found
    token = found.group(1)
    assert "n’est affiché qu’une fois" in page

    account = await browser.get("/account")
    assert "Tableur" in account
    assert token[:10] in account
    assert token not in account  # never shown again

    api = await node.api("GET", "/api/v1/listings", token=token)
    assert api.status_code == 200
    created = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "menuiserie",
            "kind": "need",
            "title": "Camion benne",
            "description": "Pour un week-end",
            "category": "vehicles",
            "modality": "lend",
        },
    )
    assert created.status_code == 201

    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', account.text)
    assert token_id
    page = await browser.post(f"/account/tokens/{token_id.group(1)}/revoke", csrf_from="/account")
    assert page.status == 302
    assert "Le jeton est révoqué" in await browser.get("/account")

    api = await node.api("GET", "/api/v1/listings", token=token)
    assert api.status_code == 401


async def test_someone_elses_token_cannot_be_revoked(node: TestNode) -> None:
    await node.token("ana@example.org")  # token id 1, Ana's
    await node.person("bob@example.org")
    browser = Browser(node)
    await browser.login("bob@example.org")
    await browser.post("/account/tokens/1/revoke", csrf_from="/account")
    assert "Ce jeton n’existe pas ou a déjà été révoqué." in await browser.get("/account")
