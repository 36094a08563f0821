"""The second territory of ``entraide demo --peered``: the Pays de Pau, beside the Béarn
demo node (``instance.demo``), with its own administrator and two structures.

Its people and structures are made with its data directory (:func:`seed_peer_demo`);
its listings are published once the two territories are peered
(:func:`publish_peer_listings`), so they travel to the first node as any listing of a
peered territory does, and meet the first node's listings there: its lorry answers the
menuiserie's need, its need for pallets the ressourcerie's offer, its wood offcuts the
ressourcerie's need.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from config.settings import Settings
from domain.models import Listing, Person

NAME = "Pays de Pau — territoire voisin de démonstration"
HANDLE = "territory"

PEOPLE: list[dict[str, str]] = [
    {
        "email": "admin@pau.demo.entraide.local",
        "name": "Administrateur démo (Pau)",
        "role": "admin",
        "structure": "",
    },
    {
        "email": "recyclerie@pau.demo.entraide.local",
        "name": "Sophie Lacoste",
        "role": "member",
        "structure": "recyclerie_lescar",
    },
    {
        "email": "transports@pau.demo.entraide.local",
        "name": "Marc Bordenave",
        "role": "member",
        "structure": "transports_marsan",
    },
]

STRUCTURES: list[dict[str, Any]] = [
    {
        "handle": "recyclerie_lescar",
        "name": "Recyclerie de Lescar",
        "kind": "association",
        "commune": "Lescar",
        "lat": 43.3336,
        "lon": -0.4347,
        "description": "Recyclerie et atelier de réparation, chantier d'insertion.",
    },
    {
        "handle": "transports_marsan",
        "name": "Transports Marsan",
        "kind": "business",
        "commune": "Pau",
        "lat": 43.2951,
        "lon": -0.3708,
        "description": "Transport de marchandises et location de véhicules utilitaires.",
    },
]

LISTINGS: list[dict[str, Any]] = [
    {
        "structure": "transports_marsan",
        "kind": "offer",
        "title": "Camion benne 3,5 t à prêter le week-end",
        "description": "Camion benne 3,5 t (permis B), libre du vendredi soir au lundi matin.",
        "category": "vehicles",
        "modality": "lend",
        "location": {"commune": "Pau", "lat": 43.2951, "lon": -0.3708},
        "radius_km": 60,
    },
    {
        "structure": "recyclerie_lescar",
        "kind": "need",
        "title": "Palettes pour la recyclerie",
        "description": "Une quinzaine de palettes pour ranger le dépôt de la recyclerie.",
        "category": "materials",
        "modality": "sell",
        "quantity": "15",
        "unit": "palettes",
        "location": {"commune": "Lescar", "lat": 43.3336, "lon": -0.4347},
        "radius_km": 40,
    },
    {
        "structure": "recyclerie_lescar",
        "kind": "offer",
        "title": "Chutes de bois et planches de récupération",
        "description": "Planches de pin et chutes de bois issues des démontages de meubles.",
        "category": "materials",
        "modality": "give",
        "location": {"commune": "Lescar", "lat": 43.3336, "lon": -0.4347},
        "radius_km": 40,
    },
]


async def seed_peer_demo(settings: Settings, passwords: dict[str, str]) -> None:
    """The people and approved structures of the second territory (no listing yet)."""
    from instance.app import create_app
    from instance.demo import seed_people
    from instance.node import current_node

    app = create_app(settings, run_workers=False)
    async with app.app_context():
        node = current_node()
        async with node.db.session() as session:
            await seed_people(session, settings, passwords, PEOPLE, STRUCTURES)
    await node.db.dispose()


async def publish_peer_listings(node: Any) -> int:
    """Publish :data:`LISTINGS` on ``node`` (the running second territory) unless it holds
    local listings already; the number published."""
    from instance.services.listings import create_listing

    async with node.transaction() as session:
        if await session.scalar(select(func.count()).where(Listing.local.is_(True))):
            return 0
        emails = {who["structure"]: who["email"] for who in PEOPLE}
        for data in LISTINGS:
            person = await session.scalar(
                select(Person)
                .where(Person.email == emails[data["structure"]])
                .options(selectinload(Person.memberships))
            )
            assert person is not None, data["structure"]
            await create_listing(session, node, person, data)
    return len(LISTINGS)
