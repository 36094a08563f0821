"""Whether an offer answers a need, and how well: a pure function, tested as a table.

:func:`score` takes two listings described as :class:`Side` (plain values, no
database) and returns a :class:`Fit` — a score between 0 and 1 and the reasons a
person reads (« 3 mots en commun : palette, bois, chêne », « 12 km ») — or
``None`` when they do not fit.

They do not fit (a hard rule each) unless:

* one is an offer and the other a need;
* they are in the same category;
* they belong to different structures (different authors);
* both are open (not expired, fulfilled or withdrawn);
* their availability windows overlap (an absent bound is open-ended);
* their modalities agree (:data:`SATISFIES`: a gift answers any need, a loan
  answers a need to borrow or to share, a sale a need to buy, barter barter);
* each lies within the other's radius (:data:`DEFAULT_RADIUS_KM` when it has
  none); a listing without a position is not refused on distance, but loses
  the distance part of the score;
* they share at least one word by its French or English stem (the search's own
  stemming, ``domain.textsearch``): the category alone is too weak a reason
  to tell two structures they should talk.

The score weighs (:data:`WEIGHTS`, summing to 1): the words in common (the
overlap coefficient of the two sets of stems: shared ÷ the smaller set), how
close they are (1 at the same place, 0 at the edge of the smaller radius;
half when a position is unknown), the same modality rather than a compatible
one, and a known overlap of the windows rather than open ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from domain.textsearch import stems_of, words

DEFAULT_RADIUS_KM = 30.0
MIN_SCORE = 0.15
WEIGHTS = {"words": 0.5, "distance": 0.3, "modality": 0.1, "window": 0.1}
# The offers' modalities that a need of each modality accepts (a gift answers any need).
SATISFIES: dict[str, frozenset[str]] = {
    "give": frozenset({"give"}),
    "lend": frozenset({"lend", "mutualise", "give"}),
    "mutualise": frozenset({"mutualise", "lend", "give"}),
    "sell": frozenset({"sell", "give"}),
    "barter": frozenset({"barter", "give"}),
}
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Side:
    """One listing, as matching sees it."""

    kind: str  # offer | need
    category: str
    modality: str
    author: str  # the actor's id: two listings of one structure never match
    text: str  # title and description
    status: str = "open"
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    available_from: date | None = None
    available_until: date | None = None

    @cached_property
    def folded_words(self) -> tuple[str, ...]:
        """Its folded words without stop words (computed once, as the stems)."""
        return tuple(words(self.text))

    @cached_property
    def stems(self) -> frozenset[str]:
        """Its French and English stems (computed once: a listing is scored against up to
        200 candidates, each read several times)."""
        return frozenset(stem for word in self.folded_words for stem in stems_of(word))

    @property
    def reach_km(self) -> float:
        return self.radius_km if self.radius_km and self.radius_km > 0 else DEFAULT_RADIUS_KM


@dataclass(frozen=True)
class Fit:
    score: float
    reasons: tuple[str, ...]
    distance_km: float | None


def distance_km(a: Side, b: Side) -> float | None:
    """Great-circle distance (haversine), or None when either has no position."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _windows_overlap(a: Side, b: Side) -> bool:
    start = max((d for d in (a.available_from, b.available_from) if d), default=None)
    end = min((d for d in (a.available_until, b.available_until) if d), default=None)
    return start is None or end is None or start <= end


def _shared_words(a: Side, b: Side) -> list[str]:
    """The words of ``a`` that ``b`` has too (by any of their stems), in ``a``'s order."""
    theirs = b.stems
    shared: list[str] = []
    for word in a.folded_words:
        if word not in shared and any(stem in theirs for stem in stems_of(word)):
            shared.append(word)
    return shared


def score(a: Side, b: Side) -> Fit | None:
    """How well ``a`` and ``b`` (an offer and a need, either way round) fit, or None."""
    if {a.kind, b.kind} != {"offer", "need"}:
        return None
    offer, need = (a, b) if a.kind == "offer" else (b, a)
    if a.category != b.category or a.author == b.author:
        return None
    if a.status != "open" or b.status != "open":
        return None
    if not _windows_overlap(a, b):
        return None
    if offer.modality not in SATISFIES.get(need.modality, frozenset()):
        return None
    distance = distance_km(a, b)
    reach = min(a.reach_km, b.reach_km)
    if distance is not None and distance > reach:
        return None
    shared = _shared_words(need, offer)
    if not shared:
        return None
    smaller = min(len(a.stems), len(b.stems)) or 1
    common_stems = len(a.stems & b.stems)
    parts = {
        "words": min(1.0, common_stems / smaller),
        "distance": 0.5 if distance is None else 1.0 - distance / reach,
        "modality": 1.0 if offer.modality == need.modality else 0.5,
        "window": 1.0
        if (a.available_from or a.available_until) and (b.available_from or b.available_until)
        else 0.5,
    }
    total = round(sum(WEIGHTS[k] * v for k, v in parts.items()), 3)
    if total < MIN_SCORE:
        return None
    reasons = [f"category:{a.category}", "words:" + ",".join(shared[:5])]
    reasons.append("distance:unknown" if distance is None else f"distance:{distance:.0f}km")
    reasons.append(f"modality:{offer.modality}>{need.modality}")
    return Fit(score=total, reasons=tuple(reasons), distance_km=distance)
