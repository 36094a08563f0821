"""HTTP signatures: verifying whole requests, the signing client, keys and hosts."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import KeyFetchError, PayloadError, SignatureError
from federation.keys import base58btc, ed25519_multibase, on_host, public_key_pem
from federation.signatures import (
    HttpSignatureAuth,
    PublicKey,
    SigningKey,
    host_of,
    load_public_key_multibase,
    load_public_key_pem,
    verify_request,
)
from tests.security.signatures_support import (
    BODY,
    INBOX,
    JSON_HEADERS,
    MASTODON_PUBLIC,
    NOW,
    public,
    signed,
)


class TestVerifyRequest:
    async def test_returns_key_id(self, rsa_key: SigningKey) -> None:
        calls: list[tuple[str, bool]] = []

        async def resolve(key_id: str, refresh: bool) -> PublicKey:
            calls.append((key_id, refresh))
            return public(rsa_key)

        key_id = await verify_request(
            "POST", "/users/bob/inbox", "", signed(rsa_key), BODY, resolve_key=resolve, now=NOW
        )
        assert key_id == rsa_key.key_id
        assert calls == [(rsa_key.key_id, False)]

    async def test_rotated_key_is_refetched_once(self, rsa_key: SigningKey) -> None:
        stale = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        calls: list[bool] = []

        async def resolve(key_id: str, refresh: bool) -> PublicKey:
            calls.append(refresh)
            return public(rsa_key) if refresh else stale

        await verify_request(
            "POST", "/users/bob/inbox", "", signed(rsa_key), BODY, resolve_key=resolve, now=NOW
        )
        assert calls == [False, True]

    async def test_bad_signature_fails_after_one_refresh(
        self, rsa_key: SigningKey, ed_key: SigningKey
    ) -> None:
        calls: list[bool] = []

        async def resolve(key_id: str, refresh: bool) -> PublicKey:
            calls.append(refresh)
            return public(ed_key)

        with pytest.raises(SignatureError):
            await verify_request(
                "POST", "/users/bob/inbox", "", signed(rsa_key), BODY, resolve_key=resolve, now=NOW
            )
        assert calls == [False, True]

    async def test_stale_request_is_refused_before_any_key_fetch(self, rsa_key: SigningKey) -> None:
        async def resolve(key_id: str, refresh: bool) -> PublicKey:
            raise AssertionError("no key must be fetched for a stale request")

        headers = signed(rsa_key, now=NOW - timedelta(days=1))
        with pytest.raises(SignatureError, match="time window"):
            await verify_request(
                "POST", "/users/bob/inbox", "", headers, BODY, resolve_key=resolve, now=NOW
            )


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_http_signature_auth_output_verifies(
    rsa_key: SigningKey, ed_key: SigningKey, scheme: str
) -> None:
    """The httpx Auth signs GET and POST so that our own verifier accepts them."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async def resolve(key_id: str, refresh: bool) -> PublicKey:
        return public(rsa_key if key_id == rsa_key.key_id else ed_key)

    for key in (rsa_key, ed_key):
        auth = HttpSignatureAuth(key, scheme="cavage" if scheme == "cavage" else "rfc9421")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
            await client.get("https://b.example:8443/users/bob/outbox?page=true")
            await client.post(INBOX, content=BODY, headers=JSON_HEADERS)
    assert len(seen) == 4
    for request in seen:
        path, _, query = request.url.raw_path.decode().partition("?")
        body = request.content or None
        key_id = await verify_request(
            request.method, path, query, request.headers, body, resolve_key=resolve
        )
        assert key_id in (rsa_key.key_id, ed_key.key_id)
    assert seen[0].headers["Host"] == "b.example:8443"


class TestKeys:
    def test_pem_round_trip(self, rsa_key: SigningKey) -> None:
        pem = public_key_pem(public(rsa_key))
        assert load_public_key_pem(pem).public_numbers() == public(rsa_key).public_numbers()  # type: ignore[union-attr]

    def test_pkcs1_pem_is_accepted(self) -> None:
        pem = MASTODON_PUBLIC.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
        assert isinstance(load_public_key_pem(pem), rsa.RSAPublicKey)

    def test_garbage_pem_is_refused(self) -> None:
        with pytest.raises(KeyFetchError):
            load_public_key_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")

    def test_weak_rsa_key_is_refused(self) -> None:
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505 (on purpose)
        with pytest.raises(KeyFetchError, match="too weak"):
            load_public_key_pem(public_key_pem(weak))

    def test_multikey_round_trip(self, ed_key: SigningKey) -> None:
        key = public(ed_key)
        assert isinstance(key, ed25519.Ed25519PublicKey)
        encoded = ed25519_multibase(key)
        assert encoded.startswith("z6Mk")
        loaded = load_public_key_multibase(encoded)
        assert isinstance(loaded, ed25519.Ed25519PublicKey)
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        assert loaded.public_bytes(*raw) == key.public_bytes(*raw)

    @pytest.mark.parametrize(
        "data", [b"", b"\0", b"\0\0\x01", b"\xed\x01" + bytes(range(32)), bytes(range(255, 0, -7))]
    )
    def test_base58btc_is_bovines(self, data: bytes) -> None:
        from bovine.crypto.multibase import multibase_58btc_encode

        assert "z" + base58btc(data) == multibase_58btc_encode(data)

    def test_fep_521a_example_key_loads(self) -> None:
        # The Multikey example of FEP-521a (also in /work/shared research notes).
        key = load_public_key_multibase("z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        assert isinstance(key, ed25519.Ed25519PublicKey)

    @pytest.mark.parametrize("value", ["", "u6Mk", "z0OIl", "z6Mk"])
    def test_bad_multikey_is_refused(self, value: str) -> None:
        with pytest.raises(KeyFetchError):
            load_public_key_multibase(value)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.COM/users/a", "example.com"),
        ("https://example.com./users/a", "example.com"),
        ("https://example.com:443/a", "example.com"),
        ("http://example.com:80/a", "example.com"),
        ("https://example.com:8443/a", "example.com:8443"),
        ("http://example.com:443/a", "example.com:443"),
        ("https://bücher.example/a", "xn--bcher-kva.example"),
        ("https://[::1]:8000/a", "[::1]:8000"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    """Attack: the same host spelled otherwise (case, trailing dot, default port, IDN) to pass
    for another; host_of gives one spelling."""
    assert host_of(url) == host


@pytest.mark.parametrize(
    "url", ["acct:bob@example.com", "/relative", "https://", "ftp://x.example/"]
)
def test_host_of_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(PayloadError):
        host_of(url)


@pytest.mark.parametrize(
    ("url", "on"),
    [
        ("https://Example.COM./users/a", True),
        ("https://example.com:443/key#main", True),
        ("https://example.com:8443/a", False),
        ("https://evil.example/a", False),
        ("acct:bob@example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_on_host(url: str | None, on: bool) -> None:
    """A key, inbox or redirect counts as the actor's own only on the very same host;
    no URL, or not an http(s) URL, is on no host (never an error)."""
    assert on_host(url, "example.com") is on
