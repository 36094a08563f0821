"""Cheaper cryptography for tests that do not test it: Argon2 and RSA key generation.

* **Argon2**: production parameters cost about a quarter of a second a hash,
  paid for every person made and every login. Tests use the same algorithm
  (Argon2id) at its lowest cost: what they check is who may log in, not how
  hard a hash is to crack.
* **RSA**: every local actor (each structure, each node's territory actor)
  gets a fresh RSA-2048 key, about 50 ms of CPU each. Here a pool of 1024-bit
  primes is generated once per session and each new key is a *distinct pair*
  of them: a genuine 2048-bit RSA key, different from every other key of the
  session (so no actor can verify another's signature), built in about a
  millisecond. Keys sharing a prime are worthless outside tests; here they
  are only ever tested for being different, valid and 2048 bits.

:func:`install` patches ``domain.people`` and ``actors.keys`` for the session
(``tests/conftest.py``); a test of the real parameters can undo it with
``monkeypatch``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa

import actors.keys
import domain.people
from federation.models import ActorKey

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
PUBLIC_EXPONENT = 65537
PRIMES_PER_BATCH = 24  # 12 keys' worth: 276 distinct pairs


class KeyPool:
    """Distinct RSA-2048 private keys, each made of two primes of a growing pool."""

    def __init__(self) -> None:
        self._primes: list[int] = []
        self._pairs: Iterator[tuple[int, int]] = iter(())
        self._lock = threading.Lock()  # keys may be made in worker threads

    def _grow(self) -> None:
        old = list(self._primes)
        new: list[int] = []
        while len(new) < PRIMES_PER_BATCH:
            numbers = rsa.generate_private_key(
                public_exponent=PUBLIC_EXPONENT, key_size=2048
            ).private_numbers()
            new += [numbers.p, numbers.q]
        self._primes = old + new
        # Pairs not made before: new with old, and new with new.
        self._pairs = itertools.chain(itertools.product(new, old), itertools.combinations(new, 2))

    def _next_pair(self) -> tuple[int, int]:
        with self._lock:
            pair = next(self._pairs, None)
            if pair is None:
                self._grow()
                pair = next(self._pairs)
            return pair

    def key(self) -> rsa.RSAPrivateKey:
        while True:
            p, q = self._next_pair()
            if (p * q).bit_length() == 2048:
                break
        phi = (p - 1) * (q - 1)
        d = pow(PUBLIC_EXPONENT, -1, phi)
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q),
        )
        # The primes come from keys OpenSSL made: skip the primality
        # checks, which cost as much as making a key.
        return numbers.private_key(unsafe_skip_rsa_key_validation=True)


POOL = KeyPool()


def pooled_rsa_key(key_id: str) -> ActorKey:
    """What :func:`actors.keys.new_rsa_key` makes, from :data:`POOL`."""
    private = POOL.key()
    return ActorKey(
        key_id=key_id,
        kind="rsa",
        public_key=actors.keys.public_pem(private.public_key()),
        private_key=actors.keys._private_pem(private),
    )


def install(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(domain.people, "_hasher", FAST_HASHER)
    patch.setattr(actors.keys, "new_rsa_key", pooled_rsa_key)
