"""User text is escaped on every page: titles, descriptions, structure names and more."""

from __future__ import annotations

import re

from tests.support import TestNode
from tests.web.browser import MAP_DATA, Browser, Page
from tests.web.data import listing_form, remote_listing

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
PAYLOAD = f"Chutes {SCRIPT} et {ATTRIBUTE}"


def assert_escaped(page: Page, path: str) -> None:
    assert page.status == 200, path
    assert SCRIPT not in page.text, path
    assert "<img src=x" not in page.text, path
    assert "onerror=alert(1)>" not in page.text.replace("onerror=alert(1)&gt;", ""), path
    # The only scripts are ours (the map's JSON and static files).
    for tag in re.findall(r"<script[^>]*>", page.text):
        assert 'type="application/json"' in tag or "src=" in tag, (path, tag)


async def test_user_text_is_escaped_everywhere(node: TestNode) -> None:
    owner = Browser(node)
    signup = await owner.post(
        "/signup",
        {
            "email": "ana@example.org",
            "password": "un mot de passe solide",
            "display_name": PAYLOAD,
            "name": PAYLOAD,
            "handle": "piege",
            "kind": "association",
            "commune": PAYLOAD[:150],
            "description": PAYLOAD,
            "contact_email": "contact@piege.example",
        },
        csrf_from="/signup",
    )
    assert signup.status == 302
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    queue = await admin.get("/admin/structures")
    assert_escaped(queue, "/admin/structures (pending)")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in queue.text
    structure_id = re.search(r"/admin/structures/(\d+)/approve", queue.text)
    assert structure_id
    await admin.post(
        f"/admin/structures/{structure_id.group(1)}/approve", csrf_from="/admin/structures"
    )

    page = await owner.post(
        "/listings/new",
        listing_form(
            structure="piege",
            title=PAYLOAD,
            description=PAYLOAD,
            unit="<b>kg",
            quantity="3",
            commune=PAYLOAD[:150],
        ),
        csrf_from="/listings/new",
    )
    assert page.status == 302, page.text
    listing_path = page.location
    await remote_listing(node, title=PAYLOAD, description=PAYLOAD, author_name=PAYLOAD)
    token_page = await owner.post("/account/tokens", {"name": PAYLOAD[:90]}, csrf_from="/account")
    assert_escaped(token_page, "token page")

    anonymous = Browser(node)
    for browser, path in (
        (anonymous, "/"),
        (anonymous, "/search"),
        (anonymous, "/search?q=Chutes"),
        (anonymous, "/@piege"),
        (anonymous, listing_path),
        (anonymous, "/listings/2"),
        (owner, listing_path),
        (owner, listing_path + "/edit"),
        (owner, listing_path + "/withdraw"),
        (owner, "/account"),
        (admin, "/admin/structures"),
    ):
        assert_escaped(await browser.get(path), path)

    # The map's data is JSON that cannot close its <script> element.
    search = await anonymous.get("/search")
    data = MAP_DATA.search(search.text)
    assert data
    assert "<" not in data.group(1)
    assert "\\u003cscript\\u003e" in data.group(1)

    # A validation error page shows the typed text escaped too.
    page = await owner.post(
        "/listings/new",
        listing_form(structure="piege", title=PAYLOAD, category="nope"),
        csrf_from="/listings/new",
    )
    assert page.status == 422
    assert SCRIPT not in page.text
    assert "&lt;script&gt;" in page.text
