"""Real payloads: Mastodon, Mitra, GoToSocial, Lemmy, Mobilizon, Misskey, Pleroma, bovine, FEP-0837.

Every file of ``tests/fixtures/payloads`` (see SOURCES.md there) is read the
way the node reads it: actor documents through ``parse_actor``, activities
through ``Incoming.parse``, objects through ``listing_from_ap``. Each either is
understood or raises a clean ``FederationError`` — never another exception.

Then every activity is delivered end to end: its hosts are moved to test hosts
(the sender's to a host of its own, Entraide's to the receiving node), its
sender is served by a hook in the shape of the matching actor fixture
(GoToSocial's key stub, Mitra's RSA Multikey, Mobilizon's PKCS#1 PEM…) with a
throwaway key, it is signed, POSTed to ``a.test/inbox`` and processed: the
endpoint never answers 500, and the stored item ends ``done``, ``ignored`` or
``failed`` with a reason.

Last, what the activities mean is checked on the node: each server's Follow of
a structure becomes an accepted follow answered by one Accept naming it, each
server's Delete removes the listing it names and leaves a tombstone (and the
same Delete from another server changes nothing), and GoToSocial's Update of
its actor makes us fetch the actor again.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.actor_doc import parse_actor
from federation.errors import FederationError, KeyFetchError, PayloadError
from federation.keys import host_of, load_public_key_multibase, load_public_key_pem
from inbox.activity import Incoming
from inbox.from_ap import listing_from_ap
from tests.federation.payload_fixtures_support import (
    ACTIVITIES,
    ACTORS,
    FILES,
    HERE,
    kind_of,
    load,
    names,
)

pytestmark = pytest.mark.dialect  # real payloads stored in JSON columns

OBJECTS = [p for p in FILES if kind_of(load(p)) == "object"]


def test_every_fixture_is_classified() -> None:
    """Each file is an actor, an activity, an object, or the one WebFinger answer."""
    others = [p.name for p in FILES if kind_of(load(p)) == "other"]
    assert others == ["mastodon_webfinger_jrd.json"]
    assert len(ACTORS) == 10 and len(ACTIVITIES) >= 38 and len(OBJECTS) == 3


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("path", ACTORS, ids=names(ACTORS))
def test_actor_fixture_is_understood(path: Path) -> None:
    """Every actor shape is understood: its id, inbox and keys on its own host; every key kept
    loads as a public key (or is refused cleanly: the Mitra test vector is a 512-bit RSA key)."""
    document = load(path)
    parsed = parse_actor(document)
    assert parsed.uri == document["id"]
    assert host_of(parsed.inbox) == parsed.domain
    assert parsed.keys, "no key"
    assert len({k.key_id for k in parsed.keys}) == len(parsed.keys), "a key id twice"
    for key in parsed.keys:
        assert host_of(key.key_id) == parsed.domain
        assert key.kind in ("rsa", "ed25519")
        loader = load_public_key_pem if key.kind == "rsa" else load_public_key_multibase
        if path.stem == "mitra_actor_person" and key.kind == "rsa":
            with pytest.raises(KeyFetchError, match="too weak"):
                loader(key.public_key)
        else:
            loader(key.public_key)


def test_actor_fixture_specifics() -> None:
    """What each server does differently is read right."""
    mitra = parse_actor(load(HERE / "mitra_actor_person.json"))
    assert {k.key_id.rsplit("#", 1)[1]: k.kind for k in mitra.keys} == {
        "main-key": "rsa",  # once, though Mitra also lists it as an RSA Multikey
        "ed25519-key": "ed25519",
    }
    gts = parse_actor(load(HERE / "gotosocial_actor_person.json"))
    assert [k.key_id for k in gts.keys] == ["http://localhost:8080/users/the_mighty_zork/main-key"]
    assert gts.shared_inbox == "http://localhost:8080/sharedInbox"
    assert parse_actor(load(HERE / "misskey_actor_person.json")).shared_inbox
    assert parse_actor(load(HERE / "bovine_actor_person.json")).shared_inbox is None
    group = parse_actor(load(HERE / "lemmy_actor_group.json"))
    assert group.type == "Group"
    instance = parse_actor(load(HERE / "mastodon_actor_instance_application.json"))
    assert instance.type == "Application"
    mobilizon_group = parse_actor(load(HERE / "mobilizon_actor_group.json"))
    assert mobilizon_group.type == "Group"
    assert mobilizon_group.shared_inbox == "https://mobilizon.fr/inbox"
    for name in ("mobilizon_actor_group", "mobilizon_actor_person"):
        # Mobilizon publishes PKCS#1 ("RSA PUBLIC KEY"), followed by a blank line.
        (key,) = parse_actor(load(HERE / f"{name}.json")).keys
        assert key.public_key.startswith("-----BEGIN RSA PUBLIC KEY-----\n")
        public = load_public_key_pem(key.public_key)
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


def embedded_objects(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects embedded in an activity, an Announce(Create(Page)) included."""
    found = []
    value: Any = document.get("object")
    while isinstance(value, dict):
        found.append(value)
        value = value.get("object")
    return found


