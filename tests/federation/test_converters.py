"""The converters by direction, as plain functions: no database, no app, no network.

Listings, direct messages and community posts here; reports, follows and exchanges
in ``test_converters_exchanges.py``.

For each object we exchange: the incoming converter (``inbox/from_ap``) reads a
real-world shape (``tests/fixtures/payloads`` where there is one) and refuses a
malformed one with ``MalformedObject``; where both directions exist, what we
send reads back as what we wrote (``from_ap(to_ap(x)) == x``).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.categories import CATEGORY_IDS
from domain.models import LISTING_KINDS, MODALITIES, Listing, Structure
from domain.social import Conversation, Message, Post
from domain.vocabulary import (
    CURRENCY_BY_ITEM,
    CURRENCY_ITEMS,
    KIND_BY_PURPOSE,
    MODALITY_BY_HASHTAG,
    MODALITY_HASHTAGS,
    PURPOSES,
)
from federation.models import Actor
from federation.vocab import PUBLIC
from inbox.activity import Incoming
from inbox.from_ap import (
    MalformedObject,
    NoteData,
    PostData,
    listing_from_ap,
    note_from_ap,
    post_from_ap,
)
from outbox.to_ap.communities import announce_create, undo_announce
from outbox.to_ap.listings import create_listing, delete_listing, listing_object
from outbox.to_ap.notes import create_message, create_post, message_html, note_of, post_note
from tests.federation.conversions import SETTINGS, WHEN, actor, payload


def a_listing(**changes: Any) -> Listing:
    author = actor("menuiserie")
    fields: dict[str, Any] = {
        "ap_id": "https://a.test/listings/42",
        "url": "https://a.test/listings/42",
        "kind": "offer",
        "title": "Perceuse à prêter",
        "description": "Une perceuse.\n\nÀ venir chercher.",
        "category": "equipment",
        "modality": "lend",
        "quantity": Decimal("2"),
        "unit": "pièces",
        "price_amount": None,
        "price_currency": "",
        "available_from": date(2026, 3, 1),
        "available_until": date(2026, 4, 1),
        "commune": "Orthez",
        "lat": 43.49,
        "lon": -0.77,
        "radius_km": 10.0,
        "status": "open",
        "published_at": WHEN,
        "updated_at": WHEN,
    }
    fields.update(changes)
    listing = Listing(**fields)
    listing.structure = Structure(actor=author)
    listing.author = author
    return listing


# ------------------------------------------------------------------ one source per table


def test_tables_of_both_directions_are_inverse_and_complete() -> None:
    assert set(MODALITY_HASHTAGS) == set(MODALITIES)
    assert {MODALITY_BY_HASHTAG[tag] for tag in MODALITY_HASHTAGS.values()} == set(MODALITIES)
    assert set(PURPOSES) == set(LISTING_KINDS)
    assert {KIND_BY_PURPOSE[p] for p in PURPOSES.values()} == set(LISTING_KINDS)
    for code, item in CURRENCY_ITEMS.items():
        assert CURRENCY_BY_ITEM[item.rsplit("/", 1)[-1]] == code


def test_the_activitystreams_context_is_written_once() -> None:
    """``AS_CONTEXT`` and ``PUBLIC`` are spelled out in ``federation/vocab.py`` only."""
    root = Path(__file__).parent.parent.parent
    # As a value in code (``X = "…"``, ``"@context": "…"``, ``{"…"``), not a mention in a
    # docstring such as ``profile="…"``.
    spelled = re.compile(
        r"(=\s+|:\s*|[({\[,]\s*)[\"']https://www\.w3\.org/ns/activitystreams(#Public)?[\"']"
    )
    found = [
        str(path.relative_to(root))
        for package in ("config", "federation", "domain", "actors", "outbox", "inbox", "instance")
        for path in (root / package).rglob("*.py")
        if spelled.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["federation/vocab.py"]


# ------------------------------------------------------------------ listings


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"modality": "sell", "price_amount": Decimal("12.50"), "price_currency": "CHF"},
        {"modality": "sell", "price_amount": Decimal("3.00"), "price_currency": "SEK"},
        {"kind": "need", "modality": "give", "quantity": None, "unit": "", "status": "fulfilled"},
        {"category": "skills", "modality": "mutualise", "lat": None, "lon": None},
        {"modality": "barter", "radius_km": None, "available_from": None},
    ],
    ids=["lend", "sell-chf", "sell-iso", "need-fulfilled", "skills-no-place", "barter"],
)
def test_a_listing_reads_back_as_written(changes: dict[str, Any]) -> None:
    listing = a_listing(**changes)
    data = listing_from_ap(listing_object(listing, SETTINGS, with_context=True))
    assert data is not None
    assert (data.ap_id, data.url, data.author) == (
        listing.ap_id,
        listing.url,
        "https://a.test/actors/menuiserie",
    )
    for name in (
        "kind", "title", "description", "category", "modality", "quantity", "unit",
        "price_amount", "price_currency", "available_from", "available_until", "commune",
        "lat", "lon", "radius_km", "status",
    ):  # fmt: skip
        expected = getattr(listing, name)
        if name == "quantity" and expected is None:
            expected = Decimal(1)  # FEP-0837 needs a resourceQuantity: one unit when unsaid
        if name == "radius_km" and listing.lat is None:
            expected = None  # a radius is sent with coordinates only
        assert getattr(data, name) == expected, name
    assert (data.published, data.updated) == (WHEN, WHEN)


def test_a_fep0837_proposal_is_a_listing() -> None:
    data = listing_from_ap(payload("fep0837_proposal_full"))
    assert data is not None
    assert data.kind in LISTING_KINDS and data.category in CATEGORY_IDS
    assert data.modality in MODALITIES and data.title


def test_a_listing_without_id_is_malformed() -> None:
    obj = listing_object(a_listing(), SETTINGS)
    del obj["id"]
    with pytest.raises(MalformedObject, match="needs an id"):
        listing_from_ap(obj)


def test_create_and_delete_of_a_listing_read_as_activities() -> None:
    listing = a_listing()
    create = Incoming.parse(create_listing(SETTINGS, listing))
    assert (create.type, create.actor, create.object_id) == (
        "Create", "https://a.test/actors/menuiserie", listing.ap_id,
    )  # fmt: skip
    delete = Incoming.parse(delete_listing(SETTINGS, listing, WHEN))
    assert (delete.type, delete.object_type, delete.object_id) == (
        "Delete",
        "Tombstone",
        listing.ap_id,
    )
    assert delete.to == [PUBLIC]


# ------------------------------------------------------------------ direct messages


def test_a_mastodon_direct_message_is_read() -> None:
    activity = payload("mastodon_create_note_direct")
    note = note_from_ap(activity["object"], activity["actor"])
    assert note.id == activity["object"]["id"]
    assert note.author == "https://mastodon.example/users/alice"
    assert "https://entraide.example/u/ferme-du-bosc" in note.addresses
    assert PUBLIC not in note.addresses
    assert "<script" not in note.content_html and note.text(5000)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"attributedTo": "https://elsewhere.example/users/eve"}, "attributed to another actor"),
        ({"attributedTo": None}, "attributed to another actor"),
        ({"id": None}, "note without id"),
    ],
)
def test_a_malformed_note_is_refused(changes: dict[str, Any], reason: str) -> None:
    activity = payload("mastodon_create_note_direct")
    obj = {**activity["object"], **changes}
    with pytest.raises(MalformedObject, match=reason):
        note_from_ap(obj, activity["actor"])


def test_a_message_reads_back_as_written() -> None:
    sender, recipient = actor("menuiserie"), actor("atelier", "b.test")
    listing = a_listing()
    message = Message(
        ap_id="https://a.test/messages/1",
        author=sender,
        content_html=message_html(recipient, "Bonjour,\nencore dispo ?", listing),
        in_reply_to="https://b.test/messages/0",
        published_at=WHEN,
        conversation=Conversation(context="https://a.test/conversations/9"),
    )
    create = create_message(SETTINGS, message, recipient, listing)
    assert (create["to"], "cc" in create) == ([recipient.uri], False)
    read = note_from_ap(create["object"], sender.uri)
    assert read == NoteData(
        id=message.ap_id,
        author=sender.uri,
        addresses=(recipient.uri,),
        content_html=read.content_html,
        in_reply_to=message.in_reply_to,
        context="https://a.test/conversations/9",
        listing=listing.ap_id,
    )
    assert read.text(5000).startswith("@atelier Bonjour,")
    assert note_of(message, [recipient], None).get("entraide:listing") is None


# ------------------------------------------------------------------ community posts


def a_post(group: Actor, author: Actor) -> Post:
    return Post(
        ap_id=f"https://{author.domain}/posts/7",
        content_html="<p>Qui a un escabeau ?</p>",
        published_at=WHEN,
        group=group,
        author=author,
    )


def test_a_post_reads_back_as_written() -> None:
    group, author = actor("jardins", "b.test", "Group"), actor("menuiserie", "b.test")
    post = a_post(group, author)
    note = post_note(post, group, author)
    read = post_from_ap(note, fetched_at=post.ap_id, group=group.uri)
    assert read == PostData(
        id=post.ap_id,
        author=author.uri,
        content_html="<p>Qui a un escabeau ?</p>",
        content_text="Qui a un escabeau ?",
    )
    # The member's Create names the group as its audience; the group announces it whole.
    create = create_post(SETTINGS, post, group, author)
    assert create["audience"] == group.uri and create["object"] == note
    announce = announce_create(SETTINGS, group, create)
    assert announce["object"] is create and announce["cc"] == [group.followers_url]
    undo = Incoming.parse(undo_announce(SETTINGS, group, announce["id"], post.ap_id))
    assert (undo.object_id, undo.object_type) == (announce["id"], "Announce")


def test_a_lemmy_comment_is_a_note_of_its_community() -> None:
    activity = payload("lemmy_create_note_comment")
    obj = activity["object"]
    note = note_from_ap(obj, activity["actor"])
    community = next(a for a in note.addresses if "/c/" in a)
    post = post_from_ap(obj, fetched_at=obj["id"], group=community)
    assert post.author == activity["actor"] and post.content_text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"attributedTo": "https://c.test/actors/eve"}, "attributed to another server"),
        ({"attributedTo": None}, "attributed to another server"),
        ({"to": [PUBLIC], "audience": None}, "not addressed to this group"),
    ],
)
def test_a_malformed_post_is_refused(changes: dict[str, Any], reason: str) -> None:
    group, author = actor("jardins", "b.test", "Group"), actor("menuiserie", "b.test")
    post = a_post(group, author)
    note = {**post_note(post, group, author), **changes}
    with pytest.raises(MalformedObject, match=reason):
        post_from_ap(note, fetched_at=post.ap_id, group=group.uri)
