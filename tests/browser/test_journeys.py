"""Journeys of people in a real browser (Chromium), in French and English, on a desktop
(1280 px) and a phone (390 px), against a real ``entraide serve`` process.

Every page visited is checked by :class:`tests.browser.pages.Tab`: no request to another
host than the node and its tile server (a local one here, ``map.tile_url``), no script
error or Content-Security-Policy refusal, no serious or critical axe-core violation, and
a screenshot. The journeys:

* ``test_member_journey``: sign-up of a new structure → its approval by the
  administrator → publishing a listing with a commune typed and picked from the
  suggestions (no coordinates) → finding it in the search → its marker on the map (tiles
  from the tile server) → contacting another structure about its listing → that
  structure's reply, read in the thread;
* ``test_moderation_of_a_report``: a structure reports a listing, the administrator
  hides it from the report's page and resolves the report, the listing leaves the search;
* ``test_publishing_with_the_keyboard_only``: from the home page to a published listing
  with the keyboard alone (Tab, typing, arrows, Space, Enter);
* ``test_api_docs_served_by_the_node``: Swagger UI, served by the node, shows the API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.pages import Tab, TileServer, new_tab, skip_reason
from tests.e2e.harness import LISTING, PASSWORD, Cluster, Node

if skip_reason():
    pytest.skip(skip_reason() or "", allow_module_level=True)

pytestmark = pytest.mark.timeout(240)

ADMIN = "admin@territoire.example"
PUBLISHER = "owner@menuiserie.example"
REPORTER = "owner@ressourcerie.example"


@dataclass
class Site:
    node: Node
    tiles: TileServer
    browser: Any

    def tab(self, lang: str, size: str, name: str, *, javascript: bool = True) -> Tab:
        return new_tab(
            self.browser,
            self.node.base_url,
            lang=lang,
            size=size,
            name=f"{name}-{lang}-{size}",
            also=(self.tiles.base_url,),
            javascript=javascript,
        )

    def logged_in(self, email: str, lang: str, size: str, name: str) -> Tab:
        tab = self.tab(lang, size, name)
        tab.goto("/login")
        tab.page.fill("#f-email", email)
        tab.page.fill("#f-password", PASSWORD)
        tab.page.click("form[action='/login'] button[type=submit]")
        tab.page.wait_for_url(re.compile(r"^(?!.*/login)"))
        return tab


@pytest.fixture(scope="module")
def site(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A node (with a local tile server), its administrator, and the menuiserie with a
    placed listing, served by ``entraide serve``."""
    tiles = TileServer()
    with Cluster(tmp_path_factory.mktemp("browser")) as cluster:
        node = cluster.add("a")
        node.init()
        with (node.data_dir / "entraide.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[map]\ntile_url = "{tiles.url}"\nattribution = "Tuiles de test"\n')
        node.cli("user", "create", "--email", ADMIN, "--password", PASSWORD, "--role", "admin")
        node.add_publisher(email=REPORTER, handle="ressourcerie")
        node.add_publisher(email=PUBLISHER)
        node.start()
        node.create_listing()
        try:
            yield Site(node, tiles, chromium)
        finally:
            tiles.close()


def _wait(predicate: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize(("lang", "size"), [("fr", "desktop"), ("en", "phone")])
def test_member_journey(site: Site, lang: str, size: str) -> None:
    handle = f"atelier_{lang}"
    email = f"{handle}@example.org"
    name = f"Atelier {lang.upper()}"
    title = f"Perceuse à colonne {lang}"

    # Sign-up: a person and their structure, waiting for approval.
    visitor = site.tab(lang, size, "visitor")
    visitor.goto("/signup")
    page = visitor.page
    page.fill("#f-email", email)
    page.fill("#f-display_name", "Camille")
    page.fill("#f-password", PASSWORD)
    page.fill("#f-name", name)
    page.fill("#f-handle", handle)
    page.fill("#f-commune", "Pau")
    page.click("form[action='/signup'] button[type=submit]")
    page.wait_for_url("**/signup/done")
    visitor.check("signup-done")

    # The administrator approves the structure.
    admin = site.logged_in(ADMIN, lang, size, "admin")
    admin.goto("/admin/structures")
    admin.page.click(f"form[action$='/approve'] button:has-text('{name}')")
    admin.page.wait_for_load_state("load")
    admin.check("structure-approved")
    assert admin.page.locator(f"form[action$='/approve'] button:has-text('{name}')").count() == 0

    # The new member logs in and publishes a need, the commune typed and suggested.
    member = site.logged_in(email, lang, size, "member")
    member.goto("/listings/new")
    page = member.page
    page.check("input[name=kind][value=need]")
    page.fill("#f-title", title)
    page.fill("#f-description", "Pour percer des planches épaisses, quelques jours par mois.")
    page.select_option("#f-category", "equipment")
    page.select_option("#f-modality", "lend")
    page.locator("#f-commune").press_sequentially("Orth", delay=60)
    option = page.locator("#places-list option[value^='Orthez']").first
    option.wait_for(state="attached")
    page.fill("#f-commune", option.get_attribute("value") or "")
    member.check("listing-form-filled")
    page.click("form[action='/listings/new'] button[type=submit]")
    page.wait_for_url(re.compile(r"/listings/\d+$"))
    member.check("listing-published")
    assert title in page.inner_text("main")

    # Search: the listing is found, and its marker is on the map, over local tiles.
    served_before = len(site.tiles.served)
    member.goto("/search?q=" + "perceuse")
    assert page.locator(".result-list", has_text=title).count() == 1
    page.wait_for_selector("#map .leaflet-interactive, #map .marker-cluster")
    _wait(lambda: len(site.tiles.served) > served_before, "tiles from the tile server")
    assert page.locator("#map .leaflet-control-attribution", has_text="Tuiles de test").count()
    member.check("search-map")

    # Contact: the member writes to the menuiserie about its listing.
    member.goto("/search?q=chêne")
    page.locator(".result-list a", has_text=LISTING["title"]).first.click()
    page.wait_for_url(re.compile(r"/listings/\d+$"))
    member.check("listing-of-another")
    page.locator("a.button-block[href^='/messages/new']").click()
    page.wait_for_url(re.compile(r"/messages/new"))
    member.check("message-new")
    page.fill("#f-content", f"Bonjour, les chutes de chêne sont-elles encore là ? ({lang})")
    page.click("form[action='/messages/new'] button[type=submit]")
    page.wait_for_url(re.compile(r"/messages/\d+"))
    member.check("message-sent")
    thread = page.url.split("#")[0]  # the same address with "#last" would not reload

    # The menuiserie reads it and replies; the member sees the reply.
    publisher = site.logged_in(PUBLISHER, lang, size, "publisher")
    publisher.goto("/messages")
    publisher.page.locator("main a[href^='/messages/']", has_text=name).first.click()
    publisher.page.wait_for_url(re.compile(r"/messages/\d+"))
    publisher.check("thread-received")
    publisher.page.fill("#f-content", f"Oui, passez jeudi ({lang}).")
    publisher.page.click("form.reply-form button[type=submit]")
    publisher.page.wait_for_load_state("load")
    publisher.check("reply-sent")
    reply = f"Oui, passez jeudi ({lang})."

    def reply_arrived() -> bool:  # delivered by the node's workers, within seconds
        page.goto(thread)
        return reply in page.inner_text("main")

    _wait(reply_arrived, "the reply in the member's thread")
    member.check("reply-read")
    for tab in (visitor, admin, member, publisher):
        tab.page.context.close()


@pytest.mark.parametrize(
    ("lang", "javascript"), [("fr", False), ("en", True)], ids=["fr-no-js", "en-js"]
)
def test_phone_menu_and_filters_fold(site: Site, lang: str, javascript: bool) -> None:
    """On a phone, with or without JavaScript: the menu is one « Menu » button that opens
    it; on the search page the results come first and the filters open from a button;
    on a desktop both are simply shown."""
    phone = site.tab(lang, "phone", "fold" + ("" if javascript else "-nojs"), javascript=javascript)
    page = phone.page
    phone.goto("/")
    nav = page.locator("nav.main-nav a[href='/search']")
    assert not nav.is_visible()
    page.click("label.menu-button")
    assert nav.is_visible()
    phone.check("menu-open")
    page.click("label.menu-button")
    assert not nav.is_visible()

    phone.goto("/search?q=ch%C3%AAne")
    words = page.locator("#f-q")
    assert not words.is_visible()
    first_result = page.locator(".result-list li").first
    assert first_result.is_visible()
    assert first_result.bounding_box()["y"] < 844  # a result on the first screen
    page.click("label.filters-button")
    assert words.is_visible()
    assert words.input_value() == "chêne"
    phone.check("filters-open")
    page.context.close()

    desktop = site.tab(lang, "desktop", "fold", javascript=javascript)
    desktop.goto("/search")
    assert desktop.page.locator("nav.main-nav a[href='/search']").is_visible()
    assert desktop.page.locator("#f-q").is_visible()
    assert not desktop.page.locator("label.menu-button").is_visible()
    assert not desktop.page.locator("label.filters-button").is_visible()
    desktop.page.context.close()


def test_moderation_of_a_report(site: Site) -> None:
    """A structure reports a listing; the administrator hides it from the report and
    resolves the report; the listing is gone from the search (French, phone; English,
    desktop)."""
    title = "Lot de pneus usagés"
    listing = site.node.create_listing(title=title, description="Des pneus, beaucoup.")
    reporter = site.logged_in(REPORTER, "fr", "phone", "reporter")
    reporter.goto(f"/listings/{listing['id']}")
    reporter.page.click("p.report-link a")
    reporter.page.wait_for_url(re.compile(r"/report\?"))
    reporter.check("report-form")
    reporter.page.fill("#f-reason", "Ce sont des déchets, pas une ressource.")
    reporter.page.click("form[action='/report'] button[type=submit]")
    reporter.page.wait_for_load_state("load")
    reporter.check("report-sent")

    admin = site.logged_in(ADMIN, "en", "desktop", "moderator")
    admin.goto("/admin/reports")
    report = admin.page.locator("li.report", has_text=title)
    assert "Ce sont des déchets" in report.inner_text()
    report.locator("button[formaction$='/hide']").click()
    admin.page.wait_for_load_state("load")
    admin.check("listing-hidden")
    admin.page.locator("li.report", has_text=title).locator(
        "form.decide-form button.button-ok"
    ).click()
    admin.page.wait_for_load_state("load")
    admin.check("report-resolved")
    resolved = admin.page.locator("section", has=admin.page.locator("#resolved-title"))
    assert title in resolved.inner_text()

    reporter.goto("/search?q=pneus")
    assert reporter.page.locator(".result-list").count() == 0
    for tab in (reporter, admin):
        tab.page.context.close()


def _focus(tab: Tab, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches ``selector``; every element reached
    shows where the focus is (an outline or a box shadow)."""
    page = tab.page
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """(selector) => {
              const el = document.activeElement;
              const style = getComputedStyle(el);
              const visible = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
                || style.boxShadow !== "none";
              return {match: el.matches(selector), visible, what: el.outerHTML.slice(0, 80)};
            }""",
            selector,
        )
        assert state["visible"], f"no visible focus on {state['what']}"
        if state["match"]:
            return
    raise AssertionError(f"{selector} not reached in {limit} presses of Tab")


def _choose(tab: Tab, selector: str, value: str) -> None:
    """On a focused select, ArrowDown until ``value`` is chosen (as a keyboard user does)."""
    for _ in range(30):
        if tab.page.eval_on_selector(selector, "el => el.value") == value:
            return
        tab.page.keyboard.press("ArrowDown")
    raise AssertionError(f"{value} not reached in {selector}")


def test_publishing_with_the_keyboard_only(site: Site) -> None:
    """From the login page to a published listing with the keyboard alone: Tab, typing,
    arrows, Space and Enter; the focus is visible on every element it reaches."""
    tab = site.tab("fr", "desktop", "keyboard")
    page = tab.page
    keys = page.keyboard
    tab.goto("/login")
    _focus(tab, "#f-email")
    keys.type(PUBLISHER)
    _focus(tab, "#f-password")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))
    tab.check("logged-in")

    _focus(tab, "nav.main-nav a[href='/listings/new']")
    keys.press("Enter")
    page.wait_for_url("**/listings/new")
    tab.check("listing-form")
    _focus(tab, "input[name=kind]")
    keys.press("ArrowDown")  # from « Offre » to « Besoin »
    keys.press("ArrowUp")  # and back: an offer
    keys.press("Space")
    _focus(tab, "#f-title")
    keys.type("Établi à prêter, au clavier")
    _focus(tab, "#f-description")
    keys.type("Un établi solide, prêté à la semaine.")
    _focus(tab, "#f-category")
    _choose(tab, "#f-category", "equipment")
    _focus(tab, "#f-modality")
    _choose(tab, "#f-modality", "lend")
    _focus(tab, "#f-commune")
    keys.type("Orthez")
    tab.screenshot("listing-form-typed")
    _focus(tab, "form[action='/listings/new'] button[type=submit]")
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/listings/\d+$"))
    tab.check("listing-published")
    main = page.inner_text("main")
    assert "Établi à prêter, au clavier" in main
    assert "Orthez" in main
    assert page.locator("input[name=kind]:checked").count() == 0  # a page, not the form
    page.context.close()


def test_api_docs_served_by_the_node(site: Site) -> None:
    """``/api/docs``: Swagger UI, from the node, shows the API's operations. Two axe rules
    are left out for Swagger UI's own markup (an operation's summary is a button holding
    other controls; its version stamp's contrast): upstream's, not ours to change."""
    tab = site.tab("en", "desktop", "api-docs")
    skip = ("nested-interactive", "color-contrast")
    response = tab.page.goto(site.node.base_url + "/api/docs")
    assert response is not None and response.status == 200
    tab.page.wait_for_selector(".opblock")
    assert tab.page.locator(".opblock").count() >= 10
    tab.check("api-docs-rendered", axe_skip=skip)
    tab.page.context.close()


def test_a_form_is_sent_once(site: Site) -> None:
    """A second submit of the same form within seconds (a double click, an impatient
    second click on a slow connection) is dropped (``static/forms.js``), so a listing is
    not published twice; after that the form works again. The submits are counted by a
    listener of the page's own, which then stops them: without the script it counts
    two. Then the real form, sent once, publishes one listing."""
    tab = site.logged_in(PUBLISHER, "fr", "desktop", "sent-once")
    page = tab.page
    title = "Scie à ruban, envoyée une fois"
    tab.goto("/listings/new")
    page.check("input[name=kind][value=offer]")
    page.fill("#f-title", title)
    page.fill("#f-description", "Une scie à ruban prêtée à la journée.")
    page.select_option("#f-category", "equipment")
    page.select_option("#f-modality", "lend")
    counted = page.evaluate(
        """() => {
            const form = document.querySelector("form[action='/listings/new']");
            let sent = 0;
            const count = (event) => {
                if (!event.defaultPrevented) sent++;
                event.preventDefault();
            };
            document.addEventListener("submit", count);
            form.requestSubmit();
            form.requestSubmit();
            const twice = sent;
            form.dataset.sentAt = String(Date.now() - 60000);  // as if a minute had passed
            form.requestSubmit();
            document.removeEventListener("submit", count);
            delete form.dataset.sentAt;
            return [twice, sent];
        }"""
    )
    assert counted == [1, 2], counted
    page.click("form[action='/listings/new'] button[type=submit]")
    page.wait_for_url(re.compile(r"/listings/\d+$"))
    tab.check("listing-published-once")
    mine = [i for i in site.node.listings(status="any") if i["title"] == title]
    assert len(mine) == 1, mine
    page.context.close()