@pytest.mark.parametrize("path", ACTIVITIES, ids=names(ACTIVITIES))
def test_activity_fixture_parses(path: Path) -> None:
    """Every activity is read into an Incoming (or refused with a PayloadError), and every
    embedded object is a listing, not a listing, or a clean FederationError."""
    document = load(path)
    try:
        incoming = Incoming.parse(json.dumps(document))
    except PayloadError:
        assert path.name == "gotosocial_delete_note.json"  # GoToSocial sends Deletes without id
    else:
        assert incoming.type == document["type"]
        assert incoming.actor == document["actor"]
    for obj in embedded_objects(document):
        with contextlib.suppress(FederationError):
            listing_from_ap(obj)


LISTINGS: dict[str, tuple[str, str, str, str | None, str | None, str]] = {
    # file: (kind, category, modality, quantity, price, currency)
    "entraide_create_listing_offer_lend": ("offer", "equipment", "lend", "1", None, ""),
    "entraide_create_listing_offer_sell": ("offer", "materials", "sell", "1", "3.00", "EUR"),
    "entraide_update_listing_fulfilled": ("offer", "equipment", "lend", "1", None, ""),
    "fep0837_proposal_full": ("offer", "other", "sell", "1", "30.00", "USD"),
    "fep0837_proposal_minimal": ("offer", "other", "give", "1", None, ""),
    "fep0837_proposal_as_note_create": ("offer", "other", "sell", "1", "30.00", "USD"),
}
NOT_LISTINGS = [
    "mastodon_create_note_public",
    "mastodon_create_note_direct",
    "mastodon_update_note",
    "gotosocial_create_note",
    "misskey_create_note",
    "mitra_create_note",
    "pleroma_create_note_direct",
    "lemmy_create_note_comment",
    "lemmy_announce_page_compat",
    "lemmy_update_page",
    "mitra_update_note",
    "mobilizon_create_event",
    "mobilizon_create_event_group",
    "entraide_create_note_direct",
]


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listings_are_read(name: str) -> None:
    """FEP-0837 Proposals, plain or as a Note inside a Create, and Entraide's own listings."""
    document = load(HERE / f"{name}.json")
    obj = document if document.get("type") == "Proposal" else document["object"]
    data = listing_from_ap(obj)
    assert data is not None
    kind, category, modality, quantity, price, currency = LISTINGS[name]
    assert (data.kind, data.category, data.modality) == (kind, category, modality)
    assert data.quantity == (Decimal(quantity) if quantity else None)
    assert data.price_amount == (Decimal(price) if price else None)
    assert data.price_currency == currency
    assert data.title and data.ap_id == obj["id"]


@pytest.mark.parametrize("name", NOT_LISTINGS)
def test_ordinary_posts_are_not_listings(name: str) -> None:
    """A Mastodon (Misskey, Pleroma, Lemmy…) post or a Mobilizon event is not a listing: None,
    not an error."""
    (obj, *_) = embedded_objects(load(HERE / f"{name}.json"))
    assert listing_from_ap(obj) is None


def test_mitra_subscription_proposal() -> None:
    """Mitra's Monero subscription Proposal (per-second unit, CAIP-19 asset) is understood or
    declined, never an exception: the price in an unknown currency is dropped."""
    data = listing_from_ap(load(HERE / "mitra_proposal_subscription.json"))
    if data is not None:
        assert data.kind == "offer"
        assert (data.price_amount, data.price_currency) == (None, "")
