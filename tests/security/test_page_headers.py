"""Pages tell the browser what they may do: CSP, no framing, no sniffing, little referrer.

``instance.security_headers`` adds the headers to every response. A policy
is only as good as the pages it allows: the second test renders every page a
member and an administrator see and checks that nothing in them needs more
than the policy gives (no inline script, style element or attribute, no
event handler, no script or style from a host the policy does not list).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from config.settings import SettingsError
from instance.security_headers import content_security_policy
from tests.support import make_settings, running_node
from tests.web.browser import Browser
from tests.web.data import listing_form

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGES = [
    "/",
    "/search",
    "/search?q=perceuse",
    "/account",
    "/listings/new",
    "/listings/1",
    "/listings/1/edit",
    "/messages",
    "/messages/new",
    "/timeline",
    "/communities",
    "/communities/new",
    "/notifications",
    "/report",
    "/@menuiserie",
    "/@menuiserie/followers",
    "/admin",
    "/admin/structures",
    "/admin/federation",
    "/admin/peers",
    "/admin/reports",
    "/admin/audit",
    "/api/docs",
    "/territoire",
    "/structures",
    "/no-such-page",
]
ANONYMOUS = ["/", "/search", "/login", "/signup", "/signup/done", "/@menuiserie", "/listings/1"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(
    sqlite_module_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Browser]:
    """An administrator of a node with a structure and a placed listing, logged in."""
    path = tmp_path_factory.mktemp("headers")
    async with running_node(make_settings(path / "a", sqlite_module_db())) as node:
        await node.person("admin@example.org", role="admin")
        await node.structure("menuiserie", owner="admin@example.org")
        browser = Browser(node)
        await browser.login("admin@example.org")
        page = await browser.post("/listings/new", listing_form(structure="menuiserie"))
        assert page.status == 302, page.text
        yield browser


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.mark.parametrize("path", ["/", "/search", "/login", "/api/docs", "/api/v1/instance"])
async def test_page_cannot_be_framed_sniffed_or_run_injected_script(
    admin: Browser, path: str
) -> None:
    """Attack: another site frames our pages under its own (clickjacking the "log out
    everywhere" or "approve" buttons), a document is sniffed into a script, an injected
    ``<script>`` or ``onerror=`` runs, a page's address (a search, a thread) leaks in the
    Referer. Every response forbids framing (``frame-ancestors 'none'``, ``X-Frame-Options:
    DENY``), sniffing (``nosniff``), inline scripts and ``eval`` (no ``'unsafe-inline'``,
    no ``'unsafe-eval'`` in ``script-src``), plug-ins and ``<base>``, and sends only the
    origin to other sites. (Before the fix none of these headers was sent.)"""
    page = await admin.get(path)
    assert page.status == 200, path
    headers = page.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert policy[directive][0] == "'self'"
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "https:"} & set(
            policy[directive]
        ), directive


SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
EXTERNAL = re.compile(r'<(?:script|link)\b[^>]*(?:src|href)="(https?://[^/"]+)', re.I)


async def test_every_page_fits_the_policy(admin: Browser) -> None:
    """What the policy allows must be enough for our own pages, or they break (the map,
    Swagger UI): no inline script (only ``src=`` and JSON data blocks), no ``<style>``
    element or ``style=`` attribute, no ``on…=`` handler, and every script or style sheet
    from another host is from a host the policy lists."""
    policy = _directives(content_security_policy())
    allowed = set(policy["script-src"]) | set(policy["style-src"])
    anonymous = Browser(admin.node)
    visits = [(admin, path) for path in PAGES] + [(anonymous, path) for path in ANONYMOUS]
    for browser, path in visits:
        page = await browser.get(path)
        assert page.status in (200, 404), (path, page.status)
        for tag in SCRIPT_TAG.findall(page.text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert "<style" not in page.text.lower(), path
        assert not STYLE_ATTRIBUTE.search(page.text), path
        assert not HANDLER.search(page.text), (path, HANDLER.search(page.text))
        for host in EXTERNAL.findall(page.text):
            assert host in allowed, (path, host)
        # Since Leaflet and Swagger UI are served by the node: no script or style sheet
        # from any other host at all.
        assert not EXTERNAL.findall(page.text), (path, EXTERNAL.findall(page.text))
    docs = await admin.get("/api/docs")
    assert "api-docs.js" in docs.text and "/api/openapi.json" in docs.text


async def test_policy_names_no_host_but_the_tile_server(admin: Browser) -> None:
    """The policy of a node with the default settings: scripts, styles, fonts, fetches and
    the manifest from the node only; images from the node and OpenStreetMap's tile server
    (``map.tile_url``), nowhere else. (Before: ``unpkg.com`` and ``cdnjs.cloudflare.com``
    for Leaflet and Swagger UI.)"""
    page = await admin.get("/search")
    policy = _directives(page.headers["Content-Security-Policy"])
    for directive in ("script-src", "style-src", "font-src", "connect-src", "manifest-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
    hosts = re.findall(r"https?://[^\s;]+", page.headers["Content-Security-Policy"])
    assert hosts == ["https://tile.openstreetmap.org"]


@pytest.mark.parametrize(
    ("tile_url", "img_src"),
    [
        ("", ["'self'", "data:"]),
        ("/tiles/{z}/{x}/{y}.png", ["'self'", "data:"]),
        ("http://127.0.0.1:8099/osm/{z}/{x}/{y}.png", ["'self'", "data:", "http://127.0.0.1:8099"]),
        (
            "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
            ["'self'", "data:", "https://*.tiles.example.org"],
        ),
    ],
)
async def test_policy_follows_the_tile_setting(
    sqlite_module_db: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tile_url: str,
    img_src: list[str],
) -> None:
    """A public body sets its own tile server (or none): the policy's only other host is
    that server's origin, and the search page hands the address to the map script."""
    path = tmp_path_factory.mktemp("tiles")
    settings = make_settings(path / "a", sqlite_module_db(), map={"tile_url": tile_url})
    async with running_node(settings) as node:
        page = await Browser(node).get("/search")
        policy = _directives(page.headers["Content-Security-Policy"])
        assert policy["img-src"] == img_src
        assert policy["script-src"] == ["'self'"]
        assert f'data-tile-url="{tile_url}"' in page.text


@pytest.mark.parametrize(
    "tile_url", ["//tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/{z}/{x}.png"]
)
async def test_tile_setting_is_checked(tmp_path: Any, tile_url: str) -> None:
    """A protocol-relative address (another host in disguise) or one without ``{y}`` is
    refused at startup, with the setting named."""
    with pytest.raises(SettingsError, match=r"map\.tile_url"):
        make_settings(tmp_path, "sqlite://", map={"tile_url": tile_url})


async def test_favicon_and_manifest(admin: Browser) -> None:
    """Browsers find an icon (the page's ``<link>``s and ``/favicon.ico``) and a web
    manifest naming the territory, all served by the node."""
    home = await admin.get("/")
    for href in ("/static/favicon.svg", "/static/favicon-32.png", "/manifest.webmanifest"):
        assert f'href="{href}"' in home.text
    for path, kind in (
        ("/favicon.ico", "image/png"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/favicon-32.png", "image/png"),
        ("/static/icon-192.png", "image/png"),
        ("/static/icon-512.png", "image/png"),
    ):
        response = await admin.client.get(path, scheme="https")
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(kind), path
        assert len(await response.get_data()) > 100, path
    manifest = await admin.get("/manifest.webmanifest")
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    body = json.loads(manifest.text)
    assert body["name"] == "Territoire A"
    assert body["start_url"] == "/"
    assert {icon["src"] for icon in body["icons"]} >= {
        "/static/icon-192.png",
        "/static/icon-512.png",
    }
    for icon in body["icons"]:
        assert (await admin.client.get(icon["src"], scheme="https")).status_code == 200, icon
