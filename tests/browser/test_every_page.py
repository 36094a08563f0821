"""Every page of a node, at both sizes, checked in a real browser.

The journeys (``test_journeys.py``, ``test_peering_journey.py``) go through the pages a
person uses to do something; this sweep opens every other page, as a visitor, as a
structure's owner and as the administrator, in French on a desktop and in English on a
phone. Each visit is checked by :class:`tests.browser.pages.Tab`: no request to another
host than the node, no script error or Content-Security-Policy refusal, no serious or
critical axe-core violation, nothing wider than the screen, and a screenshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.pages import Tab, new_tab, skip_reason
from tests.e2e.harness import PASSWORD, Cluster, Node, in_parallel

if skip_reason():
    pytest.skip(skip_reason() or "", allow_module_level=True)

pytestmark = pytest.mark.timeout(240)

ADMIN = "admin@territoire.example"
OWNER = "owner@menuiserie.example"

VISITOR_PAGES = (
    "/", "/structures", "/territoire", "/data", "/communities", "/signup",
    "/password/reset", "/@menuiserie", "/listings/{id}",
)  # fmt: skip
OWNER_PAGES = (
    "/timeline", "/listings/{id}/edit", "/account", "/account/listings", "/account/password",
    "/messages/new", "/exchanges", "/notifications",
    "/@menuiserie/profile", "/@menuiserie/team",
    "/@menuiserie/notifications/settings", "/@menuiserie/followers",
)  # fmt: skip
ADMIN_PAGES = (
    "/admin", "/account/two-factor", "/admin/structures", "/admin/peers",
    "/admin/federation", "/admin/reports", "/admin/audit", "/territoire/correspondances",
    "/communities/new",
)  # fmt: skip


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, int]]:
    """A node without map tiles (nothing but the node on its pages), its administrator,
    the menuiserie and one of its listings (its id)."""
    with Cluster(tmp_path_factory.mktemp("browser-every-page")) as cluster:
        node = cluster.add("a")
        node.init()
        with (node.data_dir / "entraide.toml").open("a", encoding="utf-8") as fh:
            fh.write('\n[map]\ntile_url = ""\n')
        admin = ("user", "create", "--email", ADMIN, "--password", PASSWORD, "--role", "admin")
        in_parallel(lambda: node.cli(*admin), lambda: node.add_publisher(email=OWNER))
        node.start()
        listing = node.create_listing(location={"commune": "Orthez"})
        yield node, int(listing["id"])


def _tab(browser: Any, node: Node, lang: str, size: str, who: str) -> Tab:
    tab = new_tab(browser, node.base_url, lang=lang, size=size, name=f"every-{who}-{lang}-{size}")
    if who != "visitor":
        tab.page.goto(node.base_url + "/login")
        tab.page.fill("#f-email", ADMIN if who == "admin" else OWNER)
        tab.page.fill("#f-password", PASSWORD)
        tab.page.click("form[action='/login'] button[type=submit]")
        tab.page.wait_for_url(re.compile(r"^(?!.*/login)"))
    return tab


@pytest.mark.parametrize(("lang", "size"), [("fr", "desktop"), ("en", "phone")])
def test_every_page_passes_at_both_sizes(
    chromium: Any, node: tuple[Node, int], lang: str, size: str
) -> None:
    served, listing_id = node
    for who, pages in (("visitor", VISITOR_PAGES), ("owner", OWNER_PAGES), ("admin", ADMIN_PAGES)):
        tab = _tab(chromium, served, lang, size, who)
        try:
            for page in pages:
                tab.goto(page.format(id=listing_id))
                # Still the person it should be (a page that logged them out would pass).
                if who != "visitor":
                    assert tab.page.locator("form[action='/logout']").count() >= 1, page
        finally:
            tab.page.context.close()
