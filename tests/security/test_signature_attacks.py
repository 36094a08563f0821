"""HTTP signatures: one test per attack on the date, the target, the host and the algorithm."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.errors import SignatureError
from federation.keys import public_key_pem
from federation.signatures import (
    SigningKey,
    parse_signature,
    sign_request,
)
from tests.security.signatures_support import BODY, INBOX, NOW, check, public, signed


@pytest.mark.parametrize(
    ("offset", "message"),
    [(timedelta(hours=-2), "time window"), (timedelta(hours=2), "in the future")],
    ids=["too-old", "future"],
)
def test_date_outside_window_is_refused(
    rsa_key: SigningKey, offset: timedelta, message: str
) -> None:
    """Attack: replay an old request, or pre-sign one for later use."""
    headers = signed(rsa_key, now=NOW + offset)
    with pytest.raises(SignatureError, match=message):
        check(rsa_key, headers)


def test_window_is_a_parameter(rsa_key: SigningKey) -> None:
    headers = signed(rsa_key, now=NOW - timedelta(seconds=400))
    parse_signature("POST", "/users/bob/inbox", "", headers, BODY, now=NOW, window=500)
    with pytest.raises(SignatureError, match="time window"):
        parse_signature("POST", "/users/bob/inbox", "", headers, BODY, now=NOW, window=300)


def test_unparsable_date_is_refused(rsa_key: SigningKey) -> None:
    """Attack: a Date that no clock can check must not pass as "not stale"."""
    headers = signed(rsa_key) | {"Date": "yesterday-ish"}
    with pytest.raises(SignatureError, match="not a valid HTTP date"):
        check(rsa_key, headers)


def test_date_not_signed_is_refused(rsa_key: SigningKey) -> None:
    """Attack: without a signed Date, a captured request could be replayed forever."""
    headers = signed(rsa_key, "GET", body=None)
    headers["Signature"] = headers["Signature"].replace(
        '"(request-target) host date"', '"(request-target) host"'
    )
    with pytest.raises(SignatureError, match="Date header must be signed"):
        check(rsa_key, headers, "GET", body=None)


def test_signature_for_another_path_is_refused(rsa_key: SigningKey) -> None:
    """Attack: replay a request signed for one inbox to another path."""
    headers = signed(rsa_key)
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers, path="/users/carol/inbox")


def test_signature_for_another_method_is_refused(rsa_key: SigningKey) -> None:
    """Attack: turn a signed GET into a DELETE of the same URL."""
    headers = signed(rsa_key, "GET", body=None)
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers, "DELETE", body=None)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_signature_for_another_query_is_refused(rsa_key: SigningKey, scheme: str) -> None:
    """Attack: reuse a signed GET with another query string (bovine ignores it)."""
    headers = signed(rsa_key, "GET", INBOX + "?page=1", None, scheme=scheme)
    check(rsa_key, headers, "GET", query="page=1", body=None)
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers, "GET", query="page=2", body=None)
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers, "GET", query="", body=None)


def test_signature_for_another_host_is_refused(rsa_key: SigningKey) -> None:
    """Attack: replay a request signed for one server at another one."""
    headers = signed(rsa_key) | {"Host": "c.example"}
    with pytest.raises(SignatureError, match="does not verify"):
        check(rsa_key, headers)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_host_not_signed_is_refused(rsa_key: SigningKey, scheme: str) -> None:
    """Attack: a signature that does not name the host can be replayed at any server."""
    if scheme == "cavage":
        headers = signed(rsa_key, "GET", body=None)
        headers["Signature"] = headers["Signature"].replace(
            '"(request-target) host date"', '"(request-target) date"'
        )
        message = "Host header must be signed"
    else:
        created = int(NOW.timestamp())
        headers = {
            "Host": "b.example",
            "Signature-Input": f'sig1=("@method" "@path");created={created};keyid="k"',
            "Signature": "sig1=:AAAA:",
        }
        message = r"host \(@target-uri or @authority\) must be signed"
    with pytest.raises(SignatureError, match=message):
        check(rsa_key, headers, "GET", body=None)


def test_request_target_not_signed_is_refused(rsa_key: SigningKey) -> None:
    """Attack: a signature that does not cover the method and path can be replayed on any
    route."""
    headers = signed(rsa_key, "GET", body=None)
    headers["Signature"] = headers["Signature"].replace(
        '"(request-target) host date"', '"host date"'
    )
    with pytest.raises(SignatureError, match=r"\(request-target\) must be signed"):
        check(rsa_key, headers, "GET", body=None)


def test_algorithm_swapped_to_hmac_is_refused(rsa_key: SigningKey) -> None:
    """Attack: sign with HMAC using the *public* RSA key (which anyone can read) as
    the secret, and name hmac-sha256 so a naive verifier uses HMAC too."""
    headers = signed(rsa_key, "GET", body=None)
    parsed = parse_signature("GET", "/users/bob/inbox", "", headers, None, now=NOW)
    secret = public_key_pem(public(rsa_key)).encode()
    mac = base64.b64encode(hmac.new(secret, parsed.signing_string, hashlib.sha256).digest())
    before, _, _ = headers["Signature"].partition(',signature="')
    headers["Signature"] = (
        before.replace('algorithm="rsa-sha256"', 'algorithm="hmac-sha256"')
        + f',signature="{mac.decode()}"'
    )
    with pytest.raises(SignatureError, match="algorithm swapped"):
        check(rsa_key, headers, "GET", body=None)


def test_algorithm_ed25519_named_with_rsa_key_is_refused(rsa_key: SigningKey) -> None:
    """Attack: name an algorithm that contradicts the key type published by the actor."""
    headers = signed(rsa_key, "GET", body=None)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "ed25519")
    with pytest.raises(SignatureError, match="algorithm swapped"):
        check(rsa_key, headers, "GET", body=None)


def test_rfc9421_alg_contradicting_the_key_is_refused(ed_key: SigningKey) -> None:
    """Attack (algorithm swap, RFC 9421): an ``alg`` that contradicts the published key type."""
    headers = signed(ed_key, scheme="rfc9421")
    headers["Signature-Input"] = headers["Signature-Input"].replace("ed25519", "rsa-v1_5-sha256")
    with pytest.raises(SignatureError, match="algorithm swapped"):
        check(ed_key, headers)


def test_hs2019_and_rsa_v1_5_names_are_accepted_for_rsa(rsa_key: SigningKey) -> None:
    """The algorithm name is not signed in cavage: hs2019 means "look at the key"."""
    headers = signed(rsa_key, "GET", body=None)
    for name in ("hs2019", "rsa-v1_5-sha256"):
        renamed = headers | {"Signature": headers["Signature"].replace("rsa-sha256", name)}
        check(rsa_key, renamed, "GET", body=None)


def test_rfc9421_expired_is_refused(rsa_key: SigningKey) -> None:
    """Attack: replay an RFC 9421 signature after its own expiry."""
    headers = sign_request(
        "GET", INBOX, {}, None, rsa_key, now=NOW, scheme="rfc9421", expires_in=60
    )
    check(rsa_key, headers, "GET", body=None, now=NOW + timedelta(seconds=100))
    with pytest.raises(SignatureError, match="expired"):
        check(rsa_key, headers, "GET", body=None, now=NOW + timedelta(seconds=200))


def test_rfc9421_created_in_future_is_refused(rsa_key: SigningKey) -> None:
    """Attack: pre-sign requests with a future created so they stay fresh for long."""
    headers = signed(rsa_key, scheme="rfc9421", now=NOW + timedelta(hours=3))
    with pytest.raises(SignatureError, match="created time is in the future"):
        check(rsa_key, headers)


def test_rfc9421_component_parameters_are_refused(rsa_key: SigningKey) -> None:
    """Attack: RFC 9421 component parameters (``;sf``, ``;key``…) change what a component
    means; refused rather than misread."""
    created = int(NOW.timestamp())
    headers = {
        "Host": "b.example",
        "Signature-Input": f'sig1=("@method" "@target-uri" "x";sf);created={created};keyid="k"',
        "Signature": "sig1=:AAAA:",
        "X": "1",
    }
    with pytest.raises(SignatureError, match="component parameters"):
        check(rsa_key, headers, "GET", body=None)


def test_cavage_in_authorization_header_is_accepted(rsa_key: SigningKey) -> None:
    headers = signed(rsa_key)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    check(rsa_key, headers)


def test_sha512_digest_is_accepted(rsa_key: SigningKey) -> None:
    digest = "SHA-512=" + base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    date = "Thu, 01 May 2025 12:00:00 GMT"
    signing = (
        f"(request-target): post /users/bob/inbox\nhost: b.example\ndate: {date}\ndigest: {digest}"
    )
    private = rsa_key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    sig = base64.b64encode(private.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))
    headers = {
        "Host": "b.example",
        "Date": date,
        "Digest": digest,
        "Signature": f'keyId="k",algorithm="rsa-sha256",'
        f'headers="(request-target) host date digest",signature="{sig.decode()}"',
    }
    check(rsa_key, headers)
    with pytest.raises(SignatureError, match="does not match"):
        check(rsa_key, headers, body=BODY + b" ")


def test_malformed_signature_header_is_refused() -> None:
    """Attack: a Signature header a lenient parser would misread (duplicates, garbage):
    refused."""
    headers = {"Host": "b.example", "Date": "x", "Signature": 'keyId="a",,signature'}
    with pytest.raises(SignatureError, match="malformed"):
        parse_signature("GET", "/", "", headers, None, now=NOW)


def test_hs2019_created_pseudo_header(ed_key: SigningKey) -> None:
    """cavage-12 (created) replaces Date when the algorithm is hs2019 (Mastodon allows it)."""
    created = int(NOW.timestamp())
    signing = f"(request-target): get /users/bob/inbox\nhost: b.example\n(created): {created}"
    sig = base64.b64encode(ed_key.private_key.sign(signing.encode())).decode()
    headers = {
        "Host": "b.example",
        "Signature": f'keyId="k",algorithm="hs2019",created={created},'
        f'headers="(request-target) host (created)",signature="{sig}"',
    }
    check(ed_key, headers, "GET", body=None)
    with pytest.raises(SignatureError, match="time window"):
        check(ed_key, headers, "GET", body=None, now=NOW + timedelta(hours=2))
