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
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from federation.models import Actor, ActorKey
from federation.signatures import SigningKey


def current_key(actor: Actor, kind: str = "rsa") -> ActorKey:
    """The actor's unrevoked key of a kind (the newest if several)."""
    keys = [k for k in actor.keys if k.kind == kind and k.revoked_at is None]
    if not keys:
        raise LookupError(f"actor {actor.uri} has no {kind} key")
    return max(keys, key=lambda k: (k.created_at, k.id or 0))


@lru_cache(maxsize=1024)
def _parse_private(pem: str) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise TypeError("unsupported private key type")
    return loaded


def signing_key(key: ActorKey) -> SigningKey:
    """The ``SigningKey`` of a local actor's key."""
    if key.private_key is None:
        raise LookupError(f"no private key for {key.key_id}")
    return SigningKey(key_id=key.key_id, private_key=_parse_private(key.private_key))


def actor_signing_key(actor: Actor) -> SigningKey:
    """The RSA signing key of a local actor (what Mastodon verifies)."""
    return signing_key(current_key(actor, "rsa"))


# Built once: the delivery worker reads keys on every claim.
_RSA_KEYS = select(
    ActorKey.actor_id, ActorKey.key_id, ActorKey.private_key, ActorKey.created_at, ActorKey.id
).where(
    ActorKey.actor_id.in_(bindparam("actors", expanding=True)),
    ActorKey.kind == "rsa",
    ActorKey.revoked_at.is_(None),
)


async def rsa_signing_keys(
    db: AsyncConnection | AsyncSession, actor_ids: Iterable[int]
) -> dict[int, SigningKey]:
    """:func:`actor_signing_key` of each of these actors, read with one query of the keys'
    columns (no ORM object: the delivery worker's claim). Raises ``LookupError`` like it
    for an actor without an unrevoked RSA key or without its private half."""
    wanted = set(actor_ids)
    found = await db.execute(_RSA_KEYS, {"actors": sorted(wanted)})
    newest: dict[int, Any] = {}
    for row in found:
        best = newest.get(row.actor_id)
        if best is None or (row.created_at, row.id) > (best.created_at, best.id):
            newest[row.actor_id] = row
    keys = {}
    for actor_id in wanted:
        current = newest.get(actor_id)
        if current is None:
            raise LookupError(f"actor {actor_id} has no rsa key")
        if current.private_key is None:
            raise LookupError(f"no private key for {current.key_id}")
        keys[actor_id] = SigningKey(
            key_id=current.key_id, private_key=_parse_private(current.private_key)
        )
    return keys
