"""XSS through what members type and through remote messages and community posts.

``test_xss.py`` covers the sanitiser, federated listings and the feeds; here,
one node on SQLite (escaping does not touch SQL) for the whole module where

* a member signs up with a script in every field of the form (name, structure,
  commune, description), then types one into a listing (by the form and by the
  API), an API token's name, a message, a community post and a report, and an
  animator into a community's name and description;
* a followed remote actor whose name and summary are scripts sends a direct
  message and a community post whose HTML is a collection of known vectors.

Every page that shows them is parsed by ``tests/web/htmlcheck.py``: no script
but ours, no event handler, no ``javascript:``/``data:`` URL, no iframe, svg,
math, object, embed, base or style attribute.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.social import Community, CommunityMember, Message, Post
from federation.models import Actor
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import PUBLIC, deliver, rsa_key
from tests.support import TestNode
from tests.web.browser import MAP_DATA, Browser, Page
from tests.web.data import listing_form
from tests.web.htmlcheck import executable_parts

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCRIPT = "<script>alert(1)</script>"
TYPED = f'Chutes {SCRIPT} et "><img src=x onerror=alert(2)>'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
MARKUP = (
    "<p>Bonjour <script>alert(1)</script><img src=x onerror=alert(2)>"
    '<a href="javascript:alert(3)">j</a> <a href="JaVaScRiPt:alert(4)">k</a> '
    '<a href="&#106;avascript:alert(5)">e</a> <a href="java&#x09;script:alert(6)">t</a> '
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==">d</a>'
    '<svg onload=alert(8)><circle r=1 /></svg><iframe src="https://evil.test/"></iframe>'
    '<p style="width: expression(alert(9))">s</p>'
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(10)>"
    '</style></mglyph></table></mtext></math>"><img src=x onerror=alert(11)>'
    '<object data=x></object><embed src=x><base href="https://evil.test/">'
    "&lt;script&gt;alert(12)&lt;/script&gt;</p>"
)
EVIL = "https://evil.test/users/mallory"


@dataclass
class World:
    net: FediNet
    node: TestNode
    member: Browser  # owner of the structure "piege", member of the community
    other: Browser  # owner of "menuiserie", to whom the member writes
    animator: Browser
    admin: Browser
    form_listing: str  # path of the listing made with the form
    api_listing: str  # and with the API
    local_thread: str
    remote_thread: str


def assert_runs_nothing(page: Page, path: str) -> None:
    assert page.status == 200, (path, page.status)
    assert executable_parts(page.text) == [], (path, executable_parts(page.text))
    assert SCRIPT not in page.text, path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    sqlite_module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("xss-pages")
    async with network(path, sqlite_module_db, ["a.test"]) as (net, (a,)):
        evil = FakeActor(EVIL, rsa_key(61), extra={"name": TYPED, "summary": MARKUP})
        net.hooks.append(evil)
        await a.structure("menuiserie", owner="m@a.example")
        await a.person("admin@a.example", role="admin")
        await a.person("anim@a.example", role="animator")
        admin, animator, member, other = Browser(a), Browser(a), Browser(a), Browser(a)
        await admin.login("admin@a.example")
        await animator.login("anim@a.example")
        await other.login("m@a.example")

        # Sign-up: a script in every text field; the admin approves the structure.
        page = await member.post(
            "/signup",
            {
                "email": "ana@example.org",
                "password": "un mot de passe solide",
                "display_name": TYPED,
                "name": TYPED,
                "handle": "piege",
                "kind": "association",
                "commune": TYPED,
                "description": TYPED,
                "contact_email": "contact@piege.example",
            },
            csrf_from="/signup",
        )
        assert page.status == 302, page.text
        await member.login("ana@example.org", "un mot de passe solide")
        queue = await admin.get("/admin/structures")
        found = re.search(r"/admin/structures/(\d+)/approve", queue.text)
        assert found, "the signed-up structure is not in the queue"
        page = await admin.post(
            f"/admin/structures/{found.group(1)}/approve", csrf_from="/admin/structures"
        )
        assert page.status == 302, page.text

        # A listing by the form, another by the API, a token named with a script.
        page = await member.post(
            "/listings/new",
            listing_form(structure="piege", title=TYPED, description=TYPED, commune=TYPED),
            csrf_from="/listings/new",
        )
        assert page.status == 302, page.text
        form_listing = page.location
        token = await a.token("ana@example.org")
        response = await a.api(
            "POST",
            "/api/v1/listings",
            token=token,
            json={
                "structure": "piege",
                "kind": "need",
                "title": TYPED,
                "description": TYPED,
                "category": "materials",
                "modality": "give",
                "quantity": "2",
                "unit": '"><b onclick=alert(3)>',
                "location": {"commune": TYPED, "lat": 43.3, "lon": -0.37},
            },
        )
        assert response.status_code == 201, await response.get_data()
        api_listing = f"/listings/{(await response.get_json())['id']}"
        page = await member.post("/account/tokens", {"name": TYPED[:90]}, csrf_from="/account")
        assert_runs_nothing(page, "the page showing the new token")

        # Talk: a community with a script for a name, a message, a post, a report.
        page = await animator.post(
            "/communities/new",
            {"handle": "reseau", "name": TYPED, "description": TYPED},
            csrf_from="/communities/new",
        )
        assert page.status == 302, page.text
        stored = await a.node.remote.actor(EVIL)
        async with a.node.db.session() as session:
            reseau = await session.scalar(select(Community).where(Community.handle == "reseau"))
            piege = await session.scalar(select(Actor.id).where(Actor.handle == "piege"))
            assert reseau is not None and piege is not None
            for actor_id in (stored.id, piege):
                session.add(CommunityMember(community_id=reseau.id, actor_id=actor_id))
        page = await member.post(
            "/messages/new",
            {"from": "piege", "to": "menuiserie", "content": TYPED},
            csrf_from="/messages/new",
        )
        assert page.status == 302, page.text
        local_thread = page.location.split("#")[0]
        page = await member.post(
            "/communities/reseau/posts",
            {"structure": "piege", "content": TYPED},
            csrf_from="/communities/reseau",
        )
        assert page.status == 302, page.text

        # The remote actor: a direct message to "piege" and a post in the community.
        piege_uri = "https://a.test/actors/piege"
        group = "https://a.test/actors/reseau"
        for n, to, extra in (
            (1, [piege_uri], {"tag": [{"type": "Mention", "href": piege_uri}]}),
            (2, [PUBLIC, group], {"audience": group}),
        ):
            obj = {
                "id": f"https://evil.test/notes/{n}",
                "type": "Note",
                "attributedTo": EVIL,
                "to": to,
                "content": MARKUP,
                **extra,
            }
            activity = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"https://evil.test/activities/{n}",
                "type": "Create",
                "actor": EVIL,
                "to": to,
                "object": obj,
                **({"audience": group} if "audience" in extra else {}),
            }
            response = await deliver(net, "https://a.test/inbox", activity, evil.signing_key)
            assert response.status_code == 202, response.text
        await net.settle()
        response = await a.api(
            "POST",
            "/api/v1/reports",
            token=token,
            json={"actor": "piege", "target": "https://evil.test/notes/2", "reason": TYPED},
        )
        assert response.status_code == 201, await response.get_data()

        async with a.node.db.session() as session:
            remote_thread = await session.scalar(
                select(Message.conversation_id).where(Message.ap_id == "https://evil.test/notes/1")
            )
            remote_post = await session.scalar(
                select(Post.id).where(Post.ap_id == "https://evil.test/notes/2")
            )
        assert remote_thread is not None, "the remote message was not stored"
        assert remote_post is not None, "the remote community post was not stored"
        yield World(
            net=net,
            node=a,
            member=member,
            other=other,
            animator=animator,
            admin=admin,
            form_listing=form_listing,
            api_listing=api_listing,
            local_thread=local_thread,
            remote_thread=f"/messages/{remote_thread}",
        )


async def test_xss_typed_by_a_member_in_every_field_is_escaped(world: World) -> None:
    """Attack: a member (or a script with a member's token) types ``<script>`` and an
    attribute breaker (``"><img onerror=…>``) into every field it can fill: sign-up (person
    and structure), listing (form and API, unit and place included), token name, message,
    community post and name, report. Every page that shows one of them — to the public,
    to the member, to other members, to the admin — shows it as text and runs nothing; the
    edit form gives it back inside its fields without closing them, and the map's data
    cannot close its ``<script>`` element."""
    anonymous = Browser(world.node)
    pages = [
        (anonymous, "/"),
        (anonymous, "/search"),
        (anonymous, "/search?q=Chutes"),
        (anonymous, "/@piege"),
        (anonymous, world.form_listing),
        (anonymous, world.api_listing),
        (anonymous, "/communities"),
        (anonymous, "/communities/reseau"),
        (world.member, world.form_listing + "/edit"),
        (world.member, world.api_listing + "/edit"),
        (world.member, world.form_listing + "/withdraw"),
        (world.member, "/account"),
        (world.member, world.local_thread),
        (world.member, "/messages"),
        (world.member, "/timeline"),
        (world.other, world.local_thread),
        (world.other, "/messages"),
        (world.other, "/notifications"),
        (world.animator, "/communities/reseau"),
        (world.admin, "/admin/structures"),
        (world.admin, "/admin/reports"),
        (world.admin, "/admin/audit"),
    ]
    shown = []
    for browser, path in pages:
        page = await browser.get(path)
        assert_runs_nothing(page, path)
        assert "<img src=x" not in page.text, path
        if ESCAPED in page.text:
            shown.append(path)
    # The typed text is really on the pages checked (escaped), not absent from them.
    for path in (world.form_listing, world.api_listing, "/@piege", world.local_thread):
        assert path in shown, (path, shown)
    assert len(shown) >= len(pages) // 2, shown

    search = await anonymous.get("/search")
    data = MAP_DATA.search(search.text)
    assert data is not None
    assert "<" not in data.group(1)
    assert any(point["title"] == TYPED for point in json.loads(data.group(1)))

    # A form sent back with an error repeats the typed text, escaped.
    page = await world.member.post(
        "/listings/new",
        listing_form(structure="piege", title=TYPED, category="nope"),
        csrf_from="/listings/new",
    )
    assert page.status == 422
    assert executable_parts(page.text) == []
    assert ESCAPED in page.text


async def test_xss_in_remote_messages_and_community_posts_runs_nothing(world: World) -> None:
    """Attack: a remote actor that a structure talks to — signed, so accepted — sends a
    direct message and a community post whose HTML is a collection of known vectors
    (script, event handlers, ``javascript:`` in several spellings, ``data:`` URLs, svg,
    math/style mutation, iframe, object, embed, base, CSS expressions), and has a script
    for a name and its summary. The thread, the community, the notifications, the timeline
    and the admin's pages run nothing; the message's text is still there, and the markup
    that was text in the message (``&lt;script&gt;``) stays text."""
    pages = [
        (world.member, world.remote_thread),
        (world.member, "/messages"),
        (world.member, "/notifications"),
        (world.member, "/timeline"),
        (world.member, "/communities/reseau"),
        (world.animator, "/communities/reseau"),
        (Browser(world.node), "/communities/reseau"),
        (world.member, f"/messages/new?to={EVIL}"),
        (world.admin, "/admin/reports"),
        (world.admin, "/admin/federation"),
    ]
    for browser, path in pages:
        assert_runs_nothing(await browser.get(path), path)
    thread = await world.member.get(world.remote_thread)
    assert "Bonjour" in thread.text
    assert "&lt;script&gt;alert(12)" in thread.text
    community = await world.member.get("/communities/reseau")
    assert "Bonjour" in community.text
