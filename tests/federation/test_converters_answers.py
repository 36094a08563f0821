"""The converters by direction (continued): Accept, Undo and a community's Announce.

As in ``test_converters.py``: a real-world shape read, a malformed one refused with
``MalformedObject``, what we send read back as what we wrote, and the fallbacks the
handlers rely on (an embedded term that is not an id string is left None). No database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.exchanges import Exchange
from federation.models import Follow
from inbox.from_ap import (
    AnnounceData,
    AnswerData,
    MalformedObject,
    UndoData,
    announce_from_ap,
    answer_from_ap,
    undo_from_ap,
)
from outbox.to_ap.communities import undo_announce
from outbox.to_ap.exchanges import answer_body
from outbox.to_ap.follows import answer_follow, undo_follow
from tests.federation.conversions import SETTINGS, WHEN, actor, payload

# ------------------------------------------------------------------ Accept


def test_a_mastodon_accept_names_the_follow_and_its_follower() -> None:
    activity = payload("mastodon_accept_follow")
    assert answer_from_ap(activity) == AnswerData(
        type="Accept",
        id=activity["id"],
        actor="https://mastodon.example/users/alice",
        object_id="https://entraide.example/activities/follow/41",
        follower="https://entraide.example/u/ferme-du-bosc",
        names_result=False,
        result=None,
    )


@pytest.mark.parametrize("kind", ["Accept", "Reject"])
def test_our_answer_to_a_follow_reads_back(kind: str) -> None:
    local, remote = actor("menuiserie"), actor("atelier", "b.test")
    follow = Follow(follower=remote, followed=local, activity_uri="https://b.test/follows/1")
    answer = answer_from_ap(answer_follow(SETTINGS, follow, kind))
    assert (answer.type, answer.actor, answer.object_id, answer.follower) == (
        kind, local.uri, follow.activity_uri, remote.uri,
    )  # fmt: skip


def test_an_accept_of_an_offer_names_its_agreement() -> None:
    proposer, responder = actor("menuiserie"), actor("atelier", "b.test")
    exchange = Exchange(
        ap_id="https://a.test/agreements/5",
        offer_ap_id="https://a.test/activities/5",
        listing_ap_id="https://b.test/listings/42",
        proposer=proposer,
        responder=responder,
        quantity=Decimal("1"),
        created_at=WHEN,
    )
    accept = answer_from_ap(answer_body(SETTINGS, exchange, "accept", responder))
    assert (accept.object_id, accept.names_result, accept.result) == (
        exchange.offer_ap_id, True, exchange.ap_id,
    )  # fmt: skip
    assert accept.follower is None


def test_an_accept_by_link_or_with_an_embedded_actor_or_result_keeps_the_fallbacks() -> None:
    base = payload("mastodon_accept_follow")
    by_link = answer_from_ap({**base, "object": "https://entraide.example/activities/follow/41"})
    assert (by_link.object_id, by_link.follower) == (
        "https://entraide.example/activities/follow/41", None,
    )  # fmt: skip
    embedded_actor = {**base["object"], "actor": {"id": "https://entraide.example/u/x"}}
    assert answer_from_ap({**base, "object": embedded_actor}).follower is None
    odd_result = answer_from_ap({**base, "result": {"id": "https://a.test/agreements/5"}})
    assert (odd_result.names_result, odd_result.result) == (True, None)


@pytest.mark.parametrize(
    "change",
    [{"actor": None}, {"id": None}, {"type": "Follow"}, {"id": ["https://a.test/1"]}],
)
def test_an_answer_without_id_actor_or_type_is_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedObject, match="Accept or Reject needs"):
        answer_from_ap({**payload("mastodon_accept_follow"), **change})


# ------------------------------------------------------------------ Undo


def test_a_mastodon_undo_names_the_follow_and_the_followed() -> None:
    activity = payload("mastodon_undo_follow")
    assert undo_from_ap(activity) == UndoData(
        id=activity["id"],
        actor="https://mastodon.example/users/alice",
        object_id="https://mastodon.example/8e6a3a5c-0f0e-4a55-9a8b-52b6f0d2d3a1",
        object_type="Follow",
        followed="https://entraide.example/u/ferme-du-bosc",
        announced="https://entraide.example/u/ferme-du-bosc",
    )


def test_our_undos_read_back() -> None:
    local, remote = actor("menuiserie"), actor("atelier", "b.test")
    follow = Follow(follower=local, followed=remote, activity_uri="https://a.test/follows/1")
    undo = undo_from_ap(undo_follow(SETTINGS, follow))
    assert (undo.actor, undo.object_type, undo.followed) == (local.uri, "Follow", remote.uri)
    group = actor("outils", kind="Group")
    body = undo_announce(SETTINGS, group, "https://a.test/announces/3", "https://a.test/posts/3")
    taken_back = undo_from_ap(body)
    assert (taken_back.object_id, taken_back.object_type, taken_back.announced) == (
        "https://a.test/announces/3", "Announce", "https://a.test/posts/3",
    )  # fmt: skip


def test_an_undo_by_link_or_of_an_embedded_object_keeps_the_fallbacks() -> None:
    base = payload("mastodon_undo_follow")
    by_link = undo_from_ap({**base, "object": "https://mastodon.example/follows/1"})
    assert (by_link.object_id, by_link.object_type, by_link.followed, by_link.announced) == (
        "https://mastodon.example/follows/1", None, None, None,
    )  # fmt: skip
    inner = {**base["object"], "type": ["Announce", 7], "object": {"id": "https://b.test/p/1"}}
    embedded = undo_from_ap({**base, "object": inner})
    assert (embedded.object_type, embedded.followed, embedded.announced) == (
        "Announce", None, "https://b.test/p/1",
    )  # fmt: skip


def test_an_undo_without_actor_is_malformed() -> None:
    with pytest.raises(MalformedObject, match="Undo needs"):
        undo_from_ap({**payload("mastodon_undo_follow"), "actor": None})


# ------------------------------------------------------------------ Announce


@pytest.mark.parametrize(
    ("name", "post"),
    [
        ("lemmy_announce_create_page", "https://ds9.lemmy.ml/post/1"),
        ("entraide_announce_community_create", "https://entraide.example/posts/9"),
        ("mastodon_announce", "https://entraide.example/listings/42"),
    ],
)
def test_an_announce_names_the_post_it_shares(name: str, post: str) -> None:
    activity = payload(name)
    assert announce_from_ap(activity) == AnnounceData(
        id=activity["id"], actor=activity["actor"], post=post
    )


def test_an_announce_of_a_create_without_object_names_nothing() -> None:
    activity = payload("lemmy_announce_create_page")
    inner = {k: v for k, v in activity["object"].items() if k != "object"}
    assert announce_from_ap({**activity, "object": inner}).post is None
    other = {**activity["object"], "type": "Update"}
    assert announce_from_ap({**activity, "object": other}).post == other["id"]


def test_an_announce_without_id_is_malformed() -> None:
    with pytest.raises(MalformedObject, match="Announce needs"):
        announce_from_ap({**payload("mastodon_announce"), "id": None})
