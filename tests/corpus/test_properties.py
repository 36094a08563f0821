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

import contextlib
import gzip
import json
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from federation.actor_doc import parse_actor
from federation.errors import FederationError, SignatureError
from federation.payload import parse_activity
from federation.signature_parsing import parse_signature
from inbox.from_ap import listing_from_ap
from tests.corpus.bounds import actor_problems, listing_problems
from tests.corpus.inputs import listing_skeleton

FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOST = "https://remote.test"
DROP = object()  # a field left out

# ------------------------------------------------------------------ JSON values

NUMERIC_STRINGS = [
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-inf",
    "1e400",
    "-1e400",
    "1e-400",
    "1E+999999999",
    "0x10",
    "1_000",
    "١٢٣",
    "   7  ",
    "",
    "-0",
    "-1",
    "0.0001",
    "999999999.9999",
    "999999999.994",
    "1000000000",
    "12,50",
    "3 EUR",
    "9" * 400,
    "0." + "9" * 60,
]
huge_ints = st.integers(min_value=1, max_value=4300).map(lambda digits: int("9" * digits))
numbers = st.one_of(
    st.integers(),
    huge_ints,
    huge_ints.map(lambda n: -n),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 90.0000001, -180.5, 2**63, 2**64 + 1]),
)
long_text = st.builds(
    lambda char, count: char * count,
    st.characters(codec="utf-8"),
    st.sampled_from([199, 200, 201, 2049, 10_001, 40_001]),
)
html = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<p>" * 500 + "deep" + "</p>" * 500,
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "&lt;script&gt;",
        "<![CDATA[x]]>",
        "<!-- " * 100,
        "\x00\x01\u202e\ufeff",
        "<p>" + "é" * 20_000 + "</p>",
    ]
)
urls = st.one_of(
    st.sampled_from(
        [
            f"{HOST}/objects/1",
            "https://other.test/x",
            "javascript:alert(1)",
            "http://[::1]/x",
            "https://xn--e1afmkfd.test/",
            "https://bücher.test/x",
            "//remote.test/x",
            "https://remote.test:99999/x",
            "https://",
            "",
            f"{HOST}/" + "a" * 3000,
        ]
    ),
    st.text(max_size=40).map(lambda tail: f"{HOST}/{tail}"),
)
strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NUMERIC_STRINGS),
    html,
    urls,
    long_text,
    st.sampled_from(
        ["2025-05-01T09:00:00Z", "9999-12-31T23:59:59+14:00", "0001-01-01", "2025-13-45"]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


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


# ------------------------------------------------------------------ bodies

json_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda doc: json.dumps(doc, allow_nan=True).encode(),
        st.dictionaries(st.sampled_from(["type", "id", "actor", "object"]), json_values),
    ),
    st.integers(min_value=1, max_value=2000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=200).map(
        lambda n: b'{"type":"Create","a":' * n + b"1" + b"}" * n
    ),
    st.sampled_from(
        [b'{"type": "Create", "n": ' + b"9" * 5000 + b"}", b'{"type": NaN}', b"\xff\xfe{}"]
    ),
)
bodies = st.one_of(st.binary(max_size=300), json_bodies)


def encode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


@FAST
@given(
    body=bodies,
    content_type=st.sampled_from(
        [
            "application/activity+json",
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            "application/json",
            "text/html",
            "",
            None,
            "application/activity+json; charset=\xff",
        ]
    ),
    encoding=st.sampled_from([None, "identity", "gzip", "deflate", "br", "gzip, gzip", "GZIP "]),
    compress=st.booleans(),
    cut=st.integers(min_value=0, max_value=10),
)
@example(
    body=b"\x00" * 200_000, content_type="application/json", encoding="gzip", compress=True, cut=0
)
def test_parse_activity_on_any_bytes(
    body: bytes, content_type: str | None, encoding: str | None, compress: bool, cut: int
) -> None:
    """Any body, however encoded (or claiming an encoding it does not have, or truncated):
    a dict with a string type, or a FederationError."""
    raw = encode(body, encoding.strip().lower() if encoding and compress else None)
    raw = raw[: len(raw) - cut] if cut and compress else raw
    try:
        value = parse_activity(raw, content_type, encoding, max_bytes=100_000)
    except FederationError:
        return
    assert isinstance(value, dict) and isinstance(value.get("type"), str)


# ------------------------------------------------------------------ signature headers

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=200)
header_names = st.one_of(
    st.sampled_from(
        [
            "Signature",
            "signature",
            "SIGNATURE",
            "Signature-Input",
            "signature-input",
            "Authorization",
            "authorization",
            "Date",
            "date",
            "Digest",
            "Content-Digest",
            "content-digest",
            "Host",
            "host",
            "Content-Type",
            "(request-target)",
            "@method",
        ]
    ),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
)
signature_like = st.one_of(
    latin1,
    st.builds(
        lambda key, headers, sig: f'keyId="{key}",headers="{headers}",signature="{sig}"',
        latin1.filter(lambda s: '"' not in s),
        st.lists(
            st.sampled_from(["(request-target)", "host", "date", "digest", "(created)"]),
            max_size=5,
        ).map(" ".join),
        latin1.filter(lambda s: '"' not in s),
    ),
    latin1.map(lambda tail: f"Signature {tail}"),
    latin1.map(lambda tail: f"sig1=({tail})"),
    st.just('sig1=("@method" "@authority" "@path" "content-digest");created=1740830400;keyid="k"'),
)
header_dicts = st.dictionaries(header_names, signature_like, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=header_dicts,
    method=st.sampled_from(["POST", "GET", "get", "PUT", "", "\xe9"]),
    path=st.one_of(st.just("/inbox"), latin1),
    query=st.one_of(st.just(""), latin1),
    body=st.one_of(st.none(), st.binary(max_size=64)),
    scheme=st.sampled_from(["https", "http", "HTTPS", ""]),
)
@example(
    headers={"Signature-Input": "sig1=();created=1740830400", "Signature": "sig1=::"},
    method="GET",
    path="",
    query="",
    body=None,
    scheme="https",
)
def test_parse_signature_on_any_headers(
    headers: dict[str, str], method: str, path: str, query: str, body: bytes | None, scheme: str
) -> None:
    """Whatever headers a request carries, under whatever names: a parsed signature or a
    SignatureError (401)."""
    with contextlib.suppress(SignatureError):
        parse_signature(method, path, query, headers, body, scheme=scheme, now=NOW, window=3600)
