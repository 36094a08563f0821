"""Sessions end when they should, and sign-up tells nobody who has an account.

Logging in makes a row of ``web_sessions`` (the cookie carries its secret,
the table its SHA-256); logging out deletes it, so a copy of the cookie is
dead afterwards; "log out everywhere" deletes them all (``instance.auth``).
The CSRF nonce is replaced at login and logout (``instance.csrf``). Sign-up
answers the same for a new address and a registered one, and logs nobody in
(``instance.web.accounts``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from domain.models import Person, Structure, WebSession
from domain.social import Notification
from tests.support import PASSWORD, TestNode, make_settings, running_node
from tests.web.browser import CSRF_RE, Browser, Page
from tests.web.data import SIGNUP

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestNode]:
    path = tmp_path_factory.mktemp("sessions")
    async with running_node(make_settings(path / "a", module_db())) as running:
        yield running


def _auth_cookie(page: Page) -> str:
    for header in page.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "entraide_auth":
            return rest.split(";", 1)[0]
    raise AssertionError("no entraide_auth cookie was set")


def _with_cookie(node: TestNode, value: str) -> Browser:
    """Another browser holding a copy of someone's login cookie (and nothing else)."""
    thief = Browser(node)
    thief.client.set_cookie(node.domain, "entraide_auth", value)
    return thief


async def test_login_cookie_replayed_after_logout_is_refused(node: TestNode) -> None:
    """Attack: copy Ana's 30-day login cookie (malware, a shared computer, a proxy log),
    wait for her to log out, then replay it. After her logout the copy opens nothing
    (``/account`` redirects to the login page), while her session on another computer
    goes on: logging out ends that session only. The table holds no cookie in clear.
    (Before the fix the copy kept working for 30 days, and nothing could revoke it.)"""
    await node.person("ana@example.org")
    ana = Browser(node)
    cookie = _auth_cookie(await ana.login("ana@example.org"))
    other_computer = Browser(node)
    await other_computer.login("ana@example.org")

    thief = _with_cookie(node, cookie)
    assert (await thief.get("/account")).status == 200  # the copy works while she is in

    assert (await ana.logout()).status == 302
    assert (await ana.get("/account")).status == 302
    replayed = await thief.get("/account")
    assert replayed.status == 302
    assert replayed.location.startswith("/login")
    assert (await other_computer.get("/account")).status == 200

    async with node.node.db.session() as session:
        rows = (
            await session.execute(
                select(WebSession.token_hash)
                .join(Person, Person.id == WebSession.person_id)
                .where(Person.email == "ana@example.org")
            )
        ).scalars()
        hashes = list(rows)
    assert len(hashes) == 1  # the other computer's; the ended one is deleted
    assert all(len(value) == 64 and value not in cookie for value in hashes)


async def test_log_out_everywhere_ends_every_session(node: TestNode) -> None:
    """Attack: Bob lost his phone, logged in, and someone holds its cookie. From his
    computer he logs out everywhere: the phone's session (and a copy of it) and his own
    end; he logs in again afresh."""
    await node.person("bob@example.org")
    phone, computer = Browser(node), Browser(node)
    cookie = _auth_cookie(await phone.login("bob@example.org"))
    await computer.login("bob@example.org")
    account = await computer.get("/account")
    assert "Vous êtes connecté sur 2 navigateurs." in account
    page = await computer.post("/account/sessions/end", csrf_from="/account")
    assert page.status == 302
    for browser in (phone, computer, _with_cookie(node, cookie)):
        assert (await browser.get("/account")).status == 302
    await computer.login("bob@example.org")
    assert (await computer.get("/account")).status == 200
    assert (await phone.get("/account")).status == 302


async def test_csrf_token_from_before_login_is_refused_after_login(node: TestNode) -> None:
    """Attack: read (or plant) a CSRF token in a browser before its owner logs in — a
    shared computer, a login page left open — then use it to forge a request in the
    logged-in session. The nonce changes at login: the old token is refused with 400,
    a token from a page seen after logging in works. The same at logout."""
    await node.person("claire@example.org")
    browser = Browser(node)
    before = (await browser.get("/login")).csrf
    await browser.post("/login", {"email": "claire@example.org", "password": PASSWORD}, csrf=before)
    assert (await browser.get("/account")).status == 200
    forged = await browser.post("/account/tokens", {"name": "forged"}, csrf=before)
    assert forged.status == 400
    honest = await browser.post("/account/tokens", {"name": "mine"}, csrf_from="/account")
    assert honest.status == 200

    logged_in = (await browser.get("/account")).csrf
    await browser.post("/logout", csrf=logged_in)
    page = await browser.post(
        "/login", {"email": "claire@example.org", "password": PASSWORD}, csrf=logged_in
    )
    assert page.status == 400


