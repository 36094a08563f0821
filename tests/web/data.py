"""Data for the page tests: the forms people fill in, and a listing received by federation."""

from __future__ import annotations

from typing import Any

from domain.models import Listing
from federation.models import Actor
from tests.support import TestNode

SIGNUP = {
    "email": "claire@menuiserie.fr",
    "password": "un mot de passe solide",
    "display_name": "Claire Lasserre",
    "name": "Menuiserie Lasserre",
    "handle": "menuiserie_lasserre",
    "kind": "business",
    "commune": "Orthez",
    "lat": "43.4886",
    "lon": "-0.7722",
    "website": "https://menuiserie.example",
    "description": "Menuiserie bois, 12 salariés.",
    "contact_email": "contact@menuiserie.example",
}

LISTING_FORM = {
    "kind": "offer",
    "title": "Perceuse à percussion",
    "description": "Une perceuse Bosch, avec sa mallette.",
    "category": "equipment",
    "modality": "lend",
    "quantity": "",
    "unit": "",
    "price_amount": "",
    "price_currency": "EUR",
    "available_from": "",
    "available_until": "",
    "commune": "Orthez",
    "lat": "43.4886",
    "lon": "-0.7722",
    "radius_km": "20",
}


def listing_form(**changes: str) -> dict[str, str]:
    return {**LISTING_FORM, **changes}


async def remote_listing(node: TestNode, **fields: Any) -> int:
    """A listing received from ``b.test`` (as federation would store it); returns its id."""
    async with node.node.db.session() as session:
        actor = Actor(
            uri="https://b.test/actors/ferme",
            local=False,
            type="Organization",
            handle="ferme",
            domain="b.test",
            name=fields.pop("author_name", "Ferme du Gave"),
            inbox_url="https://b.test/actors/ferme/inbox",
        )
        session.add(actor)
        await session.flush()
        listing = Listing(
            ap_id="https://b.test/listings/7",
            url="https://b.test/listings/7",
            local=False,
            origin="b.test",
            author_id=actor.id,
            kind=fields.pop("kind", "need"),
            title=fields.pop("title", "Cherche bâche agricole"),
            description=fields.pop("description", "Pour couvrir du fourrage."),
            category=fields.pop("category", "materials"),
            modality=fields.pop("modality", "give"),
            commune=fields.pop("commune", "Sauveterre-de-Béarn"),
            lat=fields.pop("lat", 43.40),
            lon=fields.pop("lon", -0.94),
            status="open",
            **fields,
        )
        session.add(listing)
        await session.flush()
        return listing.id
