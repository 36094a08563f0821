"""Loading actors' keys for signing and verifying.

Private keys of local actors are parsed once per key id and kept in a small
cache: parsing a PEM RSA key costs about as much as one signature.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.models import Actor, ActorKey
from federation.signatures import SigningKey


def _newness(created_at: Any, row_id: int | None) -> tuple[Any, int]:
    """Which of an actor's unrevoked keys is current: the newest, then the last made."""
    return created_at, row_id or 0


def current_key(actor: Actor, kind: str = "rsa") -> ActorKey:
    """The actor's unrevoked key of a kind (the newest if several)."""
    keys = [k for k in actor.keys if k.kind == kind and k.revoked_at is None]
    if not keys:
        raise LookupError(f"actor {actor.uri} has no {kind} key")
    return max(keys, key=lambda k: _newness(k.created_at, k.id))


@lru_cache(maxsize=1024)
def _parse_private(pem: str) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise TypeError("unsupported private key type")
    return loaded


def signing_key(key: ActorKey) -> SigningKey:
    """The ``SigningKey`` of a local actor's key."""
    return _signing(key.key_id, key.private_key)


def _signing(key_id: str, private_key: str | None) -> SigningKey:
    if private_key is None:
        raise LookupError(f"no private key for {key_id}")
    return SigningKey(key_id=key_id, private_key=_parse_private(private_key))


def actor_signing_key(actor: Actor) -> SigningKey:
    """The RSA signing key of a local actor (what Mastodon verifies)."""
    return signing_key(current_key(actor, "rsa"))


# The columns an RSA signing key is chosen from (labelled, to sit beside others in a join):
# the delivery worker reads them on every claim, with its activities.
RSA_KEY_COLUMNS = (
    ActorKey.actor_id.label("key_actor"),
    ActorKey.key_id,
    ActorKey.private_key,
    ActorKey.created_at.label("key_created_at"),
    ActorKey.id.label("key_row"),
)
# Which keys those are: an actor's unrevoked RSA keys (the newest is chosen).
RSA_KEYS_OF_ACTOR = (ActorKey.kind == "rsa", ActorKey.revoked_at.is_(None))


def current_signing_keys(rows: Iterable[Any], actor_ids: Iterable[int]) -> dict[int, SigningKey]:
    """The signing key of each of ``actor_ids`` from rows of :data:`RSA_KEY_COLUMNS` (rows
    whose ``key_actor`` is None, from an outer join, are passed over): the newest, as
    :func:`current_key` chooses. Raises ``LookupError`` for an actor without one."""
    newest: dict[int, Any] = {}
    for row in rows:
        if row.key_actor is None:
            continue
        best = newest.get(row.key_actor)
        if best is None or _newness(row.key_created_at, row.key_row) > _newness(
            best.key_created_at, best.key_row
        ):
            newest[row.key_actor] = row
    keys = {}
    for actor_id in set(actor_ids):
        current = newest.get(actor_id)
        if current is None:
            raise LookupError(f"actor {actor_id} has no rsa key")
        keys[actor_id] = _signing(current.key_id, current.private_key)
    return keys
