"""Key pairs of local actors.

Each local actor has an RSA-2048 key (``publicKey``, the only kind Mastodon
verifies: see mastodon/documentation ``spec/security.md``) and an Ed25519 key
published as a FEP-521a ``Multikey`` in ``assertionMethod``. Private keys are
stored PEM-encoded in ``actor_keys`` and travel with backups.

Rotation (:func:`rotate_keys`) revokes the current keys and adds new ones with
new key ids; the caller federates an ``Update`` of the actor so that peers
refetch it (Mastodon refetches a key when a signature fails to verify).
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from config.database import utcnow
from federation.keys import ed25519_multibase
from federation.keystore import current_key
from federation.models import Actor, ActorKey

__all__ = [
    "current_key",
    "make_keys",
    "new_ed25519_key",
    "new_rsa_key",
    "public_pem",
    "rotate_keys",
]


def _private_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def new_rsa_key(key_id: str) -> ActorKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ActorKey(
        key_id=key_id,
        kind="rsa",
        public_key=public_pem(private.public_key()),
        private_key=_private_pem(private),
    )


def new_ed25519_key(key_id: str) -> ActorKey:
    private = ed25519.Ed25519PrivateKey.generate()
    return ActorKey(
        key_id=key_id,
        kind="ed25519",
        public_key=ed25519_multibase(private.public_key()),
        private_key=_private_pem(private),
    )


def make_keys(actor_uri: str, *, suffix: str = "") -> list[ActorKey]:
    """A fresh RSA and Ed25519 key for a local actor."""
    return [
        new_rsa_key(f"{actor_uri}#main-key{suffix}"),
        new_ed25519_key(f"{actor_uri}#ed25519-key{suffix}"),
    ]


def rotate_keys(actor: Actor) -> list[ActorKey]:
    """Revoke the actor's keys and give it new ones (new key ids)."""
    now = utcnow()
    for key in actor.keys:
        if key.revoked_at is None:
            key.revoked_at = now
    fresh = make_keys(actor.uri, suffix="-" + secrets.token_hex(4))
    actor.keys.extend(fresh)
    return fresh
