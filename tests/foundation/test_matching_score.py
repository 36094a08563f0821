"""The matching score (``domain.matching.score``) as a table: each rule, each way round."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.matching import DEFAULT_RADIUS_KM, Side, score

ORTHEZ = (43.4886, -0.7722)
PAU = (43.2951, -0.3708)  # 37 km from Orthez
MOURENX = (43.3811, -0.6245)  # 17 km from Orthez

OFFER = Side(
    kind="offer",
    category="materials",
    modality="give",
    author="https://a.test/actors/menuiserie",
    text="Chutes de chêne massif. Planches et palettes de bois à donner.",
    lat=ORTHEZ[0],
    lon=ORTHEZ[1],
)
NEED = Side(
    kind="need",
    category="materials",
    modality="give",
    author="https://b.test/actors/atelier",
    text="Recherche palettes en bois pour un atelier de meubles",
    lat=MOURENX[0],
    lon=MOURENX[1],
)


def test_an_offer_and_the_need_it_answers_fit_either_way_round() -> None:
    fit = score(OFFER, NEED)
    assert fit is not None
    assert fit == score(NEED, OFFER)
    assert 0 < fit.score <= 1
    assert fit.distance_km == pytest.approx(17, abs=1)
    assert fit.reasons[0] == "category:materials"
    assert fit.reasons[1] == "words:palettes,bois"  # the need's words the offer has
    assert fit.reasons[2] == "distance:17km"
    assert fit.reasons[3] == "modality:give>give"


@pytest.mark.parametrize(
    ("why", "offer", "need"),
    [
        ("two offers", OFFER, replace(NEED, kind="offer")),
        ("two needs", replace(OFFER, kind="need"), NEED),
        ("another category", OFFER, replace(NEED, category="equipment")),
        ("the same structure", OFFER, replace(NEED, author=OFFER.author)),
        ("the offer fulfilled", replace(OFFER, status="fulfilled"), NEED),
        ("the need expired", OFFER, replace(NEED, status="expired")),
        ("the offer withdrawn", replace(OFFER, status="withdrawn"), NEED),
        ("no word in common", OFFER, replace(NEED, text="Cherche un tracteur")),
        ("only stop words in common", OFFER, replace(NEED, text="de et à pour")),
        ("beyond the default radius", OFFER, replace(NEED, lat=PAU[0], lon=PAU[1])),
        (
            "beyond the need's own radius",
            OFFER,
            replace(NEED, radius_km=10),
        ),
        (
            "beyond the offer's own radius",
            replace(OFFER, radius_km=10),
            NEED,
        ),
        (
            "windows that do not meet",
            replace(OFFER, available_until=date(2027, 1, 31)),
            replace(NEED, available_from=date(2027, 2, 1)),
        ),
        (
            "a sale for a need to borrow",
            replace(OFFER, modality="sell"),
            replace(NEED, modality="lend"),
        ),
        (
            "a loan for a need to buy",
            replace(OFFER, modality="lend"),
            replace(NEED, modality="sell"),
        ),
        ("barter for a gift", replace(OFFER, modality="barter"), NEED),
        (
            "a need to share met by a sale",
            replace(OFFER, modality="sell"),
            replace(NEED, modality="mutualise"),
        ),
    ],
)
def test_what_does_not_fit(why: str, offer: Side, need: Side) -> None:
    assert score(offer, need) is None, why
    assert score(need, offer) is None, why


@pytest.mark.parametrize(
    ("offer_modality", "need_modality"),
    [
        ("give", "give"),
        ("give", "sell"),  # a gift answers a need to buy
        ("give", "lend"),
        ("lend", "lend"),
        ("lend", "mutualise"),
        ("mutualise", "lend"),
        ("sell", "sell"),
        ("barter", "barter"),
    ],
)
def test_modalities_that_agree(offer_modality: str, need_modality: str) -> None:
    fit = score(replace(OFFER, modality=offer_modality), replace(NEED, modality=need_modality))
    assert fit is not None
    assert f"modality:{offer_modality}>{need_modality}" in fit.reasons


def test_the_same_modality_scores_above_a_compatible_one() -> None:
    same = score(replace(OFFER, modality="lend"), replace(NEED, modality="lend"))
    compatible = score(replace(OFFER, modality="mutualise"), replace(NEED, modality="lend"))
    assert same is not None and compatible is not None
    assert same.score > compatible.score


def test_closer_scores_higher() -> None:
    near = score(OFFER, replace(NEED, lat=ORTHEZ[0] + 0.01, lon=ORTHEZ[1]))
    far = score(OFFER, NEED)
    assert near is not None and far is not None
    assert near.score > far.score


def test_more_words_in_common_scores_higher() -> None:
    many = score(OFFER, replace(NEED, text="Planches de chêne massif et palettes en bois"))
    few = score(OFFER, replace(NEED, text="Cherche des palettes"))
    assert many is not None and few is not None
    assert many.score > few.score


def test_words_match_by_stem_and_without_accents() -> None:
    fit = score(OFFER, replace(NEED, text="une PALETTE de bois, du chene"))
    assert fit is not None
    assert fit.reasons[1] == "words:palette,bois,chene"


def test_a_listing_without_a_position_is_not_refused_on_distance() -> None:
    fit = score(OFFER, replace(NEED, lat=None, lon=None))
    placed = score(OFFER, replace(NEED, lat=ORTHEZ[0], lon=ORTHEZ[1]))
    assert fit is not None and placed is not None
    assert fit.distance_km is None
    assert "distance:unknown" in fit.reasons
    assert fit.score < placed.score


def test_the_smaller_radius_bounds_the_match() -> None:
    """17 km apart: within 20 km for both, but not within a need's 15 km."""
    assert score(replace(OFFER, radius_km=20), replace(NEED, radius_km=20)) is not None
    assert score(replace(OFFER, radius_km=50), replace(NEED, radius_km=15)) is None
    assert DEFAULT_RADIUS_KM == 30


def test_open_ended_windows_overlap() -> None:
    assert score(replace(OFFER, available_until=date(2027, 3, 1)), NEED) is not None
    assert (
        score(
            replace(OFFER, available_from=date(2027, 1, 1), available_until=date(2027, 3, 1)),
            replace(NEED, available_from=date(2027, 3, 1)),
        )
        is not None
    )  # one day in common is enough
