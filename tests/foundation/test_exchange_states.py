"""The exchange state machine (``domain.exchanges.transition``) as a table: every
(state, action, side) is either an allowed change to a given state or a typed refusal."""

from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest

from domain.exchanges import (
    ACTIONS,
    STATES,
    TRANSITIONS,
    Action,
    NotAllowedNow,
    NotYourTurn,
    Side,
    State,
    transition,
)
from domain.impact import counts_as_reuse, distance_between, impact_of

ALLOWED: list[tuple[State, Side | None, Action, Side, State, Side | None]] = [
    # state, done marked by, action, side -> state, done marked by
    ("proposed", None, "accept", "responder", "accepted", None),
    ("proposed", None, "decline", "responder", "declined", None),
    ("proposed", None, "withdraw", "proposer", "withdrawn", None),
    ("accepted", None, "done", "proposer", "accepted", "proposer"),
    ("accepted", None, "done", "responder", "accepted", "responder"),
    ("accepted", "proposer", "done", "responder", "done", "proposer"),
    ("accepted", "responder", "done", "proposer", "done", "responder"),
    ("accepted", None, "cancel", "proposer", "cancelled", None),
    ("accepted", None, "cancel", "responder", "cancelled", None),
    ("accepted", "proposer", "cancel", "responder", "cancelled", "proposer"),
]


@pytest.mark.parametrize(("state", "marked", "action", "side", "after", "after_marked"), ALLOWED)
def test_allowed_changes(
    state: State,
    marked: Side | None,
    action: Action,
    side: Side,
    after: State,
    after_marked: Side | None,
) -> None:
    step = transition(state, marked, action, side)
    assert (step.state, step.done_marked_by) == (after, after_marked)
    assert step.completed is (after == "done")


WRONG_SIDE = [
    ("proposed", None, "accept", "proposer"),  # a proposer accepting its own offer
    ("proposed", None, "decline", "proposer"),
    ("proposed", None, "withdraw", "responder"),
]


@pytest.mark.parametrize(("state", "marked", "action", "side"), WRONG_SIDE)
def test_the_other_partys_move_is_not_your_turn(
    state: State, marked: Side | None, action: Action, side: Side
) -> None:
    with pytest.raises(NotYourTurn):
        transition(state, marked, action, side)


@pytest.mark.parametrize(("state", "action"), list(product(STATES, ACTIONS)))
def test_someone_who_is_not_a_party_may_never_change_it(state: State, action: Action) -> None:
    with pytest.raises(NotYourTurn):
        transition(state, None, action, None)


REFUSED_STATES = [
    (state, action)
    for state, action in product(STATES, ACTIONS)
    if (state, action) not in TRANSITIONS
]


@pytest.mark.parametrize(("state", "action"), REFUSED_STATES)
@pytest.mark.parametrize("side", ["proposer", "responder"])
def test_a_change_not_allowed_from_the_state_is_refused(
    state: State, action: Action, side: Side
) -> None:
    with pytest.raises(NotAllowedNow):
        transition(state, None, action, side)


@pytest.mark.parametrize("side", ["proposer", "responder"])
def test_marking_done_twice_from_one_side_waits_for_the_other(side: Side) -> None:
    with pytest.raises(NotAllowedNow):
        transition("accepted", side, "done", side)


def test_every_pair_is_covered() -> None:
    """The table above and the refusals cover every (state, action)."""
    covered = {(s, a) for s, _m, a, _side, _after, _am in ALLOWED} | set(REFUSED_STATES)
    assert covered == set(product(STATES, ACTIONS))
    assert len(REFUSED_STATES) == len(STATES) * len(ACTIONS) - len(TRANSITIONS)


@pytest.mark.parametrize(
    ("category", "modality", "reuse"),
    [
        ("equipment", "lend", True),
        ("food", "give", True),
        ("premises", "mutualise", True),
        ("skills", "barter", True),
        ("materials", "sell", True),  # a second-hand sale is reuse
        ("equipment", "sell", True),
        ("food", "sell", False),
        ("services", "sell", False),
    ],
)
def test_what_counts_as_reuse(category: str, modality: str, reuse: bool) -> None:
    assert counts_as_reuse(category, modality) is reuse


def test_impact_of_a_value_in_euros_and_in_another_currency() -> None:
    euros = impact_of(
        category="materials", modality="give", value_amount=Decimal("100"),
        value_currency="EUR", distance_km=12.34567,
    )  # fmt: skip
    assert euros.value_eur == Decimal("100")
    assert euros.co2e_kg is not None and euros.co2e_kg > 0
    assert euros.distance_km == 12.346
    francs = impact_of(
        category="materials", modality="give", value_amount=Decimal("100"),
        value_currency="CHF", distance_km=None,
    )  # fmt: skip
    assert (francs.value_eur, francs.co2e_kg, francs.distance_km) == (None, None, None)
    sale = impact_of(
        category="food", modality="sell", value_amount=Decimal("100"),
        value_currency="EUR", distance_km=None,
    )  # fmt: skip
    assert sale.value_eur == Decimal("100") and sale.co2e_kg is None


def test_distance_between_orthez_and_mourenx() -> None:
    distance = distance_between((43.4886, -0.7722), (43.3811, -0.6247))
    assert distance is not None and 15 < distance < 18
    assert distance_between((None, None), (43.0, 0.0)) is None
