"""Cross-site request forgery: every form carries a CSRF token; a POST without the right
one is refused (400), logged in or not.

The attack: a page on another site makes the visitor's browser post one of our forms
(log in to the attacker's account, create a token, log out…) with the visitor's cookies.
One node (on the databases of ``module_db``) serves the whole module; the tests use
their own people.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support import PASSWORD, TestNode, make_settings, running_node
from tests.web.browser import Browser

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestNode]:
    path = tmp_path_factory.mktemp("csrf")
    async with running_node(make_settings(path / "a", module_db())) as running:
        yield running


async def test_login_form_needs_the_token(node: TestNode) -> None:
    """Attack: login CSRF — another site posts our login form with the attacker's
    credentials, so the victim works in the attacker's account. Without the token, with a
    forged one, or with one from another browser session: 400, not logged in."""
    await node.person("ana@example.org")
    form = {"email": "ana@example.org", "password": PASSWORD}
    browser = Browser(node)
    token = (await browser.get("/login")).csrf

    missing = await browser.post("/login", form, csrf_from=None)
    assert missing.status == 400
    assert "Cette demande n’a pas pu être traitée" in missing
    wrong = await browser.post("/login", form, csrf=token[:-4] + "abcd")
    assert wrong.status == 400
    # A token from another browser session does not fit this one.
    other = await Browser(node).get("/login")
    assert (await browser.post("/login", form, csrf=other.csrf)).status == 400
    assert (await browser.get("/account")).status == 302

    right = await browser.post("/login", form, csrf=token)
    assert right.status == 302
    assert (await browser.get("/account")).status == 200


async def test_logged_in_forms_need_the_token(node: TestNode) -> None:
    """Attack: another site posts, with the logged-in victim's cookies, the form that
    creates an API token, or the logout form. Without the right token: 400, nothing done."""
    await node.person("bea@example.org")
    browser = Browser(node)
    await browser.login("bea@example.org")
    assert (await browser.post("/account/tokens", {"name": "x"}, csrf_from=None)).status == 400
    assert (await browser.post("/logout", csrf="forged")).status == 400
    assert (await browser.get("/account")).status == 200  # still logged in
    assert (await browser.post("/logout", csrf_from="/account")).status == 302
    assert (await browser.get("/account")).status == 302


async def test_every_form_of_a_page_carries_the_token(node: TestNode) -> None:
    """The defence is everywhere: every form of the main pages carries its token."""
    await node.structure("menuiserie", owner="cleo@example.org")
    browser = Browser(node)
    await browser.login("cleo@example.org")
    await browser.post("/account/tokens", {"name": "x"}, csrf_from="/account")
    anonymous = Browser(node)
    for who, path in (
        (browser, "/account"),
        (browser, "/listings/new"),
        (browser, "/"),
        (anonymous, "/signup"),
        (anonymous, "/login"),
    ):
        page = await who.get(path)
        forms = page.text.count('method="post"')
        assert forms >= 1
        assert page.text.count('name="csrf_token"') == forms, path
