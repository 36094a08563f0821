"""Helpers shared by the test_signatures modules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bench.keys import MASTODON_KEY_PEM
from federation.keys import load_private_key_pem
from federation.signatures import (
    PublicKey,
    SigningKey,
    parse_signature,
    sign_request,
    verify_parsed,
)

MASTODON_PUBLIC = load_private_key_pem(MASTODON_KEY_PEM).public_key()


# --------------------------------------------------------------------------
# Our own keys: round trips and one test per attack.

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
INBOX = "https://b.example/users/bob/inbox"
BODY = b'{"type":"Follow","id":"https://a.example/f/1"}'
JSON_HEADERS = {"Content-Type": "application/activity+json"}


def public(key: SigningKey) -> PublicKey:
    return key.private_key.public_key()


def signed(
    key: SigningKey,
    method: str = "POST",
    url: str = INBOX,
    body: bytes | None = BODY,
    *,
    scheme: str = "cavage",
    now: datetime = NOW,
) -> dict[str, str]:
    """The headers of a request signed by ``key``."""
    base = JSON_HEADERS if body is not None else {}
    assert scheme in ("cavage", "rfc9421")
    added = sign_request(
        method, url, base, body, key, now=now, scheme="cavage" if scheme == "cavage" else "rfc9421"
    )
    return base | added


def check(
    key: SigningKey,
    headers: Mapping[str, str],
    method: str = "POST",
    path: str = "/users/bob/inbox",
    query: str = "",
    body: bytes | None = BODY,
    now: datetime = NOW,
) -> None:
    parsed = parse_signature(method, path, query, headers, body, now=now)
    verify_parsed(parsed, public(key))
