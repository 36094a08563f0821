"""Pages are read beside SQLite's writer, not behind it (``Database.read``).

SQLite has one writer, and each process queues its writers (``WriterLock``). A
page that read through a writing session waited behind every listing being
published: 205 ms at p50 instead of 21–29 ms in ``bench/pages.py`` while 8
connections published. Here another task holds the process's writer slot (as a
long write would) and every page a visitor or a member opens must still answer:
a page moved back to ``db.session()`` fails this test by waiting.
"""

from __future__ import annotations

import asyncio

from tests.api.helpers import listing_body
from tests.support import WAIT, TestNode, writer_held
from tests.web.browser import Browser

PUBLIC = ("/", "/structures", "/@menuiserie", "/territoire", "/communities", "/data", "/login")
MEMBER = (
    "/account",
    "/account/listings",
    "/account/password",
    "/timeline",
    "/exchanges",
    "/listings/new",
    "/messages/new",
    "/@menuiserie/profile",
    "/@menuiserie/followers",
    "/messages",
    "/notifications",
)
ADMIN = ("/admin", "/admin/structures", "/admin/reports", "/admin/audit", "/communities/new")


async def test_pages_answer_while_the_writer_is_busy(node: TestNode) -> None:
    await node.structure("menuiserie", owner="ana@example.org", name="Menuiserie Lasserre")
    await node.person("admin@example.org", role="admin")
    await node.structure("boulangerie", owner="admin@example.org")  # it reports the listing
    token = await node.token("ana@example.org")
    created = await node.api("POST", "/api/v1/listings", token=token, json=listing_body())
    assert created.status_code == 201, await created.get_data()
    listing = (await created.get_json())["id"]
    visitor, member, admin = Browser(node), Browser(node), Browser(node)
    await member.login("ana@example.org")
    await admin.login("admin@example.org")
    visits = [(visitor, path) for path in (*PUBLIC, f"/listings/{listing}")]
    visits += [(member, path) for path in (*MEMBER, "/", f"/listings/{listing}")]
    visits += [(member, f"/listings/{listing}/edit"), (member, f"/listings/{listing}/withdraw")]
    visits += [(admin, f"/report?target=https://{node.domain}/listings/{listing}")]
    visits += [(admin, path) for path in ADMIN]
    async with writer_held(node):
        for browser, path in visits:
            try:
                page = await asyncio.wait_for(browser.get(path), WAIT)
            except TimeoutError:
                raise AssertionError(f"GET {path} waited for the writer") from None
            assert page.status == 200, (path, page.status)
