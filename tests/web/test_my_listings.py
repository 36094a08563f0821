"""« Mes annonces »: a structure's listings with status, expiry and matches; renew,
close as fulfilled, duplicate, withdraw."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from config.database import utcnow
from domain import listing_states
from domain.matches import Match
from domain.models import Listing
from federation.models import Activity
from tests.federation.test_matching import NEED, publish
from tests.support import TestNode
from tests.web.browser import Browser

OFFER = {**NEED, "kind": "offer", "title": "Chutes de chêne à donner", "structure": "scierie"}


async def test_my_listings_renew_close_duplicate(node: TestNode) -> None:
    _token, need = await publish(node, "atelier", NEED)
    _token, offer = await publish(node, "scierie", OFFER)
    async with node.node.transaction() as session:
        session.add(Match(need_id=need["id"], offer_id=offer["id"], score=0.8, reasons=[]))
        listing = await session.get(Listing, need["id"])
        assert listing is not None
        listing_states.transition(listing, "expired")
        listing.expires_at = utcnow() - timedelta(days=1)
    owner = Browser(node)
    await owner.login("atelier@a.test.example")
    page = await owner.get("/account/listings")
    assert page.status == 200
    assert "Recherche chutes de bois" in page
    assert "Chutes de chêne à donner" not in page  # another structure's
    assert f'<a href="/listings/{need["id"]}#matches-title">1</a>' in page.text
    assert "Expirée" in page
    english = await owner.get("/account/listings?lang=en")
    assert "Close as fulfilled" in english and "Expired" in english

    renewed = await owner.post(
        f"/account/listings/{need['id']}/renew", csrf_from="/account/listings"
    )
    assert renewed.status == 302 and renewed.location == "/account/listings?as=atelier"
    async with node.node.db.session() as session:
        listing = await session.get(Listing, need["id"])
        assert listing is not None and listing.status == "open"
        assert listing.expires_at is not None and listing.expires_at > utcnow() + timedelta(days=80)
        updates = await session.scalars(
            select(Activity.type).where(Activity.object_uri == need["ap_id"])
        )
        assert "Update" in list(updates)

    closed = await owner.post(
        f"/account/listings/{need['id']}/close", csrf_from="/account/listings"
    )
    assert closed.status == 302
    response = await node.api("GET", f"/api/v1/listings/{need['id']}?status=fulfilled")
    assert (await response.get_json())["status"] == "fulfilled"

    copy = await owner.get(f"/listings/new?from={need['id']}")
    assert copy.status == 200
    assert 'value="Recherche chutes de bois"' in copy.text

    # Someone of another structure: not theirs to change or copy.
    stranger = Browser(node)
    await stranger.login("scierie@a.test.example")
    refused = await stranger.post(
        f"/account/listings/{need['id']}/renew", csrf_from="/account/listings"
    )
    assert refused.status == 403
    assert (await stranger.get(f"/listings/new?from={need['id']}")).status == 404

    withdrawn = await owner.post(f"/listings/{need['id']}/withdraw", csrf_from="/account/listings")
    assert withdrawn.status == 302
    again = await owner.post(f"/account/listings/{need['id']}/renew", csrf_from="/account/listings")
    assert again.status == 409
    page = await owner.get("/account/listings")
    assert "Withdrawn" in page  # the language chosen above stays
