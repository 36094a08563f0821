"""Every form carries a CSRF token; a POST without the right one is refused."""

from __future__ import annotations

from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser


async def test_login_form_needs_the_token(node: TestNode) -> None:
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
    await node.person("ana@example.org")
    browser = Browser(node)
    await browser.login("ana@example.org")
    assert (await browser.post("/account/tokens", {"name": "x"}, csrf_from=None)).status == 400
    assert (await browser.post("/logout", csrf="forged")).status == 400
    assert (await browser.get("/account")).status == 200  # still logged in
    assert (await browser.post("/logout", csrf_from="/account")).status == 302
    assert (await browser.get("/account")).status == 302


async def test_every_form_of_a_page_carries_the_token(node: TestNode) -> None:
    await node.structure("menuiserie", owner="ana@example.org")
    browser = Browser(node)
    await browser.login("ana@example.org")
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