async def _sign_up(node: TestNode, **changes: str) -> tuple[Page, Page]:
    browser = Browser(node)
    answer = await browser.post("/signup", {**SIGNUP, **changes}, csrf_from="/signup")
    return answer, await browser.get(answer.location or "/signup")


async def test_signup_does_not_tell_whether_the_email_is_registered(node: TestNode) -> None:
    """Attack: account enumeration through the sign-up form (the login form already gives
    nothing away). Signing up with a registered address and with a new one get the same
    status, the same redirect, the same page, and neither logs in. For the registered
    address nothing is created or changed — its password still works, the other does
    not — and its owner is told in their notifications, with nothing the sender typed.
    (Before the fix the form said "this address is already registered".)"""
    await node.person("dana@example.org")
    known, known_page = await _sign_up(
        node,
        email="Dana@Example.org",
        handle="usurpation",
        password="another password!",
        name="Compte bloqué : allez sur evil.example",
    )
    new, new_page = await _sign_up(node, email="eve@example.org", handle="nouvelle")
    assert known.status == new.status == 302
    assert known.location == new.location == "/signup/done"
    assert known_page.status == new_page.status == 200
    assert CSRF_RE.sub("", known_page.text) == CSRF_RE.sub("", new_page.text)
    for answer in (known, new):
        cookies = [c.split("=", 1)[0] for c in answer.headers.getlist("Set-Cookie")]
        assert "entraide_auth" not in cookies

    async with node.node.db.session() as session:
        handles = set((await session.execute(select(Structure.handle))).scalars())
        dana = (
            await session.execute(select(Person).where(Person.email == "dana@example.org"))
        ).scalar_one()
        notices = (
            await session.execute(
                select(func.count())
                .select_from(Notification)
                .where(Notification.person_id == dana.id, Notification.kind == "signup_attempt")
            )
        ).scalar_one()
    assert "usurpation" not in handles and "nouvelle" in handles
    assert notices == 1
    dana_browser = Browser(node)
    refused = await dana_browser.post(
        "/login",
        {"email": "dana@example.org", "password": "another password!"},
        csrf_from="/login",
    )
    assert refused.status == 401
    await dana_browser.login("dana@example.org")
    notifications = await dana_browser.get("/notifications")
    assert "Le formulaire d’inscription a été envoyé avec votre adresse" in notifications
    # Nothing the sender typed reaches her (no phishing text sent in the node's name).
    assert "evil.example" not in notifications.text
    # A second attempt adds no second unread notice (no flood of the owner's inbox).
    await _sign_up(node, email="dana@example.org", handle="encore")
    async with node.node.db.session() as session:
        again = (
            await session.execute(
                select(func.count())
                .select_from(Notification)
                .where(Notification.person_id == dana.id, Notification.kind == "signup_attempt")
            )
        ).scalar_one()
    assert again == 1


async def test_two_nodes_on_one_host_do_not_log_each_other_out(
    module_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two nodes on 127.0.0.1 (the local demo, ``demo --peered``): a browser keeps cookies
    per host, not per port, so with one cookie name logging in to the second replaced the
    first one's session. The names now carry the port (``entraide_auth_8001``); a node
    without a port keeps ``entraide_auth``. (Before: the first node's page answered 302 to
    /login once the second node's cookie was stored under the same name.)"""
    path = tmp_path_factory.mktemp("two-ports")
    settings = [
        make_settings(path / name, module_db(), domain=f"127.0.0.1:{port}")
        for name, port in (("a", 8001), ("b", 8002))
    ]
    async with running_node(settings[0]) as a, running_node(settings[1]) as b:
        browsers = []
        for node in (a, b):
            await node.person("camille@example.org")
            browser = Browser(node)
            page = await browser.login("camille@example.org")
            names = {h.split("=", 1)[0] for h in page.headers.getlist("Set-Cookie")}
            port = node.domain.rsplit(":", 1)[1]
            assert f"entraide_auth_{port}" in names, names
            browsers.append((browser, page))
        (browser_a, _), (_, page_b) = browsers
        # What the browser does with B's answer: store its cookies for host 127.0.0.1.
        for header in page_b.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            browser_a.client.set_cookie(a.domain, name, rest.split(";", 1)[0])
        assert (await browser_a.get("/account")).status == 200
