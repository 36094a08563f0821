"""Property tests on what arrives on the wire: any bytes as a body, any signature headers."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from federation.errors import FederationError, SignatureError
from federation.payload import parse_activity
from federation.signature_parsing import parse_signature
from tests.corpus.properties_support import FAST, json_values

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
