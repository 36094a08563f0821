"""Reading an incoming HTTP signature: parse it, then hold it to our rules.

:func:`parse_signature` turns a request (method, raw path, raw query string,
headers, body) into a :class:`ParsedSignature`: the ``keyId``, the algorithm the
sender named, the exact bytes that were signed and the signature. It does every
check that needs no key, so that a stale or sloppy request is refused before we
fetch anything from its sender:

* **Scheme.** RFC 9421 when ``Signature-Input`` is present; otherwise the
  draft-cavage ``Signature`` header (or ``Authorization: Signature …``), which is
  what Mastodon sends (``app/lib/signed_request.rb``).
* **What must be signed.** Cavage: ``(request-target)``, ``host``, and ``date``
  (or ``(created)`` with ``hs2019``, as Mastodon allows). RFC 9421: ``@method``,
  the host (``@target-uri`` or ``@authority``), the path (``@target-uri``,
  ``@request-target`` or ``@path`` + ``@query``) and a ``created`` parameter.
  A request with a body (or any POST/PUT/PATCH) must sign ``digest`` or
  ``content-digest``, and the digest must match the body (SHA-256 or SHA-512).
* **Query string.** ``(request-target)`` always includes ``?query``. Mastodon
  still accepts signatures made without it (a "compatibility quirk" for its own
  releases before 4.3, ``spec/requests/signature_verification_spec.rb``,
  mastodon/mastodon#28476 and #31994; Misskey signs that way too,
  misskey-dev/misskey#17941) and bovine drops it when verifying; we do
  neither, so a signature cannot be moved to another query string. The cost:
  signed GETs *with a query* from those senders fail; inbox POSTs have none.
* **Time.** ``Date`` / ``created`` must lie within ``window`` seconds of our
  clock (either side); ``expires`` must not have passed (60 s leeway for skew).

RFC 9421 component values follow section 2: ``@method`` as sent, ``@authority``
lowercased without the default port, ``@target-uri`` = scheme://Host + path +
query (the scheme is a parameter: we cannot see it behind a proxy), and the
``@signature-params`` line is the re-serialised ``Signature-Input`` member.
Components with parameters (``;sf``, ``;key``, ``;req`` …) are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

import http_sf

from federation.errors import SignatureError

SignatureScheme = Literal["cavage", "rfc9421"]

EXPIRES_LEEWAY = 60
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([0-9]+))\s*(,|$)')
_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)


@dataclass(frozen=True)
class ParsedSignature:
    """A signature that passed every key-independent check, awaiting its key."""

    scheme: SignatureScheme
    key_id: str
    algorithm: str | None  # lowercased as named by the sender; None = not named (9421)
    signing_string: bytes
    signature: bytes
    components: tuple[str, ...]
    created: datetime | None
    expires: datetime | None


@dataclass(frozen=True)
class RequestView:
    """What a signature can cover: shared by the signer and the verifier."""

    method: str
    scheme: str  # "https" or "http", for @target-uri and @scheme
    path: str  # raw, percent-encoded, as on the request line
    query: str  # raw, without the "?"
    headers: Mapping[str, str]  # lowercase names

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        return value.strip()

    def component(self, name: str) -> str:
        """The RFC 9421 section 2 value of one covered component."""
        if not name.startswith("@"):
            return self.header(name)
        if name == "@method":
            return self.method.upper()
        if name == "@scheme":
            return self.scheme
        if name == "@authority":
            host = self.header("host").lower()
            default = ":443" if self.scheme == "https" else ":80"
            return host.removesuffix(default)
        if name == "@target-uri":
            return f"{self.scheme}://{self.header('host')}{self.target}"
        if name == "@request-target":
            return self.target
        if name == "@path":
            return self.path or "/"
        if name == "@query":
            return f"?{self.query}"
        raise SignatureError(f"unsupported signature component {name[:40]!r}")


def rfc9421_base(view: RequestView, components: Sequence[str], params: str) -> bytes:
    """The RFC 9421 signature base; ``params`` is the serialised inner list."""
    lines = [f'"{name}": {view.component(name)}' for name in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("utf-8")


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def parse_signature(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    scheme: str = "https",
    now: datetime | None = None,
    window: int = 3600,
) -> ParsedSignature:
    """Parse and check the signature of an incoming request (see module doc).

    ``path`` and ``query`` must be raw (percent-encoded, as received);
    ``scheme`` is the one the sender used to reach us. Raises SignatureError.
    """
    view = RequestView(method, scheme.lower(), path or "/", query, _lower_headers(headers))
    now = now or datetime.now(UTC)
    needs_digest = bool(body) or method.upper() in _BODY_METHODS
    parsed = _parse_rfc9421(view) if "signature-input" in view.headers else _parse_cavage(view)
    names = set(parsed.components)
    if needs_digest and not names & {"digest", "content-digest"}:
        raise SignatureError("a request with a body must sign its Digest / Content-Digest")
    for name, when in (("created time", parsed.created), ("Date", _signed_date(view, names))):
        if when is not None:
            _check_window(when, now, window, name)
    if parsed.expires is not None:
        if parsed.created is not None and parsed.expires < parsed.created:
            raise SignatureError("signature expires before it was created")
        # now - leeway, not expires + leeway: an expires in year 9999 must not overflow.
        if now - timedelta(seconds=EXPIRES_LEEWAY) > parsed.expires:
            raise SignatureError("signature has expired")
    _check_digests(view, names, body or b"")
    return parsed


def _signed_date(view: RequestView, names: set[str]) -> datetime | None:
    if "date" not in names:
        return None
    raw = view.header("date")
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError) as exc:
        raise SignatureError("the Date header is not a valid HTTP date") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check_window(when: datetime, now: datetime, window: int, what: str) -> None:
    if when > now + timedelta(seconds=window):
        raise SignatureError(f"the signed {what} is in the future")
    if when < now - timedelta(seconds=window):
        raise SignatureError(f"the signed {what} is outside the accepted time window")


def _timestamp(raw: object, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(raw)), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise SignatureError(f"signature parameter {what!r} is not a timestamp") from exc


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


# ---------------------------------------------------------------- cavage


def _cavage_params(raw: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        match = _CAVAGE_PARAM.match(raw, pos)
        if match is None or match.end() == pos:
            raise SignatureError("malformed Signature header")
        name = match.group(1).lower()
        if name in params:
            raise SignatureError(f"duplicate {name!r} in the Signature header")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    return params


def _parse_cavage(view: RequestView) -> ParsedSignature:
    raw = view.headers.get("signature")
    auth = view.headers.get("authorization", "")
    if raw is None and auth[:10].lower() == "signature ":
        raw = auth[10:]
    if raw is None:
        raise SignatureError("request is not signed")
    params = _cavage_params(raw)
    key_id, signature = params.get("keyid"), params.get("signature")
    if not key_id or not signature:
        raise SignatureError("the Signature header needs keyId and signature")
    # Mastodon's defaults when the sender leaves them out (signed_request.rb).
    algorithm = params.get("algorithm", "hs2019").lower()
    default_headers = "(created)" if algorithm == "hs2019" else "date"
    names = params.get("headers", default_headers).lower().split()
    if len(set(names)) != len(names):
        raise SignatureError("a header is listed twice in the signature")
    if "(request-target)" not in names:
        raise SignatureError("(request-target) must be signed")
    if "host" not in names:
        raise SignatureError("the Host header must be signed")
    if "date" not in names and "(created)" not in names:
        raise SignatureError("the Date header must be signed")
    stamps: dict[str, datetime] = {}
    lines = []
    for name in names:
        if name == "(request-target)":
            value = f"{view.method.lower()} {view.target}"
        elif name in ("(created)", "(expires)"):
            if algorithm != "hs2019":
                raise SignatureError(f"{name} may only be signed with hs2019")
            param = name[1:-1]
            if param not in params:
                raise SignatureError(f"{name} is signed but its parameter is missing")
            stamps[param] = _timestamp(params[param], param)
            value = params[param]
        elif name.startswith("("):
            raise SignatureError(f"unsupported pseudo-header {name[:40]!r}")
        else:
            value = view.header(name)
        lines.append(f"{name}: {value}")
    return ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        signing_string="\n".join(lines).encode("utf-8"),
        signature=_b64(signature, "the signature"),
        components=tuple(names),
        created=stamps.get("created"),
        expires=stamps.get("expires"),
    )


# -------------------------------------------------------------- RFC 9421


def _sf_dict(view: RequestView, name: str) -> http_sf.DictionaryType:
    try:
        parsed = http_sf.parse(view.header(name).encode("ascii"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeError, ValueError) as exc:
        raise SignatureError(f"malformed {name} header") from exc
    assert isinstance(parsed, dict)
    return parsed


def _parse_rfc9421(view: RequestView) -> ParsedSignature:
    inputs = _sf_dict(view, "signature-input")
    signatures = _sf_dict(view, "signature")
    # Several signatures may be present (a proxy may add its own): use the first
    # label that appears in both headers.
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise SignatureError("Signature-Input and Signature have no label in common")
    entry, sig_entry = inputs[label], signatures[label]
    if not (isinstance(entry, tuple) and isinstance(entry[0], list)):
        raise SignatureError("Signature-Input member is not an inner list")
    items, params = entry
    components: list[str] = []
    for item in items:
        name, item_params = item if isinstance(item, tuple) else (item, {})
        if type(name) is not str or name != name.lower() or name in components:
            raise SignatureError("malformed covered component in Signature-Input")
        if item_params:
            raise SignatureError("component parameters are not supported")
        if name.startswith("@") and name not in _DERIVED:
            raise SignatureError(f"unsupported signature component {name[:40]!r}")
        components.append(name)
    key_id, created, expires = params.get("keyid"), params.get("created"), params.get("expires")
    alg = params.get("alg")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input needs a keyid")
    if type(created) is not int:
        raise SignatureError("Signature-Input needs an integer created")
    if expires is not None and type(expires) is not int:
        raise SignatureError("Signature-Input expires must be an integer")
    if alg is not None and not isinstance(alg, str):
        raise SignatureError("Signature-Input alg must be a string")
    signature = sig_entry[0] if isinstance(sig_entry, tuple) else sig_entry
    if not isinstance(signature, bytes):
        raise SignatureError("Signature member is not a byte sequence")
    names = set(components)
    if "@method" not in names:
        raise SignatureError("@method must be signed")
    if not names & {"@target-uri", "@authority"}:
        raise SignatureError("the host (@target-uri or @authority) must be signed")
    if not names & {"@target-uri", "@request-target", "@path"}:
        raise SignatureError("the request path must be signed")
    if view.query and not names & {"@target-uri", "@request-target", "@query"}:
        raise SignatureError("the query string must be signed")
    serialised = http_sf.ser({label: entry}).removeprefix(f"{label}=")
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=alg.lower() if alg is not None else None,
        signing_string=rfc9421_base(view, components, serialised),
        signature=signature,
        components=tuple(components),
        created=_timestamp(created, "created"),
        expires=_timestamp(expires, "expires") if expires is not None else None,
    )


# --------------------------------------------------------------- digests


def _check_digests(view: RequestView, names: set[str], body: bytes) -> None:
    """Each signed digest header must carry SHA-256/512 values matching the body."""
    offered: list[tuple[str, bytes]] = []
    if "digest" in names:
        for part in view.header("digest").split(","):
            alg, sep, value = part.strip().partition("=")
            if sep and alg.lower() in _DIGESTS:
                offered.append((alg.lower(), _b64(value, "the Digest value")))
        if not offered:
            raise SignatureError("the Digest header has no SHA-256 or SHA-512 value")
    if "content-digest" in names:
        before = len(offered)
        for alg, member in _sf_dict(view, "content-digest").items():
            digest = member[0] if isinstance(member, tuple) else member
            if alg in _DIGESTS and isinstance(digest, bytes):
                offered.append((alg, digest))
        if len(offered) == before:
            raise SignatureError("the Content-Digest header has no sha-256 or sha-512 value")
    for alg, expected in offered:
        if not hmac.compare_digest(_DIGESTS[alg](body).digest(), expected):
            raise SignatureError("the body does not match its signed digest")
