"""Hostile remote listings: huge, scripted, or placed off the globe.

A remote server that we follow may publish whatever it likes as a listing. Each
attack here is a real delivery: a ``Create`` signed by the attacker's genuine key
(a :class:`~tests.fedinet.FakeActor` followed by a local structure), POSTed to
``a.test``'s shared inbox, stored, processed by the inbox worker, then read back
from the database, the JSON API and the pages. Nothing is stored as it came:
text is cut to the bounds of a local listing, HTML becomes plain text without its
scripts, coordinates outside the globe are dropped. On both databases.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.listings import DESCRIPTION_MAX
from domain.models import Listing
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import create, deliver, follow, inbox_count, note, rsa_key
from tests.support import TestNode
from tests.web.browser import MAP_DATA, Browser
from tests.web.htmlcheck import executable_parts

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # hostile text and numbers stored

INBOX = "https://a.test/inbox"
BODY_LIMIT = 1_048_576  # federation.max_body_bytes
TITLE_MAX = 200


@dataclass
class World:
    net: FediNet
    node: TestNode
    evil: FakeActor


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("hostile-listings")
    async with network(path, module_db, ["a.test"]) as (net, (a,)):
        evil = FakeActor("https://evil.test/users/mallory", rsa_key(41))
        net.hooks.append(evil)
        await a.structure("ferme", owner="f@a.example")
        await follow(a, "ferme", evil.uri)  # so that its listings are stored at all
        yield World(net, a, evil)


def listing(actor: str, **fields: Any) -> dict[str, Any]:
    """A listing as Entraide publishes it (a Note with FEP-0837 fields), by ``actor``."""
    fields.setdefault("name", "Palettes à donner")
    fields.setdefault("content", "<p>Palettes à donner</p>")
    return note(
        actor,
        purpose="offer",
        publishes={"type": "Intent", "action": "transfer"},
        **{"entraide:category": "materials", "entraide:modality": "give"},
        **fields,
    )


async def publish(world: World, obj: dict[str, Any]) -> Listing:
    """Deliver the Create of ``obj``, signed by the attacker, and return what was stored."""
    response = await deliver(world.net, INBOX, create(world.evil.uri, obj), world.evil.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    async with world.node.node.db.session() as session:
        stored = await session.scalar(select(Listing).where(Listing.ap_id == obj["id"]))
    assert stored is not None, "the listing was not stored: the test would prove nothing"
    return stored


async def api_listing(world: World, listing_id: int) -> dict[str, Any]:
    response = await world.node.client().get(f"/api/v1/listings/{listing_id}")
    assert response.status_code == 200
    found: dict[str, Any] = await response.get_json()
    return found


@pytest.mark.parametrize("field", ["content", "entraide:description"])
async def test_remote_listing_with_a_megabyte_of_content_is_truncated(
    world: World, field: str
) -> None:
    """Attack: a followed server publishes a listing whose text is about 1 MB — as HTML
    ``content``, or as the plain ``entraide:description`` that Entraide nodes send — and
    whose ``name`` is 40 kB, the whole activity just under the 1 MiB body limit, to fill
    the database, the search index and every page that shows it. The inbox accepts the
    activity; the listing is stored cut to the bounds of a local one (title 200
    characters, description 10,000), the raw object is not kept alongside it, and the
    pages and the API show the cut text."""
    words = "planche " * 115_000  # 920,000 characters
    if field == "content":
        obj = listing(world.evil.uri, name="Bois " * 8_000, content=f"<p>{words}</p>")
    else:
        obj = listing(world.evil.uri, name="Bois " * 8_000, **{field: words})
    body = json.dumps(create(world.evil.uri, obj)).encode()
    assert 900_000 < len(body) < BODY_LIMIT, len(body)

    stored = await publish(world, obj)
    assert len(stored.title) <= TITLE_MAX
    assert stored.title.startswith("Bois Bois")
    assert 0 < len(stored.description) <= DESCRIPTION_MAX
    assert stored.description.startswith("planche planche")
    assert "<p>" not in stored.description
    assert stored.extra == {"truncated": True}  # not the megabyte, a marker
    row = len(stored.title) + len(stored.description) + len(json.dumps(stored.extra))
    assert row < 20_000, row

    shown = await api_listing(world, stored.id)
    assert len(shown["description"]) <= DESCRIPTION_MAX
    page = await Browser(world.node).get(f"/listings/{stored.id}")
    assert page.status == 200
    assert "planche planche" in page.text
    assert len(page.text.encode()) < 200_000, len(page.text.encode())


async def test_remote_listing_over_the_body_limit_is_refused(world: World) -> None:
    """Attack: the same, 2 MB of content. The inbox refuses the POST (413) before anything
    is stored or parsed."""
    obj = listing(world.evil.uri, content="<p>" + "x" * 2_000_000 + "</p>")
    before = await inbox_count(world.node)
    response = await deliver(world.net, INBOX, create(world.evil.uri, obj), world.evil.signing_key)
    assert response.status_code == 413, response.text
    await world.net.settle()
    assert await inbox_count(world.node) == before
    async with world.node.node.db.session() as session:
        assert await session.scalar(select(Listing.id).where(Listing.ap_id == obj["id"])) is None


SCRIPTED_CONTENT = (
    "<p>Palettes <script>alert('content')</script>à donner"
    '<img src=x onerror=alert(2)><a href="javascript:alert(3)">voir</a></p>'
    "<style>body{display:none}</style><iframe src=https://evil.test/></iframe>"
)
SCRIPTED_NAME = "Palettes <script>alert('name')</script>"


async def test_remote_listing_with_a_script_is_stored_and_shown_without_it(
    world: World,
) -> None:
    """Attack: a followed server publishes a listing whose HTML ``content`` carries a
    ``<script>``, an event handler, a ``javascript:`` link, a style sheet and an iframe,
    and whose ``name`` (plain text in ActivityStreams) is a ``<script>`` too. The content is
    stored as plain text with none of that markup nor the script's code; the name is
    stored as the text it is and escaped wherever it is shown: the listing page, the
    search page and the feeds run nothing."""
    obj = listing(world.evil.uri, name=SCRIPTED_NAME, content=SCRIPTED_CONTENT)
    stored = await publish(world, obj)

    assert stored.description.startswith("Palettes")
    assert "à donner" in stored.description
    for left_out in ("<", "alert", "script", "onerror", "javascript", "display:none", "iframe"):
        assert left_out not in stored.description, (left_out, stored.description)
    assert stored.title == SCRIPTED_NAME  # text, not HTML: escaped on output (below)

    browser = Browser(world.node)
    for path in (f"/listings/{stored.id}", "/search?q=Palettes", "/search?origin=remote"):
        page = await browser.get(path)
        assert page.status == 200, path
        assert "Palettes" in page.text, path
        assert executable_parts(page.text) == [], (path, executable_parts(page.text))
        assert "<script>alert" not in page.text, path
        assert "alert('content')" not in page.text, path
    page = await browser.get(f"/listings/{stored.id}")
    assert "&lt;script&gt;alert(" in page.text  # the name, shown as the text it is
    for feed in ("/feeds/listings.rss", "/feeds/listings.atom"):
        response = await world.node.client().get(feed)
        text = await response.get_data(as_text=True)
        assert "Palettes" in text, feed
        assert "<script>" not in text, feed
        assert "alert('content')" not in text, feed


async def test_remote_listing_with_a_script_in_its_plain_description_is_shown_as_text(
    world: World,
) -> None:
    """Attack: the same through ``entraide:description``, the description as plain text
    that Entraide nodes send beside the HTML ``content``: ``<script>`` and an attribute
    breaker in it. It is stored as the text it is (like a title) and every page and feed
    that shows it escapes it: nothing runs, the characters are shown."""
    text = "Palettes <script>alert('description')</script> à donner \"><img src=x onerror=alert(4)>"
    obj = listing(
        world.evil.uri,
        name="Palettes du dépôt",
        content="<p>Palettes à donner</p>",
        **{"entraide:description": text},
    )
    stored = await publish(world, obj)
    assert stored.description == text  # plain text, escaped on output (below)

    browser = Browser(world.node)
    for path in (f"/listings/{stored.id}", "/search?q=depot", "/search?origin=remote"):
        page = await browser.get(path)
        assert page.status == 200, path
        assert "Palettes du dépôt" in page.text, path
        assert executable_parts(page.text) == [], (path, executable_parts(page.text))
        assert "<script>alert" not in page.text, path
        assert "<img src=x" not in page.text, path
    page = await browser.get(f"/listings/{stored.id}")
    assert "&lt;script&gt;alert(" in page.text  # shown, as characters
    for feed in ("/feeds/listings.rss", "/feeds/listings.atom"):
        response = await world.node.client().get(feed)
        text_of_feed = await response.get_data(as_text=True)
        assert "Palettes du dépôt" in text_of_feed, feed
        assert "<script>" not in text_of_feed, feed
        assert "<img src=x" not in text_of_feed, feed


OFF_THE_GLOBE = [
    pytest.param(95, 200, id="lat95-lon200"),
    pytest.param(95, -0.37, id="lat95"),
    pytest.param(43.3, 200, id="lon200"),
    pytest.param(-90.5, -180.5, id="just-past-both-poles"),
    pytest.param("1e400", 0, id="infinite"),
]


@pytest.mark.parametrize(("lat", "lon"), OFF_THE_GLOBE)
async def test_remote_listing_with_coordinates_off_the_globe_is_stored_without_them(
    world: World, lat: Any, lon: Any
) -> None:
    """Attack: a followed server places its listing at a latitude past the poles or a
    longitude past the antimeridian (latitude 95, longitude 200…), to break distance
    arithmetic, the bounding-box index or the map. The listing is stored with its place
    name but without coordinates: no distance search finds it, even around the point it
    claimed or the nearest real one, and the map does not show it."""
    place = {"type": "Place", "name": "Nulle part", "latitude": lat, "longitude": lon}
    obj = listing(world.evil.uri, name=f"Bâche perdue {lat} {lon}", location=place)
    stored = await publish(world, obj)
    assert (stored.lat, stored.lon) == (None, None)
    assert stored.commune == "Nulle part"
    assert (await api_listing(world, stored.id))["location"] == {
        "commune": "Nulle part",
        "lat": None,
        "lon": None,
        "placed": "none",  # no French commune of that name either
    }

    def clamp(value: Any, bound: float) -> float:
        number = float(value)
        return max(-bound, min(bound, number)) if math.isfinite(number) else 0.0

    for near in (f"{clamp(lat, 90)},{clamp(lon, 180)}", "43.3,-0.37", "0,0"):
        response = await world.node.client().get(
            f"/api/v1/listings?near={near}&radius_km=20000&status=any"
        )
        assert response.status_code == 200, near
        ids = {item["ap_id"] for item in (await response.get_json())["items"]}
        assert obj["id"] not in ids, near
    page = await Browser(world.node).get("/search?q=perdue&status=any")
    assert obj["name"] in page.text  # in the results…
    assert f"/listings/{stored.id}" not in map_urls(page.text)  # …but not on the map


def map_urls(page: str) -> set[str]:
    data = MAP_DATA.search(page)
    assert data is not None
    return {point["url"] for point in json.loads(data.group(1))}


async def test_an_ordinary_listing_of_the_same_actor_is_kept_whole(world: World) -> None:
    """Control: the same actor's ordinary listing is stored as sent and shown on the map, so
    the cuts above come from the bounds, not from a refusal of everything it sends."""
    obj = listing(
        world.evil.uri,
        name="Planches de pin",
        content="<p>Planches de pin <em>brut</em></p>",
        location={"type": "Place", "name": "Pau", "latitude": 43.2951, "longitude": -0.3708},
    )
    stored = await publish(world, obj)
    assert (stored.title, stored.description) == ("Planches de pin", "Planches de pin brut")
    assert (stored.lat, stored.lon) == (43.2951, -0.3708)
    page = await Browser(world.node).get("/search?q=pin")
    assert f"/listings/{stored.id}" in map_urls(page.text)
