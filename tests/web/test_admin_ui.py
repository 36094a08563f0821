"""Administration pages: who sees what, peering between two nodes, the Fédération page,
reports and the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from instance.services import peering
from tests.fedinet import network
from tests.support import TestNode
from tests.web.browser import Browser

ADMIN_ONLY = ("/admin/structures", "/admin/peers", "/admin/federation")
MODERATORS = ("/admin", "/admin/reports", "/admin/audit")


async def _as(node: TestNode, email: str, role: str = "member") -> Browser:
    await node.person(email, role=role)
    browser = Browser(node)
    await browser.login(email)
    return browser


async def test_who_sees_which_admin_page(node: TestNode) -> None:
    anonymous = Browser(node)
    for path in ADMIN_ONLY + MODERATORS:
        page = await anonymous.get(path)
        assert page.status == 302, path
        assert page.location.startswith("/login?next="), path

    member = await _as(node, "member@a.example")
    for path in ADMIN_ONLY + MODERATORS:
        assert (await member.get(path)).status == 403, path
    for path in (
        "/admin/peers/request",
        "/admin/peers/b.test/approve",
        "/admin/federation/policy",
        "/admin/reports/1/resolve",
        "/admin/moderation/listings/1/hide",
        "/admin/moderation/structures/x/suspend",
    ):
        page = await member.post(path, {"target": "acct:t@b.test", "domain": "b.test"})
        assert page.status in (403, 404), path
    assert 'href="/admin"' not in await member.get("/")

    moderator = await _as(node, "mod@a.example", "moderator")
    for path in MODERATORS:
        assert (await moderator.get(path)).status == 200, path
    for path in ADMIN_ONLY:
        assert (await moderator.get(path)).status == 403, path
    hub = await moderator.get("/admin")
    assert 'href="/admin"' in hub
    assert 'href="/admin/reports"' in hub
    assert 'href="/admin/peers"' not in hub
    assert 'href="/admin/federation"' not in hub

    admin = await _as(node, "admin@a.example", "admin")
    for path in ADMIN_ONLY + MODERATORS:
        assert (await admin.get(path)).status == 200, path
    hub = await admin.get("/admin")
    for path in ADMIN_ONLY:
        assert f'href="{path}"' in hub


async def test_peering_request_and_approval_through_the_pages(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        admin_a = await _as(a, "admin@a.example", "admin")
        admin_b = await _as(b, "admin@b.example", "admin")
        page = await admin_a.post(
            "/admin/peers/request", {"target": "acct:territory@b.test"}, csrf_from="/admin/peers"
        )
        assert page.status == 302, page.text
        await net.settle()
        ours = await admin_a.get("/admin/peers")
        assert "La demande d’appairage est envoyée à b.test" in ours
        assert "Nous l’avons demandé" in ours

        theirs = await admin_b.get("/admin/peers")
        assert "a.test" in theirs
        assert "Ils nous l’ont demandé" in theirs
        assert 'action="/admin/peers/a.test/approve"' in theirs
        assert "Le territoire a.test demande à s’appairer" in await admin_b.get("/notifications")
        page = await admin_b.post("/admin/peers/a.test/approve", csrf_from="/admin/peers")
        assert page.status == 302
        await net.settle()
        assert [(p.host, p.direction, p.state) for p in await _peerings(b)] == [
            ("a.test", "incoming", "accepted"),
            ("a.test", "outgoing", "accepted"),
        ]
        shown = await admin_b.get("/admin/peers")
        assert "L’appairage avec a.test est validé." in shown
        assert shown.text.count("Accepté") == 2
        assert "Appairage validé" in await admin_b.get("/admin/audit")

        # Errors are told on the page, not as a 500.
        page = await admin_a.post(
            "/admin/peers/request",
            {"target": "acct:territory@nulle-part.test"},
            csrf_from="/admin/peers",
        )
        assert page.status == 422
        assert "injoignable" in page
        page = await admin_a.post("/admin/peers/c.test/approve", csrf_from="/admin/peers")
        assert page.status == 302
        assert "Il n’y a pas d’appairage avec ce territoire." in await admin_a.get("/admin/peers")

        # Remove.
        page = await admin_b.post("/admin/peers/a.test/remove", csrf_from="/admin/peers")
        assert page.status == 302
        await net.settle()
        assert await _peerings(b) == []


async def _peerings(node: TestNode) -> list[peering.Peering]:
    async with node.node.db.session() as session:
        return await peering.list_peerings(session)


async def test_federation_page_shows_a_failing_domain(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peering.request(a.node, "acct:territory@b.test")
        await net.settle()
        await peering.approve(b.node, "a.test")
        await net.settle()
        admin = await _as(a, "admin@a.example", "admin")
        healthy = await admin.get("/admin/federation")
        assert "b.test" in healthy
        assert "Envois réussis" in healthy

        net.down("b.test")
        await a.structure("menuiserie", owner="m@a.example")
        token = await a.token("m@a.example")
        response = await a.api(
            "POST",
            "/api/v1/listings",
            token=token,
            json={
                "structure": "menuiserie",
                "kind": "offer",
                "title": "Chutes de chêne",
                "description": "300 kg",
                "category": "materials",
                "modality": "give",
            },
        )
        assert response.status_code == 201
        await net.settle()
        page = await admin.get("/admin/federation")
        row = re.search(r'<tr class="domain-failing">(.*?)</tr>', page.text, re.S)
        assert row, page.text
        # (each cell also names its column, data-label, for the phone layout)
        cells = re.findall(r'<td class="num"[^>]*>(\d+)</td>', row.group(1))
        failures, queued = (int(c) for c in cells)
        assert failures >= 1
        assert queued >= 1
        assert "b.test" in row.group(1)
        assert "En échec" in row.group(1)
        assert "Depuis" not in row.group(1)

        # Block it from the page: the policy shows, the audit log records it.
        page = await admin.post(
            "/admin/federation/policy",
            {"domain": "b.test", "policy": "block", "reason": "tests"},
            csrf_from="/admin/federation",
        )
        assert page.status == 302
        shown = await admin.get("/admin/federation")
        assert "b.test est bloqué" in shown
        assert '<span class="badge badge-policy-block">Bloqué</span>' in shown
        assert "Domaine bloqué" in await admin.get("/admin/audit")
        page = await admin.post(
            "/admin/federation/policy",
            {"domain": "pas un domaine/", "policy": "block"},
            csrf_from="/admin/federation",
        )
        assert page.status == 422
        assert "Indiquez un domaine comme territoire.example." in page


async def test_reports_are_handled_from_the_page(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("vigilante", owner="v@a.example")
    moderator = await _as(node, "mod@a.example", "moderator")
    token = await node.token("m@a.example")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "menuiserie",
            "kind": "offer",
            "title": "Annonce douteuse",
            "description": "…",
            "category": "materials",
            "modality": "sell",
        },
    )
    listing = await response.get_json()
    reporter = await node.token("v@a.example")
    response = await node.api(
        "POST",
        "/api/v1/reports",
        token=reporter,
        json={"actor": "vigilante", "target": listing["ap_id"], "reason": "Arnaque probable"},
    )
    assert response.status_code == 201, await response.get_data()
    report_id = (await response.get_json())["id"]

    assert "Une structure de ce territoire a fait un signalement" in await moderator.get(
        "/notifications"
    )
    page = await moderator.get("/admin/reports")
    assert "Annonce douteuse" in page
    assert "Arnaque probable" in page
    assert f'href="/listings/{listing["id"]}"' in page
    assert f'formaction="/admin/moderation/listings/{listing["id"]}/hide"' in page

    page = await moderator.post(
        f"/admin/moderation/listings/{listing['id']}/hide",
        {"reason": "annonce trompeuse"},
        csrf_from="/admin/reports",
    )
    assert page.status == 302
    assert (await Browser(node).get(f"/listings/{listing['id']}")).status == 404
    page = await moderator.post(
        f"/admin/reports/{report_id}/resolve", {"reason": "traité"}, csrf_from="/admin/reports"
    )
    assert page.status == 302
    reports = await moderator.get("/admin/reports")
    assert "Aucun signalement ouvert." in reports
    assert "Clos récemment" in reports

    audit = await moderator.get("/admin/audit")
    assert audit.text.index("Signalement clos") < audit.text.index("Annonce masquée")
    assert "annonce trompeuse" in audit
