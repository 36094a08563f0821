"""Reading a remote actor document into typed values.

Accepts what Mastodon, Mitra, GoToSocial, Lemmy, Misskey, Pleroma and bovine
publish: ``publicKey`` as an object or a list of objects (RSA PEM), FEP-521a
``assertionMethod`` Multikeys (Ed25519), ``endpoints.sharedInbox``, ``to``/``cc``
irrelevant here. Rules that protect us:

* the actor ``id``, its ``inbox`` and every key id must be on the host the
  document was fetched from (``fetch_json`` already checked ``id``);
* a key whose ``owner``/``controller`` is another actor is ignored;
* a ``Multikey`` is decoded to know its kind: Mitra repeats its RSA
  ``publicKey`` there under the same id (kept once, from the PEM), and an RSA
  Multikey under another id is kept as PEM; one that does not decode (or is
  too weak, or of a kind we cannot verify) is skipped, not stored;
* strings are cut to sane lengths; the raw document is kept for later reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import KeyFetchError, OriginMismatch, PayloadError
from federation.keys import host_of, load_public_key_multibase, on_host, public_key_pem

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
# base58 decoding is quadratic: no key needs more (RSA-4096 as DER is ~750 characters).
MAX_MULTIBASE = 1_500
TERRITORY_TERMS = ("territory", "entraide:territory")


@dataclass
class RemoteKey:
    key_id: str
    kind: str  # "rsa" | "ed25519"
    public_key: str  # PEM or multibase


@dataclass
class ParsedActor:
    uri: str
    type: str
    handle: str
    domain: str
    name: str
    summary: str
    url: str | None
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers: str | None
    following: str | None
    manually_approves: bool
    is_territory: bool
    moved_to: str | None
    also_known_as: list[str] = field(default_factory=list)
    keys: list[RemoteKey] = field(default_factory=list)


def _str(value: Any, limit: int = 2048) -> str | None:
    if isinstance(value, str) and value:
        return value[:limit]
    if isinstance(value, dict):
        inner = value.get("href") or value.get("id")
        return inner[:limit] if isinstance(inner, str) else None
    return None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _type_of(doc: dict[str, Any]) -> str:
    for candidate in _list(doc.get("type")):
        if isinstance(candidate, str) and candidate in ACTOR_TYPES:
            return str(candidate)
    raise PayloadError("the document is not an actor")


def _multikey(key_id: str, value: str) -> RemoteKey | None:
    """A FEP-521a Multikey as we store it (Ed25519 as multibase, RSA as PEM), or None."""
    if len(value) > MAX_MULTIBASE:
        return None
    try:
        public = load_public_key_multibase(value)
    except KeyFetchError:
        return None
    if isinstance(public, rsa.RSAPublicKey):
        return RemoteKey(key_id, "rsa", public_key_pem(public))
    return RemoteKey(key_id, "ed25519", value)


def parse_actor(doc: dict[str, Any]) -> ParsedActor:
    """Typed values of an actor document; raises on what we cannot trust."""
    uri = _str(doc.get("id"))
    if not uri:
        raise PayloadError("the actor has no id")
    host = host_of(uri)
    inbox = _str(doc.get("inbox"))
    if not inbox:
        raise PayloadError("the actor has no inbox")
    if not on_host(inbox, host):
        raise OriginMismatch("the actor's inbox is on another host")
    endpoints = doc.get("endpoints")
    shared = _str(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    if shared and not on_host(shared, host):
        shared = None
    keys: list[RemoteKey] = []
    for entry in _list(doc.get("publicKey")):
        if not isinstance(entry, dict):
            continue
        key_id, pem = _str(entry.get("id")), entry.get("publicKeyPem")
        owner = _str(entry.get("owner")) or uri
        if key_id and isinstance(pem, str) and owner == uri and on_host(key_id, host):
            keys.append(RemoteKey(key_id, "rsa", pem[:10_000]))
    for entry in _list(doc.get("assertionMethod")):
        if not isinstance(entry, dict) or entry.get("type") != "Multikey":
            continue
        key_id, value = _str(entry.get("id")), entry.get("publicKeyMultibase")
        controller = _str(entry.get("controller")) or uri
        if not (key_id and isinstance(value, str) and controller == uri):
            continue
        if not on_host(key_id, host) or any(k.key_id == key_id for k in keys):
            continue  # Mitra: the same RSA key as publicKey, under the same id
        key = _multikey(key_id, value)
        if key is not None:
            keys.append(key)
    territory = any(doc.get(term) is True for term in TERRITORY_TERMS)
    return ParsedActor(
        uri=uri,
        type=_type_of(doc),
        handle=(_str(doc.get("preferredUsername"), 255) or "").strip(),
        domain=host,
        name=(_str(doc.get("name"), 500) or "").strip(),
        summary=_str(doc.get("summary"), 20_000) or "",
        url=_str(doc.get("url")),
        inbox=inbox,
        shared_inbox=shared,
        outbox=_str(doc.get("outbox")),
        followers=_str(doc.get("followers")),
        following=_str(doc.get("following")),
        manually_approves=doc.get("manuallyApprovesFollowers") is True,
        is_territory=territory,
        moved_to=_str(doc.get("movedTo")),
        also_known_as=[v for v in (_str(x) for x in _list(doc.get("alsoKnownAs"))) if v][:20],
        keys=keys,
    )
