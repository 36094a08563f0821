"""The shared taxonomy of listing categories.

The ids are part of the public contract (docs/interface.md); labels are shown in
the UI in French and English and as hashtags in ActivityPub.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    label_fr: str
    label_en: str
    hashtag: str  # used as #hashtag in federated posts (ASCII, no spaces)

    def label(self, locale: str) -> str:
        return self.label_en if locale == "en" else self.label_fr


CATEGORIES: tuple[Category, ...] = (
    Category("equipment", "Matériel et outillage", "Equipment and tools", "materiel"),
    Category("vehicles", "Véhicules et transport", "Vehicles and transport", "vehicules"),
    Category("premises", "Locaux et stockage", "Premises and storage", "locaux"),
    Category(
        "skills",
        "Compétences et temps (mécénat de compétences)",
        "Skills and time (skills sponsorship)",
        "competences",
    ),
    Category(
        "materials",
        "Matériaux et coproduits à réemployer",
        "Materials and by-products for reuse",
        "reemploi",
    ),
    Category("services", "Services", "Services", "services"),
    Category(
        "food",
        "Alimentation et produits agricoles",
        "Food and agricultural produce",
        "alimentation",
    ),
    Category("other", "Autre", "Other", "autre"),
)

CATEGORY_IDS: tuple[str, ...] = tuple(c.id for c in CATEGORIES)
BY_ID: dict[str, Category] = {c.id: c for c in CATEGORIES}
BY_HASHTAG: dict[str, Category] = {c.hashtag: c for c in CATEGORIES}


def get_category(category_id: str) -> Category | None:
    return BY_ID.get(category_id)
