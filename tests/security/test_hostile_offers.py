"""Hostile exchange proposals: an ``Offer{Agreement}`` with absurd, missing or borrowed
values. ``inbox.from_ap.offer_from_ap`` must refuse it whole (MalformedObject, nothing
stored) or bound it; never a half-read proposal."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from inbox.from_ap import MalformedObject, agreement_of_event, offer_from_ap
from inbox.from_ap.exchanges import MESSAGE_MAX

ACTOR = "https://b.test/actors/atelier"
LISTING = "https://a.test/listings/7"


def offer(**agreement: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "https://b.test/activities/1",
        "type": "Offer",
        "actor": ACTOR,
        "object": {
            "id": "https://b.test/agreements/1",
            "type": "Agreement",
            "attributedTo": ACTOR,
            "stipulates": {
                "type": "Commitment",
                "satisfies": f"{LISTING}#primary",
                "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "12"},
            },
            "entraide:listing": LISTING,
            "entraide:value": {"amount": "30", "currency": "EUR"},
            "content": "<p>Bonjour</p>",
        },
    }
    body["object"].update(agreement)
    return body


def test_a_well_formed_offer_is_read() -> None:
    data = offer_from_ap(offer(), ACTOR)
    assert data is not None
    assert (data.listing, data.quantity, data.value_amount, data.value_currency) == (
        LISTING, Decimal("12"), Decimal("30"), "EUR",
    )  # fmt: skip
    assert data.message == "Bonjour"


def _quantity(value: Any) -> dict[str, Any]:
    return {
        "type": "Commitment",
        "satisfies": f"{LISTING}#primary",
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": value},
    }


ABSURD = {
    "negative quantity": {"stipulates": _quantity("-5")},
    "zero quantity": {"stipulates": _quantity("0")},
    "quantity NaN": {"stipulates": _quantity("NaN")},
    "quantity Infinity": {"stipulates": _quantity("Infinity")},
    "quantity of 400 digits": {"stipulates": _quantity("9" * 400)},
    "quantity an object": {"stipulates": _quantity({"x": 1})},
    "value negative": {"entraide:value": {"amount": "-1", "currency": "EUR"}},
    "value a billion": {"entraide:value": {"amount": "1000000000", "currency": "EUR"}},
    "value a word": {"entraide:value": {"amount": "beaucoup", "currency": "EUR"}},
    "currency not a code": {"entraide:value": {"amount": "5", "currency": "euros"}},
    "value a string": {"entraide:value": "30 EUR"},
    "agreement id on another server": {"id": "https://a.test/agreements/1"},
    "agreement id not a URL": {"id": "javascript:alert(1)"},
    "attributed to someone else": {"attributedTo": "https://c.test/actors/intrus"},
    "two different listings named": {"entraide:listing": "https://a.test/listings/8"},
    "no listing at all": {"stipulates": None, "entraide:listing": None},
    "not an Agreement": {"type": "Note"},
}


@pytest.mark.parametrize("changes", list(ABSURD.values()), ids=list(ABSURD))
def test_offer_with_absurd_or_borrowed_values_is_refused(changes: dict[str, Any]) -> None:
    """Attack: a proposal carrying a value no exchange can have, or claiming another
    server's agreement or another author. Refused whole: nothing half-read is stored."""
    with pytest.raises(MalformedObject):
        offer_from_ap(offer(**changes), ACTOR)


def test_offer_with_oversized_message_and_unit_is_bounded() -> None:
    """Attack: a 1 MB message of markup and a 10 kB unit. The message becomes plain text
    of at most MESSAGE_MAX characters, the unit 32; coordinates off the globe are dropped."""
    data = offer_from_ap(
        offer(
            content="<script>alert(1)</script>" + "<p>x</p>" * 130_000,
            **{"entraide:unit": "k" * 10_000},
            location={"type": "Place", "latitude": 95, "longitude": 2},
        ),
        ACTOR,
    )
    assert data is not None
    assert len(data.message) <= MESSAGE_MAX and "<" not in data.message
    assert "alert" not in data.message
    assert len(data.unit) == 32
    assert (data.lat, data.lon) == (None, None)


def test_economic_event_names_its_agreement_or_nothing() -> None:
    event = {"type": "EconomicEvent", "realizationOf": "https://b.test/agreements/1"}
    assert agreement_of_event(event) == "https://b.test/agreements/1"
    only = {"type": "EconomicEvent", "fulfills": "https://b.test/agreements/1#commitment"}
    assert agreement_of_event(only) == "https://b.test/agreements/1"
    assert agreement_of_event({"type": "Note", "realizationOf": "https://b.test/a"}) is None
    assert agreement_of_event({"type": "EconomicEvent", "realizationOf": "ftp://x"}) is None
    assert agreement_of_event(copy.deepcopy({"type": "EconomicEvent"})) is None
