"""Two-step login (TOTP) of administrators and moderators: enrolment, login, recovery
codes, the lock after wrong codes, turning it off."""

from __future__ import annotations

import re
from datetime import datetime

import pyotp
from sqlalchemy import update

from domain.models import Person
from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser, Page


def _secret(page: Page) -> str:
    found = re.search(r'<code class="break">([A-Z2-7]+)</code>', page.text)
    assert found, page.text
    return found.group(1)


async def _enrol(
    node: TestNode, email: str = "admin@example.org"
) -> tuple[Browser, str, list[str]]:
    await node.person(email, role="admin")
    browser = Browser(node)
    await browser.login(email)
    off = await browser.get("/account/two-factor")
    assert "Votre mot de passe seul ouvre votre compte." in off
    started = await browser.post("/account/two-factor/start", csrf_from="/account/two-factor")
    assert started.status == 302
    page = await browser.get("/account/two-factor")
    assert "<svg" in page and "Scannez ce code" in page
    assert page.headers.get("Cache-Control") == "no-store"
    secret = _secret(page)
    wrong = await browser.post(
        "/account/two-factor/confirm", {"code": "000000"}, csrf_from="/account/two-factor"
    )
    assert wrong.status == 422
    assert "Ce code n’est pas celui qu’affiche l’application." in wrong
    done = await browser.post(
        "/account/two-factor/confirm",
        {"code": pyotp.TOTP(secret).now()},
        csrf_from="/account/two-factor",
    )
    assert done.status == 200, done.text
    assert done.headers.get("Cache-Control") == "no-store"
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10
    return browser, secret, codes


async def _password_step(node: TestNode, email: str = "admin@example.org") -> Browser:
    browser = Browser(node)
    page = await browser.post("/login", {"email": email, "password": PASSWORD}, csrf_from="/login")
    assert page.status == 302
    assert page.location == "/login/code"
    assert (await browser.get("/account")).status == 302  # not logged in yet
    return browser


async def test_enrol_then_login_asks_for_the_code(node: TestNode) -> None:
    _, secret, codes = await _enrol(node)
    browser = await _password_step(node)
    assert "Connexion : deuxième étape" in await browser.get("/login/code")
    wrong = await browser.post("/login/code", {"code": "123456"}, csrf_from="/login/code")
    assert wrong.status == 401
    assert (await browser.get("/account")).status == 302
    # A code of the app; the step before (the enrolment used the current one) is
    # refused as a replay, so use the next step's code, which the ±30 s window accepts.
    totp = pyotp.TOTP(secret)
    code = totp.at(totp.timecode(datetime.now()) * 30 + 30)
    ok = await browser.post("/login/code", {"code": code}, csrf_from="/login/code")
    assert ok.status == 302, ok.text
    assert (await browser.get("/account")).status == 200
    # The same code does not open a second browser (each code once).
    again = await _password_step(node)
    replay = await again.post("/login/code", {"code": code}, csrf_from="/login/code")
    assert replay.status == 401

    # A recovery code works once.
    rescue = await _password_step(node)
    used = await rescue.post("/login/code", {"code": codes[0].upper()}, csrf_from="/login/code")
    assert used.status == 302
    twice = await _password_step(node)
    refused = await twice.post("/login/code", {"code": codes[0]}, csrf_from="/login/code")
    assert refused.status == 401
    assert "9 codes de secours restants." in await rescue.get("/account/two-factor")


async def test_wrong_codes_lock_the_step(node: TestNode) -> None:
    _, secret, _codes = await _enrol(node)
    browser = await _password_step(node)
    for _ in range(5):  # five wrong codes in a row close the step
        page = await browser.post("/login/code", {"code": "111111"}, csrf_from="/login/code")
        assert page.status == 401
    locked = await browser.post("/login/code", {"code": "111111"}, csrf_from="/login/code")
    assert locked.status == 429
    assert "Trop de codes erronés" in locked
    # Even the right code waits now, from any browser.
    other = await _password_step(node)
    right = await other.post(
        "/login/code", {"code": pyotp.TOTP(secret).now()}, csrf_from="/login/code"
    )
    assert right.status == 429
    assert (await other.get("/account")).status == 302


async def test_disable_needs_password_and_code(node: TestNode) -> None:
    browser, _secret_key, codes = await _enrol(node)
    # One whose role is taken away keeps the page, to turn the second factor off.
    async with node.node.db.session() as session:
        await session.execute(update(Person).values(role="member"))
        await session.commit()
    assert (await browser.get("/account/two-factor")).status == 200
    no_password = await browser.post(
        "/account/two-factor/disable",
        {"password": "pas le mot de passe", "code": codes[1]},
        csrf_from="/account/two-factor",
    )
    assert no_password.status == 422
    assert "Ce n’est pas votre mot de passe actuel." in no_password
    no_code = await browser.post(
        "/account/two-factor/disable",
        {"password": PASSWORD, "code": "999999"},
        csrf_from="/account/two-factor",
    )
    assert no_code.status == 422
    off = await browser.post(
        "/account/two-factor/disable",
        {"password": PASSWORD, "code": codes[1]},
        csrf_from="/account/two-factor",
    )
    assert off.status == 302
    # Off; and, no longer a moderator, the person cannot set it up again.
    assert (await browser.get("/account/two-factor")).status == 403
    await Browser(node).login("admin@example.org")  # one step again


async def test_second_factor_is_for_administrators_and_moderators(node: TestNode) -> None:
    await node.person("ana@example.org")
    browser = Browser(node)
    await browser.login("ana@example.org")
    assert (await browser.get("/account/two-factor")).status == 403
    assert "Connexion en deux étapes" not in await browser.get("/account")
    started = await browser.post("/account/two-factor/start", csrf_from="/account")
    assert started.status == 403
    # The second step cannot be reached without the first.
    assert (await Browser(node).get("/login/code")).location == "/login"
