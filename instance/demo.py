"""Seed data of the demo node: an administrator and one person per structure, each with
their own login; three structures of the Béarn whose listings meet; a conversation between
two of them; a post in the community « Gouvernance »."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import approve_structure
from config.settings import Settings
from domain.models import Listing, Person
from domain.people import create_person, create_structure
from federation.models import Actor

ADMIN_EMAIL = "admin@demo.entraide.local"

# Who logs in to the demo: the administrator, then one person per structure (its owner).
PEOPLE: list[dict[str, str]] = [
    {"email": ADMIN_EMAIL, "name": "Administratrice démo", "role": "admin", "structure": ""},
    {
        "email": "menuiserie@demo.entraide.local",
        "name": "Jean Lasserre",
        "role": "member",
        "structure": "menuiserie_lasserre",
    },
    {
        "email": "ressourcerie@demo.entraide.local",
        "name": "Maïté Casenave",
        "role": "member",
        "structure": "ressourcerie_gave",
    },
    {
        "email": "cc-lacq-orthez@demo.entraide.local",
        "name": "Pierre Lanne",
        "role": "member",
        "structure": "cc_lacq_orthez",
    },
]

# The conversation: the ressourcerie writes about the menuiserie's offer, which answers.
MESSAGE = (
    "Bonjour, vos chutes de bois nous intéressent pour l'atelier de réemploi. "
    "Pouvons-nous passer les chercher mardi ?"
)
REPLY = "Bonjour, mardi matin nous va très bien : venez à l'atelier à partir de 8 h."
GOVERNANCE_POST = (
    "Bienvenue sur le territoire de démonstration ! Proposition : une réunion des "
    "structures chaque trimestre pour faire le point sur les échanges."
)

STRUCTURES: list[dict[str, Any]] = [
    {
        "handle": "menuiserie_lasserre",
        "name": "Menuiserie Lasserre",
        "kind": "business",
        "commune": "Orthez",
        "lat": 43.4886,
        "lon": -0.7722,
        "description": "Menuiserie bois et agencement, 12 salariés.",
    },
    {
        "handle": "ressourcerie_gave",
        "name": "Ressourcerie du Gave",
        "kind": "association",
        "commune": "Mourenx",
        "lat": 43.3816,
        "lon": -0.6260,
        "description": "Collecte, réemploi et vente solidaire.",
    },
    {
        "handle": "cc_lacq_orthez",
        "name": "Communauté de communes de Lacq-Orthez",
        "kind": "public",
        "commune": "Mourenx",
        "lat": 43.3790,
        "lon": -0.6210,
        "description": "Service développement économique.",
    },
]

LISTINGS: list[dict[str, Any]] = [
    {
        "structure": "menuiserie_lasserre",
        "kind": "offer",
        "title": "Chutes de bois massif",
        "description": "Chêne et châtaignier, chutes de 20 à 80 cm, idéal pour ateliers ou écoles.",
        "category": "materials",
        "modality": "give",
        "quantity": "300",
        "unit": "kg",
        "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
        "radius_km": 30,
    },
    {
        "structure": "menuiserie_lasserre",
        "kind": "need",
        "title": "Camion benne pour un week-end",
        "description": "Besoin d'un camion benne 3,5 t pour un chantier, fin du mois.",
        "category": "vehicles",
        "modality": "lend",
        "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
        "radius_km": 40,
    },
    {
        "structure": "ressourcerie_gave",
        "kind": "offer",
        "title": "Local de stockage 40 m²",
        "description": "Local sec et fermé, disponible en journée, accès plain-pied.",
        "category": "premises",
        "modality": "mutualise",
        "location": {"commune": "Mourenx", "lat": 43.3816, "lon": -0.6260},
    },
    {
        "structure": "cc_lacq_orthez",
        "kind": "offer",
        "title": "Accompagnement à la commande publique",
        "description": "Deux demi-journées par mois de mécénat de compétences pour les TPE.",
        "category": "skills",
        "modality": "give",
        "location": {"commune": "Mourenx", "lat": 43.3790, "lon": -0.6210},
        "radius_km": 50,
    },
    {
        "structure": "ressourcerie_gave",
        "kind": "offer",
        "title": "Palettes Europe",
        "description": "Une vingtaine de palettes en bon état.",
        "category": "materials",
        "modality": "sell",
        "price": {"amount": "3.00", "currency": "EUR"},
        "quantity": "20",
        "unit": "palettes",
        "location": {"commune": "Mourenx", "lat": 43.3816, "lon": -0.6260},
    },
    # Needs that the offers above answer: the demo shows matches from its first page.
    {
        "structure": "ressourcerie_gave",
        "kind": "need",
        "title": "Chutes de bois pour l'atelier de réemploi",
        "description": "Nous cherchons des chutes de bois (chêne, pin) pour fabriquer du mobilier.",
        "category": "materials",
        "modality": "give",
        "location": {"commune": "Mourenx"},
    },
    {
        "structure": "cc_lacq_orthez",
        "kind": "need",
        "title": "Palettes pour le marché de producteurs",
        "description": "Une dizaine de palettes pour les étals du marché d'été.",
        "category": "materials",
        "modality": "sell",
        "quantity": "10",
        "unit": "palettes",
        "location": {"commune": "Mourenx"},
    },
]


async def seed_people(
    session: AsyncSession,
    settings: Settings,
    passwords: dict[str, str],
    people_data: list[dict[str, str]],
    structures: list[dict[str, Any]],
) -> tuple[dict[str, Person], dict[str, Actor]]:
    """The people of ``people_data`` (keyed by the handle of their structure, ``""`` for
    the administrator, who comes first) and their approved ``structures`` (their actors,
    keyed by handle), the memberships loaded."""
    people: dict[str, Person] = {}
    for who in people_data:
        people[who["structure"]] = await create_person(
            session,
            who["email"],
            passwords[who["email"]],
            role=who["role"],
            display_name=who["name"],
        )
    actors = {}
    for data in structures:
        structure = await create_structure(
            session, data, people[data["handle"]], territory_handle=settings.instance.handle
        )
        actors[data["handle"]] = await approve_structure(session, settings, structure, people[""])
    # The memberships made above, loaded (publishing checks them; no lazy load may
    # happen in an async session).
    for person in people.values():
        await session.refresh(person, ["memberships"])
    return people, actors


async def seed_demo(settings: Settings, passwords: dict[str, str]) -> None:
    """Seed a new demo node; ``passwords`` gives each of :data:`PEOPLE` its password."""
    from instance.app import create_app
    from instance.bootstrap import GOVERNANCE_HANDLE
    from instance.node import current_node
    from instance.services import communities, messages
    from instance.services.listings import create_listing

    app = create_app(settings, run_workers=False)
    async with app.app_context():
        node = current_node()
        async with node.db.session() as session:
            people, actors = await seed_people(session, settings, passwords, PEOPLE, STRUCTURES)
            for data in LISTINGS:
                await create_listing(session, node, people[data["structure"]], data)
            wood = await session.scalar(
                select(Listing.id).where(Listing.title == LISTINGS[0]["title"])
            )
            first = await messages.send(
                session,
                settings,
                actors["ressourcerie_gave"],
                actors["menuiserie_lasserre"],
                MESSAGE,
                listing_id=wood,
            )
            await messages.send(  # the reply, in the same conversation
                session,
                settings,
                actors["menuiserie_lasserre"],
                actors["ressourcerie_gave"],
                REPLY,
                conversation_id=first.conversation_id,
            )
            governance = await communities.community_by_handle(session, GOVERNANCE_HANDLE)
            await communities.admit_member(
                session, people["cc_lacq_orthez"], governance, "cc_lacq_orthez"
            )
            await communities.post_local(
                session, settings, governance, actors["cc_lacq_orthez"], GOVERNANCE_POST
            )
    await node.db.dispose()
