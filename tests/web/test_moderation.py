"""No anonymous free riders: a structure is invisible and cannot publish until approved."""

from __future__ import annotations

import re

from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.data import SIGNUP, listing_form


async def _signed_up(node: TestNode) -> Browser:
    owner = Browser(node)
    page = await owner.post("/signup", SIGNUP, csrf_from="/signup")
    assert page.status == 302
    await owner.login(SIGNUP["email"], SIGNUP["password"])
    return owner


async def _structure_id(admin: Browser) -> str:
    queue = await admin.get("/admin/structures")
    found = re.search(r'action="/admin/structures/(\d+)/approve"', queue.text)
    assert found
    return found.group(1)


async def test_pending_then_approved(node: TestNode) -> None:
    owner = await _signed_up(node)
    anonymous = Browser(node)

    # Pending: invisible to the public, visible with a banner to its owner.
    assert (await anonymous.get("/@menuiserie_lasserre")).status == 404
    own_view = await owner.get("/@menuiserie_lasserre")
    assert own_view.status == 200
    assert "En attente de validation" in own_view

    # Its owner cannot publish yet, and is told why.
    form_page = await owner.get("/listings/new")
    assert "Menuiserie Lasserre est en attente de validation." in form_page
    assert 'name="title"' not in form_page
    refused = await owner.post(
        "/listings/new",
        listing_form(structure="menuiserie_lasserre"),
        csrf_from="/account",
    )
    assert refused.status == 403
    assert "en attente de validation par un administrateur" in refused

    # The administrator sees it in the queue, with the owner's e-mail, and approves it.
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    queue = await admin.get("/admin/structures")
    assert "Menuiserie Lasserre" in queue
    assert "claire@menuiserie.fr" in queue
    structure_id = await _structure_id(admin)
    page = await admin.post(
        f"/admin/structures/{structure_id}/approve", csrf_from="/admin/structures"
    )
    assert page.status == 302
    queue = await admin.get("/admin/structures")
    assert "Menuiserie Lasserre est validée" in queue
    assert "Aucune structure en attente" in queue
    assert "Décisions récentes" in queue

    # Now public, and able to publish.
    public = await anonymous.get("/@menuiserie_lasserre")
    assert public.status == 200
    assert "En attente de validation" not in public
    page = await owner.post(
        "/listings/new", listing_form(structure="menuiserie_lasserre"), csrf_from="/listings/new"
    )
    assert page.status == 302
    assert page.location.startswith("/listings/")
    assert "Perceuse à percussion" in await anonymous.get("/@menuiserie_lasserre")


async def test_rejection_reason_reaches_the_owner(node: TestNode) -> None:
    owner = await _signed_up(node)
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    structure_id = await _structure_id(admin)

    # A reason is required.
    page = await admin.post(
        f"/admin/structures/{structure_id}/reject", {"reason": "  "}, csrf_from="/admin/structures"
    )
    assert page.status == 422
    assert "Ce champ est obligatoire." in page
    assert "Menuiserie Lasserre" in page

    reason = "Aucune activité sur le territoire de la communauté de communes."
    page = await admin.post(
        f"/admin/structures/{structure_id}/reject",
        {"reason": reason},
        csrf_from="/admin/structures",
    )
    assert page.status == 302
    assert "Refusée" in await admin.get("/admin/structures")

    account = await owner.get("/account")
    assert "Refusée" in account
    assert reason in account
    profile = await owner.get("/@menuiserie_lasserre")
    assert profile.status == 200
    assert "Inscription refusée" in profile
    assert reason in profile
    assert (await Browser(node).get("/@menuiserie_lasserre")).status == 404


async def test_admin_pages_are_for_admins(node: TestNode) -> None:
    await node.structure("menuiserie", owner="member@example.org", approved=False)
    anonymous = Browser(node)
    page = await anonymous.get("/admin/structures")
    assert page.status == 302
    assert page.location.startswith("/login")

    member = Browser(node)
    await member.login("member@example.org")
    assert (await member.get("/admin/structures")).status == 403
    page = await member.post("/admin/structures/1/approve", csrf_from="/account")
    assert page.status == 403
    page = await member.post("/admin/structures/1/reject", {"reason": "x"}, csrf_from="/account")
    assert page.status == 403
    assert (await anonymous.get("/@menuiserie")).status == 404
    assert "Administration" not in await member.get("/account")
