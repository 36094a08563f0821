"""HTTP Signatures: signing what we send, verifying what we receive.

Two schemes are spoken:

* **draft-cavage** (draft-cavage-http-signatures-12), as Mastodon sends it
  (``app/lib/request.rb``): ``Signature: keyId="…",algorithm="rsa-sha256",
  headers="(request-target) host date digest content-type",signature="…"``.
  We name ``rsa-sha256`` for RSA keys because that is what Mastodon sends and
  accepts (it accepts only ``rsa-sha256`` and ``hs2019``,
  ``app/lib/signed_request.rb``); Ed25519 keys are named ``hs2019`` ("derived
  from the key", cavage-12 section 2.1.3). ``(request-target)`` is the lowercased
  method, a space, the path and ``?query`` when there is one. A body is bound by
  ``Digest: SHA-256=<base64>`` (RFC 3230).
* **RFC 9421** HTTP Message Signatures: ``Signature-Input: sig1=("@method"
  "@target-uri" "content-digest" "content-type");created=…;expires=…;keyid="…";
  alg="rsa-v1_5-sha256"`` (or ``"ed25519"``), ``Signature: sig1=:<base64>:``,
  and ``Content-Digest: sha-256=:<base64>:`` (RFC 9530), all serialised as
  structured fields (RFC 8941) with ``http_sf``.

Verification is split in three so the inbox can do cheap checks first:
:func:`~federation.signature_parsing.parse_signature` (every rule that needs no
key: what must be signed, time window, digest; see that module),
:func:`verify_parsed` (the algorithm must fit the key type, then the
cryptography), and :func:`verify_request`, which resolves the key through a
callback and, when verification fails, asks for a fresh copy once (the sender
may have rotated its key, as Mastodon's ``signature_verification.rb`` does
with ``possibly_stale?``/``refresh!``).

Algorithms: ``rsa-sha256``, ``rsa-v1_5-sha256`` and ``hs2019`` with an RSA key
mean RSASSA-PKCS1-v1_5 with SHA-256 (``hs2019`` is RSA-SHA256 in practice across
the fediverse); ``ed25519`` and ``hs2019`` with an Ed25519 key mean Ed25519. Any
other name, or a name that contradicts the key (``hmac-sha256`` with a public
RSA key used as the HMAC secret, ``ed25519`` with an RSA key), is refused as an
algorithm swap. Mastodon verifies RFC 9421 with RSA keys only, so RSA stays the
default key for federation.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Generator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime

import http_sf
import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.errors import SignatureError
from federation.keys import (
    PrivateKey,
    PublicKey,
    SigningKey,
    host_of,
    load_public_key_multibase,
    load_public_key_pem,
    same_public_key,
)
from federation.signature_parsing import (
    ParsedSignature,
    RequestView,
    SignatureScheme,
    parse_signature,
    rfc9421_base,
)

__all__ = [
    "HttpSignatureAuth",
    "KeyResolver",
    "ParsedSignature",
    "PublicKey",
    "SignatureScheme",
    "SigningKey",
    "host_of",
    "load_public_key_multibase",
    "load_public_key_pem",
    "parse_signature",
    "sign_request",
    "verify_parsed",
    "verify_request",
]

KeyResolver = Callable[[str, bool], Awaitable[PublicKey]]
"""``resolve_key(key_id, refresh)``: the public key for ``key_id``; with
``refresh=True`` it must bypass any cache. Raises KeyFetchError when it cannot."""

RSA_ALGORITHMS = frozenset({"rsa-sha256", "rsa-v1_5-sha256", "hs2019"})
ED25519_ALGORITHMS = frozenset({"ed25519", "hs2019"})


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def sign_request(
    method: str,
    url: str | httpx.URL,
    headers: Mapping[str, str],
    body: bytes | None,
    key: SigningKey,
    *,
    now: datetime | None = None,
    scheme: SignatureScheme = "cavage",
    expires_in: int = 3600,
) -> dict[str, str]:
    """Sign a request; returns the headers to add to it.

    Always ``Host`` and ``Date``; ``Digest`` (cavage) or ``Content-Digest``
    (RFC 9421) when ``body`` is not None (pass ``b""`` for an empty POST);
    ``Signature``, and ``Signature-Input`` for RFC 9421. A ``Host`` already in
    ``headers`` is kept, so the signature covers the value that is sent;
    ``Content-Type`` is signed when ``headers`` has one and there is a body.
    """
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    given = {name.lower(): value for name, value in headers.items()}
    added = {
        "Host": given.get("host") or parsed.netloc.decode("ascii"),
        "Date": format_datetime(now or datetime.now(UTC), usegmt=True),
    }
    path, _, query = parsed.raw_path.decode("ascii").partition("?")
    is_rsa = isinstance(key.private_key, rsa.RSAPrivateKey)
    covered = ["content-type"] if body is not None and "content-type" in given else []
    if scheme == "cavage":
        if body is not None:
            added["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
            covered.insert(0, "digest")
        names = ["(request-target)", "host", "date", *covered]
        view = RequestView(method, parsed.scheme, path, query, given | _lower(added))
        lines = [f"{method.lower()} {view.target}"] + [view.header(n) for n in names[1:]]
        signed = "\n".join(f"{n}: {v}" for n, v in zip(names, lines, strict=True))
        signature = base64.b64encode(_sign(key.private_key, signed.encode())).decode()
        algorithm = "rsa-sha256" if is_rsa else "hs2019"
        added["Signature"] = (
            f'keyId="{key.key_id}",algorithm="{algorithm}",'
            f'headers="{" ".join(names)}",signature="{signature}"'
        )
        return added
    if body is not None:
        added["Content-Digest"] = http_sf.ser({"sha-256": (hashlib.sha256(body).digest(), {})})
        covered.insert(0, "content-digest")
    components = ["@method", "@target-uri", *covered]
    created = int((now or datetime.now(UTC)).timestamp())
    params: dict[str, http_sf.types.BareItemType] = {
        "created": created,
        "expires": created + expires_in,
        "keyid": key.key_id,
        "alg": "rsa-v1_5-sha256" if is_rsa else "ed25519",
    }
    items: list[http_sf.ItemType] = [(name, {}) for name in components]
    signature_input = http_sf.ser({"sig1": (items, params)})
    view = RequestView(method, parsed.scheme, path, query, given | _lower(added))
    base = rfc9421_base(view, components, signature_input.removeprefix("sig1="))
    added["Signature-Input"] = signature_input
    added["Signature"] = http_sf.ser({"sig1": (_sign(key.private_key, base), {})})
    return added


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def verify_parsed(parsed: ParsedSignature, public_key: PublicKey) -> None:
    """Check ``parsed`` against ``public_key``; raises SignatureError."""
    algorithm = parsed.algorithm
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if algorithm is not None and algorithm not in RSA_ALGORITHMS:
                raise _swapped(algorithm, "an RSA")
            public_key.verify(
                parsed.signature, parsed.signing_string, padding.PKCS1v15(), hashes.SHA256()
            )
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            if algorithm is not None and algorithm not in ED25519_ALGORITHMS:
                raise _swapped(algorithm, "an Ed25519")
            public_key.verify(parsed.signature, parsed.signing_string)
        else:  # a caller bypassed the type checker
            raise SignatureError("unsupported key type")
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def _swapped(algorithm: str, kind: str) -> SignatureError:
    return SignatureError(
        f"signature algorithm {algorithm[:40]!r} does not fit {kind} key (algorithm swapped)"
    )


async def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    resolve_key: KeyResolver,
    now: datetime | None = None,
    window: int = 3600,
    scheme: str = "https",
) -> str:
    """Verify an incoming request's signature; returns the verified ``keyId``.

    ``path`` and ``query`` are raw (Quart: ``request.scope["raw_path"]`` and
    ``request.query_string``, not the decoded ``request.path``). The caller
    must still check that the key belongs to the activity's actor.
    """
    parsed = parse_signature(
        method, path, query, headers, body, scheme=scheme, now=now, window=window
    )
    key = await resolve_key(parsed.key_id, False)
    try:
        verify_parsed(parsed, key)
    except SignatureError:
        # The sender may have rotated its key since we cached it: fetch it once more.
        fresh = await resolve_key(parsed.key_id, True)
        if same_public_key(fresh, key):
            raise
        verify_parsed(parsed, fresh)
    return parsed.key_id


class HttpSignatureAuth(httpx.Auth):
    """Signs every request an ``httpx`` client sends (GET and POST alike)."""

    requires_request_body = True

    def __init__(self, key: SigningKey, *, scheme: SignatureScheme = "cavage") -> None:
        self.key = key
        self.scheme: SignatureScheme = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body: bytes | None = request.content
        if not body and request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            body = None
        added = sign_request(
            request.method, str(request.url), request.headers, body, self.key, scheme=self.scheme
        )
        request.headers.update(added)
        yield request
