"""Fixtures of the attack suite: databases that live for a whole module.

Most attack modules build one in-process network (``module_db`` of
``tests/conftest.py``: SQLite, and PostgreSQL too for modules marked
``dialect``) and run every attack against it (see ``test_inbox_attacks.py``): standing a node
up is the slow part, and each test uses fresh activity ids, so they do not
disturb each other.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.signatures import SigningKey
from tests.databases import DatabaseTemplates
from tests.fedinet import database_factory


@pytest.fixture(scope="module")
def sqlite_module_db(
    templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], str]:
    """The same on SQLite only, for attacks whose defence does not touch SQL."""
    return database_factory("sqlite", templates, tmp_path_factory)


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey("https://a.example/users/alice#main-key", private)


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return SigningKey(
        "https://a.example/users/alice#ed25519-key", ed25519.Ed25519PrivateKey.generate()
    )
