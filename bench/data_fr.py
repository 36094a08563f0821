"""French vocabularies for realistic benchmark listings, and a seeded generator.

Listings read like those a territory of Béarn / Nouvelle-Aquitaine would
publish: a farm lending a tractor, an association looking for a meeting room,
a joinery giving away offcuts. Titles and descriptions are assembled from
per-category vocabularies (``CATEGORY_VOCAB``, in ``bench/vocab_fr.py``),
placed in real communes (with approximate coordinates, jittered by a few
kilometres), and everything is drawn from a ``random.Random(seed)`` so that a
run is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from bench.vocab_fr import CATEGORY_VOCAB

# Communes of Béarn and its neighbours (Pays basque, Landes, Bigorre), with
# approximate coordinates (lat, lon) and a weight (bigger towns publish more).
COMMUNES: tuple[tuple[str, float, float, int], ...] = (
    ("Pau", 43.2951, -0.3708, 30),
    ("Billère", 43.3033, -0.3972, 6),
    ("Lons", 43.3153, -0.4097, 6),
    ("Lescar", 43.3336, -0.4347, 5),
    ("Jurançon", 43.2886, -0.3861, 5),
    ("Gan", 43.2319, -0.3869, 3),
    ("Idron", 43.2886, -0.3233, 2),
    ("Bizanos", 43.2861, -0.3497, 3),
    ("Serres-Castet", 43.3817, -0.3550, 3),
    ("Morlaàs", 43.3503, -0.2636, 3),
    ("Soumoulou", 43.2667, -0.1833, 2),
    ("Pontacq", 43.1833, -0.1167, 2),
    ("Nay", 43.1772, -0.2636, 3),
    ("Bordes", 43.2378, -0.2806, 2),
    ("Coarraze", 43.1686, -0.2331, 2),
    ("Arudy", 43.1058, -0.4264, 2),
    ("Laruns", 42.9881, -0.4272, 2),
    ("Oloron-Sainte-Marie", 43.1942, -0.6067, 8),
    ("Monein", 43.3244, -0.5756, 3),
    ("Mourenx", 43.3817, -0.6264, 4),
    ("Artix", 43.3967, -0.5722, 3),
    ("Lacq", 43.4108, -0.6247, 2),
    ("Orthez", 43.4886, -0.7722, 8),
    ("Salies-de-Béarn", 43.4742, -0.9247, 3),
    ("Sauveterre-de-Béarn", 43.4000, -0.9400, 2),
    ("Navarrenx", 43.3208, -0.7594, 2),
    ("Arthez-de-Béarn", 43.4656, -0.6122, 2),
    ("Arzacq-Arraziguet", 43.5358, -0.4103, 2),
    ("Thèze", 43.4808, -0.3483, 2),
    ("Garlin", 43.5597, -0.2689, 2),
    ("Lembeye", 43.4500, -0.1000, 2),
    ("Mauléon-Licharre", 43.2250, -0.8861, 3),
)

# The communes of the peer territories whose listings arrive by federation.
PEERS: tuple[tuple[str, tuple[tuple[str, float, float, int], ...]], ...] = (
    (
        "pays-basque.entraide.example",
        (
            ("Bayonne", 43.4929, -1.4748, 10),
            ("Anglet", 43.4850, -1.5150, 6),
            ("Biarritz", 43.4832, -1.5586, 6),
            ("Hasparren", 43.3842, -1.3047, 2),
            ("Saint-Jean-Pied-de-Port", 43.1636, -1.2375, 2),
            ("Ustaritz", 43.3992, -1.4564, 2),
        ),
    ),
    (
        "landes.entraide.example",
        (
            ("Mont-de-Marsan", 43.8902, -0.4990, 8),
            ("Dax", 43.7102, -1.0536, 8),
            ("Saint-Sever", 43.7572, -0.5739, 2),
            ("Aire-sur-l'Adour", 43.7017, -0.2628, 3),
            ("Hagetmau", 43.6578, -0.5917, 2),
        ),
    ),
    (
        "bigorre.entraide.example",
        (
            ("Tarbes", 43.2328, 0.0781, 10),
            ("Lourdes", 43.0947, -0.0458, 5),
            ("Vic-en-Bigorre", 43.3869, 0.0542, 2),
            ("Bagnères-de-Bigorre", 43.0653, 0.1494, 3),
        ),
    ),
    (
        "soule.entraide.example",
        (
            ("Tardets-Sorholus", 43.1175, -0.8628, 2),
            ("Chéraute", 43.2300, -0.8656, 1),
            ("Barcus", 43.1903, -0.7631, 1),
        ),
    ),
)


CATEGORY_WEIGHTS: dict[str, int] = {
    "equipment": 20,
    "vehicles": 10,
    "premises": 12,
    "skills": 14,
    "materials": 18,
    "services": 10,
    "food": 10,
    "other": 6,
}

MODALITY_WORDS: dict[str, str] = {
    "lend": "à prêter",
    "mutualise": "à mutualiser",
    "give": "à donner",
    "sell": "à vendre",
    "barter": "à échanger",
}
SERVICE_MODALITY_WORDS: dict[str, str] = {
    "lend": "mise à disposition",
    "mutualise": "à mutualiser",
    "give": "bénévolat",
    "sell": "prestation",
    "barter": "échange de services",
}
NEED_OPENERS = ("Recherche", "Cherche", "On cherche", "Besoin :")
GENERIC_SENTENCES = (
    "Contactez-nous par message pour organiser l'échange.",
    "Disponible rapidement.",
    "À récupérer sur place, pas de livraison possible.",
    "Nous sommes joignables du lundi au vendredi.",
    "Une contrepartie en temps ou en services est la bienvenue.",
    "Annonce publiée dans le cadre du réseau d'entraide du territoire.",
    "Merci de préciser vos dates de disponibilité.",
    "Projet soutenu par la communauté de communes.",
)
REMOTE_STRUCTURE_WORDS = (
    "Ferme",
    "Atelier",
    "Association",
    "Coopérative",
    "Ressourcerie",
    "Tiers-lieu",
    "Entreprise",
    "Menuiserie",
    "Épicerie solidaire",
)

# Words people type in the search box (folded forms and accents alike).
SEARCH_WORDS: tuple[str, ...] = (
    "tracteur",
    "palettes",
    "bois",
    "camion",
    "salle",
    "réunion",
    "vélo",
    "comptabilité",
    "légumes",
    "matériaux",
    "remorque",
    "stockage",
    "atelier",
    "livraison",
    "frigorifique",
    "tuiles",
    "formation",
    "cuisine",
    "fromage",
    "menuiserie",
    "broyeur",
    "site internet",
    "chambre froide",
    "utilitaire",
    "graphisme",
    "échafaudage",
    "miel",
    "reemploi",
    "bureau",
    "ordinateurs",
)


@dataclass
class FakeListing:
    """One generated listing (before the search columns are derived)."""

    kind: str
    title: str
    description: str
    sentences: tuple[str, ...]  # the description is these, joined by spaces
    category: str
    modality: str
    commune: str
    lat: float
    lon: float
    published_at: datetime
    status: str
    hidden: bool
    quantity: Decimal | None
    unit: str
    price_amount: Decimal | None
    available_from: date | None
    available_until: date | None
    radius_km: float | None
    origin: str | None  # None for a local listing, else the peer domain


def _weighted(rng: random.Random, pairs: dict[str, int]) -> str:
    return rng.choices(list(pairs), weights=list(pairs.values()))[0]


def _place(
    rng: random.Random, communes: tuple[tuple[str, float, float, int], ...]
) -> tuple[str, float, float]:
    name, lat, lon, _ = rng.choices(communes, weights=[c[3] for c in communes])[0]
    # Jitter of up to ~4 km: addresses spread around the commune centre.
    return name, lat + rng.uniform(-0.035, 0.035), lon + rng.uniform(-0.05, 0.05)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _forms(marked: str) -> dict[str, str]:
    """The article forms of an item ``g:noun phrase`` for the sentence templates."""
    gender, item = marked.split(":", 1)
    vowel = item[:1].lower() in "aeéèêiîoôuh"
    if gender == "p":
        le, notre, des = f"les {item}", f"nos {item}", f"des {item}"
    else:
        article = "l'" if vowel else ("le " if gender == "m" else "la ")
        partitive = "de l'" if vowel else ("du " if gender == "m" else "de la ")
        le, notre, des = article + item, f"notre {item}", partitive + item
    return {
        "item": item,
        "le": le,
        "Le": _capitalise(le),
        "notre": notre,
        "Notre": _capitalise(notre),
        "des": des,
    }


def make_listing(rng: random.Random, now: datetime, origin: str | None) -> FakeListing:
    """One realistic listing, local (``origin`` None) or from a peer territory."""
    category = _weighted(rng, CATEGORY_WEIGHTS)
    vocab = CATEGORY_VOCAB[category]
    forms = _forms(rng.choice(vocab.items))
    item = forms["item"]
    kind = "offer" if rng.random() < 0.7 else "need"
    modality = rng.choice(("lend", "lend", "mutualise", "give", "give", "sell", "barter"))
    qualifier = rng.choice(vocab.qualifiers)
    if kind == "offer":
        if category in ("skills", "services"):
            title = f"{_capitalise(item)} : {SERVICE_MODALITY_WORDS[modality]}"
        else:
            title = f"{_capitalise(item)} {MODALITY_WORDS[modality]}"
        if rng.random() < 0.4:
            title += f", {qualifier}"
    else:
        title = f"{rng.choice(NEED_OPENERS)} {item}"
        if rng.random() < 0.3:
            title += f" ({qualifier})"
    sentences = [s.format(**forms) for s in rng.sample(vocab.sentences, k=rng.randint(2, 3))]
    sentences += rng.sample(GENERIC_SENTENCES, k=rng.randint(1, 2))
    if rng.random() < 0.5:
        sentences.insert(1, f"{_capitalise(qualifier)}.")
    description = " ".join(sentences)
    if origin is None:
        commune, lat, lon = _place(rng, COMMUNES)
    else:
        communes = dict(PEERS)[origin]
        commune, lat, lon = _place(rng, communes)
    # Within the last 80 days: nothing is due for expiry (default lifetime 90 days)
    # while the benchmark runs, so the server's expiry loop leaves the data alone.
    published_at = now - timedelta(seconds=rng.randint(3_600, 80 * 86_400))
    roll = rng.random()
    status = (
        "open"
        if roll < 0.85
        else "fulfilled"
        if roll < 0.93
        else "expired"
        if roll < 0.97
        else "withdrawn"
    )
    quantity = Decimal(rng.randint(1, 500)) if rng.random() < 0.3 else None
    unit = rng.choice(vocab.units) if quantity is not None else ""
    price = Decimal(rng.randint(5, 500)) if modality == "sell" else None
    start = published_at.date() if rng.random() < 0.3 else None
    until = now.date() + timedelta(days=rng.randint(7, 120)) if start else None
    return FakeListing(
        kind=kind,
        title=title[:200],
        description=description,
        sentences=tuple(sentences),
        category=category,
        modality=modality,
        commune=commune,
        lat=round(lat, 5),
        lon=round(lon, 5),
        published_at=published_at,
        status=status,
        hidden=rng.random() < 0.003,
        quantity=quantity,
        unit=unit,
        price_amount=price,
        available_from=start,
        available_until=until,
        radius_km=float(rng.choice((5, 10, 20, 30))) if rng.random() < 0.4 else None,
        origin=origin,
    )


def generate(
    count: int, now: datetime, *, remote_share: float = 0.2, seed: int = 20_261_124
) -> Iterator[FakeListing]:
    """``count`` listings, ``remote_share`` of them from the peer territories.

    Dates are relative to ``now`` (the content depends only on ``seed``).
    """
    rng = random.Random(seed)
    domains = [domain for domain, _ in PEERS]
    for _ in range(count):
        origin = rng.choice(domains) if rng.random() < remote_share else None
        yield make_listing(rng, now, origin)


def remote_structure_name(rng: random.Random, commune: str) -> str:
    return f"{rng.choice(REMOTE_STRUCTURE_WORDS)} de {commune}"
