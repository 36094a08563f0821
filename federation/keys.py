"""Keys and hosts: the small value types that HTTP signatures are built on.

* :class:`SigningKey` pairs a private key with the ``keyId`` URL that names its
  public half (``https://host/actor#main-key``).
* :data:`PublicKey` is what a remote actor publishes: an RSA key in
  ``publicKey.publicKeyPem`` (the only kind Mastodon reads, see
  mastodon/documentation ``spec/security.md``) or an Ed25519 key as a FEP-521a
  ``Multikey`` (``publicKeyMultibase``, ``"z"`` + base58btc of the multicodec
  prefix ``0xed01`` and the 32 raw bytes, decoded with ``bovine.crypto.multibase``).
* :func:`host_of` normalises the host of a URL so that hosts can be compared
  (key owner vs actor, document ``id`` vs the URL it was fetched from), and
  :func:`normalise_host` does the same for a bare ``HOST[:PORT]`` typed by an
  administrator (domain policies), so that both spell a host the same way.

Malformed remote keys raise :class:`~federation.errors.KeyFetchError`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeAlias

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import KeyFetchError, PayloadError

PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# Below this an RSA key is breakable; Mastodon, GoToSocial and Pleroma use 2048+.
MIN_RSA_BITS = 2048
_ED25519_MULTICODEC = b"\xed\x01"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class SigningKey:
    """A private key and the ``keyId`` under which its public half is published."""

    key_id: str
    private_key: PrivateKey


def _checked(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyFetchError(f"RSA key of {key.key_size} bits is too weak")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise KeyFetchError("unsupported key type (only RSA and Ed25519 are accepted)")


def load_public_key_pem(pem: str | bytes) -> PublicKey:
    """Load a ``publicKeyPem`` value (SubjectPublicKeyInfo, or PKCS#1 RSA)."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFetchError("publicKeyPem is not a valid PEM public key") from exc
    return _checked(key)


def load_public_key_multibase(value: str) -> PublicKey:
    """Load a FEP-521a ``publicKeyMultibase`` value (Ed25519, or RSA as DER)."""
    if not value.startswith("z"):
        raise KeyFetchError("publicKeyMultibase must be base58btc (start with 'z')")
    try:
        # Imported here: importing bovine loads its HTTP clients too (half a second of
        # start-up for every process), and only remote Multikeys need it.
        from bovine.crypto.multibase import decode_multibase_public_key

        key = decode_multibase_public_key(value)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, IndexError) as exc:
        raise KeyFetchError("publicKeyMultibase is not a valid Multikey") from exc
    return _checked(key)


def load_private_key_pem(pem: str | bytes) -> PrivateKey:
    """Load one of our own private keys (PKCS#8 or PKCS#1 PEM, unencrypted)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError("only RSA and Ed25519 private keys are supported")
    return key


def public_key_pem(key: PublicKey) -> str:
    """The ``publicKeyPem`` form of a public key (SubjectPublicKeyInfo PEM)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def ed25519_multibase(key: ed25519.Ed25519PublicKey) -> str:
    """The FEP-521a ``publicKeyMultibase`` of an Ed25519 key (starts ``z6Mk``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc(_ED25519_MULTICODEC + raw)


_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(data: bytes) -> str:
    """``data`` in base58 with the Bitcoin alphabet (multibase ``z``), as bovine encodes it.

    Written here rather than imported: importing bovine loads its HTTP clients and HTML
    parser (most of a second), which every new key (``entraide init``, a structure
    created) paid for ten lines of arithmetic.
    """
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    """True when both objects hold the same public key."""
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return a.public_bytes(der, fmt) == b.public_bytes(der, fmt)


def host_of(url: str) -> str:
    """The comparable host of an http(s) URL.

    Lowercased, without a trailing dot, IDN labels in punycode (IDNA 2008, as
    httpx sends them), IPv6 in brackets; the port is kept unless it is the
    scheme's default (80 for http, 443 for https).
    Raises :class:`PayloadError` for anything that is not an absolute http(s) URL.

    Every inbox request asks this of the same few actor and key URLs: answers
    are remembered (a bounded cache; errors are not cached). Only short URLs
    are: the request asking may not be verified yet, and 4,096 URLs of 64 kB
    would hold a quarter of a gigabyte.
    """
    if len(url) > _CACHED_URL_LENGTH:
        return _host_of.__wrapped__(url)
    return _host_of(url)


_CACHED_URL_LENGTH = 512


def on_host(url: str | None, host: str) -> bool:
    """True when ``url`` is an http(s) URL on ``host`` (a :func:`host_of` answer).

    No URL, or not an http(s) URL, is on no host.
    """
    if not url:
        return False
    try:
        return host_of(url) == host
    except PayloadError:
        return False


@functools.lru_cache(maxsize=4096)
def _host_of(url: str) -> str:
    try:
        parsed = httpx.URL(url)
        raw_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise PayloadError("not a valid URL") from exc
    if parsed.scheme not in _DEFAULT_PORTS:
        raise PayloadError("not an http(s) URL")
    host = raw_host.lower().rstrip(".")
    if not host:
        raise PayloadError("URL has no host")
    if ":" in host:
        host = f"[{host}]"
    port = parsed.port
    if port is not None and port != _DEFAULT_PORTS[parsed.scheme]:
        host = f"{host}:{port}"
    return host


def normalise_host(value: str) -> str:
    """A bare ``HOST[:PORT]`` (as typed by an administrator) spelled as :func:`host_of` spells it.

    ``Evil.Example.``, ``evil.example:443`` and ``évil.example`` become
    ``evil.example`` and ``xn--vil-9la.example``: the forms a URL of that host
    takes once normalised. Both default ports (443 and 80) are dropped, since a
    bare host names no scheme. Raises :class:`PayloadError` for anything that is
    not a host (a path, credentials, blanks).
    """
    text = value.strip()
    if not text or any(c in text for c in "/@?# \t\\"):
        raise PayloadError(f"expected HOST[:PORT], got {value[:100]!r}")
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address
    host = host_of(f"https://{text}/")
    return host.removesuffix(":80")
