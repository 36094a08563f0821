"""Two territories peered by their administrators in a real browser, between two real
``entraide serve`` processes on 127.0.0.1: the administrator of A (French, desktop) asks B
to peer on the « Federation » admin page, the administrator of B (English, phone) sees the
request there and approves it, A sees the peering accepted, and a listing published on B
shows in A's search and on its page at A.

Every page visited is checked by :class:`tests.browser.pages.Tab` (no request to another
host than the page's node, no script error or CSP refusal, no serious or critical axe
violation, no page wider than the screen, a screenshot). B has a long name: on a phone
its header keeps it on one line, cut with an ellipsis.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.pages import Tab, new_tab, skip_reason
from tests.e2e.harness import PASSWORD, Cluster, Node, in_parallel

if skip_reason():
    pytest.skip(skip_reason() or "", allow_module_level=True)

pytestmark = pytest.mark.timeout(240)

ADMIN = "admin@territoire.example"
LONG_NAME = "Communauté d'agglomération Pau Béarn Pyrénées"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """A and B, each with its administrator; B (with a long name) with a publisher."""
    with Cluster(tmp_path_factory.mktemp("browser-peering")) as cluster:
        a, b = cluster.add("a"), cluster.add("b")
        in_parallel(a.init, b.init)
        for node in (a, b):  # no map tiles: nothing but the node itself on its pages
            with (node.data_dir / "entraide.toml").open("a", encoding="utf-8") as fh:
                fh.write('\n[map]\ntile_url = ""\n')
        config = b.data_dir / "entraide.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('"Territoire b"', f'"{LONG_NAME}"'), encoding="utf-8")
        admin = ("user", "create", "--email", ADMIN, "--password", PASSWORD, "--role", "admin")
        in_parallel(lambda: a.cli(*admin), lambda: b.cli(*admin), b.add_publisher)
        in_parallel(a.start, b.start)
        yield a, b


def _logged_in(browser: Any, node: Node, lang: str, size: str) -> Tab:
    tab = new_tab(browser, node.base_url, lang=lang, size=size, name=f"peering-{lang}-{size}")
    tab.goto("/login")
    tab.page.fill("#f-email", ADMIN)
    tab.page.fill("#f-password", PASSWORD)
    tab.page.click("form[action='/login'] button[type=submit]")
    tab.page.wait_for_url(re.compile(r"^(?!.*/login)"))
    return tab


def _until(tab: Tab, path: str, shown: Callable[[], bool], what: str) -> None:
    """Open ``path`` again until ``shown()`` (the other node's workers deliver within a
    second or two), then check the page."""
    deadline = time.monotonic() + 30
    while True:
        tab.page.goto(tab.base_url + path)
        if shown():
            break
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    tab.check(what)


def test_admins_peer_two_territories_and_a_listing_travels(
    chromium: Any, nodes: tuple[Node, Node]
) -> None:
    a, b = nodes
    ours = _logged_in(chromium, a, "fr", "desktop")
    theirs = _logged_in(chromium, b, "en", "phone")

    # B's long name: one line on the phone, cut with an ellipsis, whole for screen readers.
    brand = theirs.page.locator(".brand-name")
    assert brand.inner_text() == LONG_NAME
    box = brand.evaluate(
        "el => ({lines: el.getClientRects().length, height: el.clientHeight,"
        " line: parseFloat(getComputedStyle(el).lineHeight), cut: el.scrollWidth > el.clientWidth})"
    )
    assert box["height"] <= box["line"] * 1.2 and box["cut"], box

    # A's administrator asks B to peer, from the admin pages.
    ours.goto("/admin")
    ours.page.click("a[href='/admin/peers']")
    ours.page.wait_for_url("**/admin/peers")
    ours.check("peers-empty")
    assert "Aucun appairage" in ours.page.inner_text("main")
    ours.page.fill("#f-target", f"territory@{b.domain}")
    ours.page.click("form[action='/admin/peers/request'] button[type=submit]")
    ours.page.wait_for_url("**/admin/peers")
    ours.check("peering-requested")
    row = ours.page.locator("tr", has_text=b.domain)
    assert "Nous l’avons demandé" in row.inner_text()
    assert "En attente" in row.inner_text()

    # B's administrator, on a phone, finds the request in the menu and approves it.
    theirs.goto("/")
    theirs.page.click("label.menu-button")
    theirs.page.click("nav.main-nav a[href='/admin']")
    theirs.page.wait_for_url("**/admin")
    theirs.page.click("a[href='/admin/peers']")
    request = theirs.page.locator("tr", has_text=a.domain)
    _until(theirs, "/admin/peers", lambda: request.count() == 1, "peering-request-received")
    assert "They asked us" in request.inner_text()
    request.locator("button", has_text="Approve").click()
    theirs.page.wait_for_url("**/admin/peers")
    theirs.check("peering-approved")
    assert f"The peering with {a.domain} is approved." in theirs.page.inner_text("main")

    # A sees its request accepted, and B's request back (peering goes both ways) accepted.
    asked = ours.page.locator("tr", has_text=b.domain).filter(has_text="Nous l’avons demandé")
    _until(ours, "/admin/peers", lambda: "Accepté" in asked.inner_text(), "peering-accepted")
    back = ours.page.locator("tr", has_text=b.domain).filter(has_text="Ils nous l’ont demandé")
    assert "Accepté" in back.inner_text()

    # A listing published on B reaches A: in A's search, and its page at A.
    title = "Broyeur de végétaux à prêter"
    b.create_listing(title=title, description="Un broyeur thermique, prêté à la journée.")
    visitor = new_tab(chromium, a.base_url, lang="fr", size="phone", name="peering-visitor")
    result = visitor.page.locator(".result-list li", has_text=title)
    _until(visitor, "/search?q=broyeur", lambda: result.count() == 1, "remote-listing-found")
    assert "Menuiserie" in result.inner_text()  # B's structure
    result.locator("a").first.click()
    visitor.page.wait_for_load_state("load")
    visitor.check("remote-listing-page")
    assert title in visitor.page.inner_text("main")
    for tab in (ours, theirs, visitor):
        tab.page.context.close()
