"""The converters by direction (continued): reports, follows, exchanges.

As in ``test_converters.py``: a real-world shape read, a malformed one refused with
``MalformedObject``, and what we send read back as what we wrote. No database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.exchanges import ACTIONS, Exchange
from domain.social import Report
from domain.vocabulary import EXCHANGE_ACTION_OF, EXCHANGE_ACTIVITIES
from federation.models import Follow
from federation.vocab import AS_CONTEXT
from inbox.activity import Incoming
from inbox.from_ap import (
    FlagData,
    MalformedObject,
    OfferData,
    agreement_of_event,
    flag_from_ap,
    offer_from_ap,
)
from outbox.to_ap.exchanges import answer_body, offer_activity
from outbox.to_ap.follows import answer_follow, follow_activity, undo_follow
from outbox.to_ap.reports import flag_activity
from tests.federation.conversions import SETTINGS, WHEN, actor, payload

# ------------------------------------------------------------------ reports


@pytest.mark.parametrize("name", ["gotosocial_flag", "mastodon_flag"])
def test_a_flag_is_read(name: str) -> None:
    activity = payload(name)
    flag = flag_from_ap(activity)
    assert flag.id == activity["id"] and flag.actor == activity["actor"]
    assert flag.objects and all(o.startswith("https://") for o in flag.objects)
    assert flag.reason == (activity.get("content") or "")[:5000]


def test_a_flag_without_actor_is_malformed() -> None:
    activity = {**payload("gotosocial_flag"), "actor": None}
    with pytest.raises(MalformedObject):
        flag_from_ap(activity)


def test_a_forwarded_report_reads_back_as_written() -> None:
    territory, target = actor("territory", kind="Application"), actor("atelier", "b.test")
    report = Report(objects=["https://b.test/listings/3", target.uri], reason="Arnaque")
    body = flag_activity(SETTINGS, territory, report, target)
    assert flag_from_ap(body) == FlagData(
        id=body["id"],
        actor=territory.uri,
        objects=(target.uri, "https://b.test/listings/3"),
        reason="Arnaque",
    )


# ------------------------------------------------------------------ follows


def test_follow_answers_embed_the_follow_they_answer() -> None:
    local, remote = actor("menuiserie"), actor("atelier", "b.test")
    follow = Follow(follower=remote, followed=local, activity_uri="https://b.test/follows/1")
    request = Incoming.parse(follow_activity(SETTINGS, remote, local))
    assert (request.type, request.actor, request.object_id) == ("Follow", remote.uri, local.uri)
    for kind in ("Accept", "Reject"):
        answer = Incoming.parse(answer_follow(SETTINGS, follow, kind))
        assert (answer.actor, answer.object_id, answer.to) == (
            local.uri, follow.activity_uri, [remote.uri],
        )  # fmt: skip
        assert answer.object == {
            "id": follow.activity_uri,
            "type": "Follow",
            "actor": remote.uri,
            "object": local.uri,
        }
    undo = Incoming.parse(undo_follow(SETTINGS, follow))
    assert (undo.actor, undo.object_type, undo.to) == (remote.uri, "Follow", [local.uri])


# ------------------------------------------------------------------ exchanges


def an_exchange() -> Exchange:
    proposer, responder = actor("menuiserie"), actor("atelier", "b.test")
    return Exchange(
        ap_id="https://a.test/agreements/5",
        offer_ap_id="https://a.test/activities/5",
        listing_ap_id="https://b.test/listings/42",
        proposer=proposer,
        responder=responder,
        quantity=Decimal("20"),
        unit="kg",
        value_amount=Decimal("50.00"),
        value_currency="EUR",
        message="Bonjour,\n\nje prends 20 kg.",
        created_at=WHEN,
    )


def test_an_offer_reads_back_as_written() -> None:
    exchange = an_exchange()
    body = offer_activity(SETTINGS, exchange, (43.3, -0.4))
    assert body["@context"][0] == AS_CONTEXT
    assert offer_from_ap(body, exchange.proposer.uri) == OfferData(
        offer_id=exchange.offer_ap_id,
        ap_id=exchange.ap_id,
        proposer=exchange.proposer.uri,
        listing=exchange.listing_ap_id,
        quantity=Decimal("20.000"),
        unit="kg",
        value_amount=Decimal("50.00"),
        value_currency="EUR",
        message="Bonjour,\n\nje prends 20 kg.",
        lat=43.3,
        lon=-0.4,
    )


def test_an_offer_by_another_actor_is_malformed() -> None:
    exchange = an_exchange()
    body = offer_activity(SETTINGS, exchange, (None, None))
    with pytest.raises(MalformedObject, match="its actor's server"):
        offer_from_ap(body, "https://c.test/actors/eve")


@pytest.mark.parametrize("action", ACTIONS)
def test_each_change_of_an_exchange_reads_back_as_the_same_change(action: Any) -> None:
    """What ``answer_body`` sends is what ``inbox.exchanges.route`` maps back to the action."""
    exchange = an_exchange()
    body = answer_body(SETTINGS, exchange, action, exchange.proposer)
    act = Incoming.parse(body)
    target = agreement_of_event(act.object) if act.type == "Create" else act.object_id
    about = "offer" if target == exchange.offer_ap_id else "agreement"
    assert target in (exchange.offer_ap_id, exchange.ap_id)
    assert EXCHANGE_ACTION_OF[(act.type, about)] == action
    assert set(EXCHANGE_ACTIVITIES) == set(ACTIONS)


def test_a_done_event_names_its_agreement() -> None:
    exchange = an_exchange()
    body = answer_body(SETTINGS, exchange, "done", exchange.proposer)
    assert agreement_of_event(body["object"]) == exchange.ap_id
    accept = answer_body(SETTINGS, exchange, "accept", exchange.responder)
    assert (accept["object"], accept["result"]) == (exchange.offer_ap_id, exchange.ap_id)
