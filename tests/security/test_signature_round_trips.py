"""HTTP signatures: our own round trips; a request unsigned, or a body that does not match."""

from __future__ import annotations

import base64
import hashlib

import pytest

from federation.errors import SignatureError
from federation.signatures import (
    SigningKey,
    parse_signature,
)
from tests.security.signatures_support import BODY, INBOX, NOW, check, signed


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_round_trip(
    rsa_key: SigningKey, ed_key: SigningKey, scheme: str, kind: str, method: str
) -> None:
    """What we sign, we verify: both schemes, both key types, with and without body."""
    key = rsa_key if kind == "rsa" else ed_key
    body = BODY if method == "POST" else None
    url = INBOX + "?page=2&x=%20y"
    headers = signed(key, method, url, body, scheme=scheme)
    check(key, headers, method, "/users/bob/inbox", "page=2&x=%20y", body)


def test_cavage_output_looks_like_mastodon(rsa_key: SigningKey) -> None:
    headers = signed(rsa_key)
    assert headers["Host"] == "b.example"
    assert headers["Date"] == "Thu, 01 May 2025 12:00:00 GMT"
    assert (
        headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    )
    assert headers["Signature"].startswith(
        f'keyId="{rsa_key.key_id}",algorithm="rsa-sha256",'
        'headers="(request-target) host date digest content-type",signature="'
    )


def test_rfc9421_output_shape(rsa_key: SigningKey) -> None:
    headers = signed(rsa_key, scheme="rfc9421")
    created = int(NOW.timestamp())
    assert headers["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "content-digest" "content-type");created={created};'
        f'expires={created + 3600};keyid="{rsa_key.key_id}";alg="rsa-v1_5-sha256"'
    )
    assert headers["Content-Digest"].startswith("sha-256=:")
    assert headers["Signature"].startswith("sig1=:")


def test_unsigned_request_is_refused() -> None:
    """Attack: post an activity with no signature at all."""
    with pytest.raises(SignatureError, match="not signed"):
        parse_signature("POST", "/inbox", "", {"Host": "b.example"}, BODY, now=NOW)


def test_digest_not_signed_is_refused(rsa_key: SigningKey) -> None:
    """Attack: keep a valid signature over the headers, swap a body whose digest is unsigned."""
    headers = signed(rsa_key)
    headers["Signature"] = headers["Signature"].replace(
        "(request-target) host date digest content-type", "(request-target) host date"
    )
    with pytest.raises(SignatureError, match="must sign its Digest"):
        check(rsa_key, headers)


def test_body_without_digest_header_is_refused(rsa_key: SigningKey) -> None:
    """Attack: a signed GET-style header set replayed with a body attached."""
    headers = signed(rsa_key, "POST", body=None)
    with pytest.raises(SignatureError, match="must sign its Digest"):
        check(rsa_key, headers)


def test_altered_body_is_refused(rsa_key: SigningKey) -> None:
    """Attack: change the activity after it was signed (the Digest no longer matches)."""
    headers = signed(rsa_key)
    with pytest.raises(SignatureError, match="does not match"):
        check(rsa_key, headers, body=BODY.replace(b"Follow", b"Delete"))


def test_altered_body_with_recomputed_digest_is_refused(rsa_key: SigningKey) -> None:
    """Attack: change the body and recompute the Digest (the signature covers it)."""
    evil = BODY.replace(b"Follow", b"Delete")
    headers = signed(rsa_key)
    headers["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(evil).digest()).decode()
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers, body=evil)
