"""User text is escaped on every page: titles, descriptions, structure names and more."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from domain.social import Community, CommunityMember, Message, Post
from federation.models import Actor
from federation.signatures import sign_request
from tests.fedinet import FakeActor, network
from tests.support import TestNode
from tests.web.browser import MAP_DATA, Browser, Page
from tests.web.data import listing_form, remote_listing
from tests.web.htmlcheck import executable_parts

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

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
    assert not executable_parts(page.text), (path, executable_parts(page.text))


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
    await owner.login("ana@example.org", "un mot de passe solide")
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


# --- structures talk: remote and local messages and posts ------------------------------

MARKUP = (
    "<p>Bonjour <script>alert(1)</script><img src=x onerror=alert(1)>"
    '<a href="javascript:alert(2)">j</a> <a href="JaVaScRiPt:alert(3)">k</a> '
    '<a href="&#106;avascript:alert(4)">e</a> <a href="java&#x09;script:alert(5)">t</a> '
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==">d</a>'
    '<svg onload=alert(7)><circle r=1 /></svg><iframe src="https://evil.test/"></iframe>'
    '<p style="width: expression(alert(8))">s</p><a href="#" style="x:url(javascript:a)">u</a>'
    "&lt;script&gt;alert(9)&lt;/script&gt; &amp;lt;script&amp;gt; "
    "%3Cscript%3Ealert(10)%3C/script%3E "
    "%253Cscript%253E <math><mtext><table><mglyph><style><img src=x onerror=alert(11)>"
    '</style></mglyph></table></mtext></math>"><img src=x onerror=alert(12)>'
    '<object data=x></object><embed src=x><base href="https://evil.test/"></p>'
)
TEXT = (
    'Texte <script>alert(1)</script> "><img src=x onerror=alert(2)> <svg onload=alert(3)> '
    "<iframe src=x></iframe> javascript:alert(4) &lt;script&gt; %3Cscript%3E"
)


def assert_safe(page: Page, path: str) -> None:
    assert page.status == 200, (path, page.status)
    problems = executable_parts(page.text)
    assert not problems, (path, problems)


async def test_nothing_executable_reaches_the_talk_pages(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    """Attack: a remote actor (signed, so accepted) sends a direct message and a community
    post full of script vectors, and has a name that is one; a local member writes the same
    as text in a message and a post. Every page that shows them is parsed: no script, no
    event handler, no javascript:/data: URL, no iframe, svg, math, object, embed, base or
    style attribute comes through."""
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        evil = FakeActor(
            "https://evil.test/users/mallory",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            extra={"name": TEXT[:120], "summary": MARKUP},
        )
        net.hooks.append(evil)
        await a.structure("ferme", owner="f@a.example", name="Ferme")
        await a.structure("menuiserie", owner="m@a.example", name=TEXT[:150])
        await a.person("admin@a.example", role="admin")
        await a.person("anim@a.example", role="animator")

        # The local community, with the remote actor admitted as a member.
        animator = Browser(a)
        await animator.login("anim@a.example")
        page = await animator.post(
            "/communities/new",
            {"handle": "reseau", "name": TEXT[:150], "description": TEXT},
            csrf_from="/communities/new",
        )
        assert page.status == 302, page.text
        stored = await a.node.remote.actor(evil.uri)
        async with a.node.db.session() as session:
            community = (await session.execute(select(Community))).scalars().all()
            reseau = next(c for c in community if c.handle == "reseau")
            for actor_id in (stored.id, await _actor_id(session, "ferme")):
                session.add(CommunityMember(community_id=reseau.id, actor_id=actor_id))
            await session.commit()

        async def deliver(activity: dict[str, Any]) -> None:
            body = json.dumps(activity).encode()
            headers = {"Content-Type": "application/activity+json"}
            headers.update(
                sign_request("POST", "https://a.test/inbox", headers, body, evil.signing_key)
            )
            response = await a.client().post("/inbox", data=body, headers=headers)
            assert response.status_code == 202, await response.get_data()

        ferme = "https://a.test/actors/ferme"
        await deliver(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": "https://evil.test/activities/1",
                "type": "Create",
                "actor": evil.uri,
                "to": [ferme],
                "object": {
                    "id": "https://evil.test/notes/1",
                    "type": "Note",
                    "attributedTo": evil.uri,
                    "to": [ferme],
                    "cc": [],
                    "content": MARKUP,
                    "tag": [{"type": "Mention", "href": ferme, "name": "@ferme@a.test"}],
                },
            }
        )
        group = "https://a.test/actors/reseau"
        await deliver(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": "https://evil.test/activities/2",
                "type": "Create",
                "actor": evil.uri,
                "to": [PUBLIC, group],
                "audience": group,
                "object": {
                    "id": "https://evil.test/notes/2",
                    "type": "Note",
                    "attributedTo": evil.uri,
                    "to": [PUBLIC, group],
                    "audience": group,
                    "content": MARKUP,
                },
            }
        )
        await net.settle()

        # Local text: a message and a post by a member.
        member = Browser(a)
        await member.login("f@a.example")
        page = await member.post(
            "/messages/new",
            {"from": "ferme", "to": "menuiserie", "content": TEXT},
            csrf_from="/messages/new",
        )
        assert page.status == 302, page.text
        local_thread = page.location.split("#")[0]
        page = await member.post(
            "/communities/reseau/posts",
            {"structure": "ferme", "content": TEXT},
            csrf_from="/communities/reseau",
        )
        assert page.status == 302, page.text
        reporter = await a.token("f@a.example")
        response = await a.api(
            "POST",
            "/api/v1/reports",
            token=reporter,
            json={"actor": "ferme", "target": "https://evil.test/notes/2", "reason": TEXT},
        )
        assert response.status_code == 201, await response.get_data()

        async with a.node.db.session() as session:
            remote_thread = await session.scalar(
                select(Message.conversation_id).where(Message.ap_id == "https://evil.test/notes/1")
            )
            remote_post = await session.scalar(
                select(Post.content_html).where(Post.ap_id == "https://evil.test/notes/2")
            )
        assert remote_thread is not None
        assert remote_post  # stored (sanitised), so the pages below really show it

        other = Browser(a)
        await other.login("m@a.example")
        admin = Browser(a)
        await admin.login("admin@a.example")
        for browser, path in (
            (member, "/messages"),
            (member, f"/messages/{remote_thread}"),
            (member, local_thread),
            (member, "/notifications"),
            (member, "/communities"),
            (member, "/communities/reseau"),
            (member, "/timeline"),
            (other, "/messages"),
            (other, local_thread),
            (other, "/notifications"),
            (animator, "/communities/reseau"),
            (admin, "/admin/reports"),
            (admin, "/admin/audit"),
            (admin, "/admin/federation"),
            (Browser(a), "/communities/reseau"),
            (Browser(a), "/@menuiserie"),
        ):
            page = await browser.get(path)
            assert_safe(page, path)
            assert SCRIPT not in page.text, path
        # The remote HTML really is on the thread page (sanitised), the local text escaped.
        thread = await member.get(f"/messages/{remote_thread}")
        assert "Bonjour" in thread
        assert "&lt;script&gt;alert(9)" in thread.text
        local = await other.get(local_thread)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in local.text


async def _actor_id(session: Any, handle: str) -> int:
    actor_id = await session.scalar(select(Actor.id).where(Actor.handle == handle))
    assert actor_id is not None
    return int(actor_id)
