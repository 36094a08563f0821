"""Exchanges on the site: proposed from a listing's page, answered and marked done from
``/exchanges`` (CSRF-protected forms), counted on the structure's page; French and English."""

from __future__ import annotations

import re

from tests.support import TestNode
from tests.web.browser import Browser

OFFER = {
    "structure": "menuiserie",
    "kind": "offer",
    "title": "Chutes de chêne",
    "description": "Chutes de bois massif à donner.",
    "category": "materials",
    "modality": "give",
    "quantity": "300",
    "unit": "kg",
    "location": {"commune": "Orthez"},
}


async def test_propose_accept_and_mark_done_from_the_pages(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("atelier", owner="t@a.example", name="Atelier du Gave", commune="Pau")
    token = await node.token("m@a.example")
    response = await node.api("POST", "/api/v1/listings", token=token, json=OFFER)
    listing = (await response.get_json())["id"]
    menuiserie, atelier = Browser(node), Browser(node)
    await menuiserie.login("m@a.example")
    await atelier.login("t@a.example")

    # The listing's page offers the form to the other structure only, in both languages.
    page = await atelier.get(f"/listings/{listing}")
    assert "Proposer un échange" in page and f'action="/listings/{listing}/exchange"' in page
    english = await atelier.get(f"/listings/{listing}", headers={"Accept-Language": "en"})
    assert "Propose an exchange" in english
    assert "Proposer un échange" not in await menuiserie.get(f"/listings/{listing}")

    # Without the CSRF token the form is refused.
    refused = await atelier.post(
        f"/listings/{listing}/exchange", {"structure": "atelier"}, csrf_from=None
    )
    assert refused.status == 400
    page = await atelier.post(
        f"/listings/{listing}/exchange",
        {"structure": "atelier", "quantity": "400", "message": "Trop ?"},
        csrf_from=f"/listings/{listing}",
    )
    assert page.status == 302 and f"/listings/{listing}" in page.location
    assert "il n’en reste que 300" in await atelier.get(f"/listings/{listing}")
    page = await atelier.post(
        f"/listings/{listing}/exchange",
        {"structure": "atelier", "quantity": "100", "value_amount": "60", "message": "Merci"},
        csrf_from=f"/listings/{listing}",
    )
    assert page.status == 302 and page.location.endswith("/exchanges"), page.text

    mine = await atelier.get("/exchanges")
    assert "Proposé" in mine and "Retirer la proposition" in mine and "Accepter" not in mine
    theirs = await menuiserie.get("/exchanges")
    assert "Atelier du Gave" in theirs and "Merci" in theirs
    action = re.search(r'action="(/exchanges/\d+/accept)"', theirs.text)
    assert action, theirs.text
    page = await menuiserie.post(action.group(1), {"actor": "menuiserie"}, csrf_from="/exchanges")
    assert page.status == 302
    exchange = action.group(1).rsplit("/", 1)[0]
    await atelier.post(f"{exchange}/done", {"actor": "atelier"}, csrf_from="/exchanges")
    waiting = await atelier.get("/exchanges")
    assert "en attente de la confirmation" in waiting
    await menuiserie.post(f"{exchange}/done", {"actor": "menuiserie"}, csrf_from="/exchanges")
    done = await menuiserie.get("/exchanges", headers={"Accept-Language": "en"})
    assert "Done" in done and "CO2e avoided" in done

    # Both structures' pages count it.
    for handle in ("menuiserie", "atelier"):
        profile = await atelier.get(f"/@{handle}")
        assert "Échanges réalisés" in profile, handle
        assert "60,00" in profile or "60.00" in profile or "60 €" in profile, handle
    notified = await menuiserie.get("/notifications")
    assert "propose un échange sur « Chutes de chêne »" in notified
