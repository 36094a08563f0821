"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from argon2 import PasswordHasher

import domain.people
from tests.api.helpers import MODERATOR, OWNER, STRANGER, Api
from tests.databases import DatabaseTemplates
from tests.support import TestNode, make_settings, running_node

# Argon2 at its production cost takes ~0.25 s a person; these tests are not about it.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """People are made with a cheap Argon2 (see FAST_HASHER)."""
    monkeypatch.setattr(domain.people, "_hasher", FAST_HASHER)


@pytest.fixture
async def api(node: TestNode) -> Api:
    """The node of ``node`` with an approved structure ``menuiserie`` and tokens."""
    await node.structure("menuiserie", owner=OWNER, name="Menuiserie Laborde", commune="Oloron")
    return Api(
        node=node,
        owner=await node.token(OWNER),
        stranger=await node.token(STRANGER),
        moderator=await node.token(MODERATOR, role="moderator"),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(
    templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """One SQLite node for a whole module, for tests that only send refused requests.

    Starting a node costs a third of a second; dozens of validation cases
    share this one. Tests using it must leave nothing behind, and run in the
    module's event loop (``@pytest.mark.asyncio(loop_scope="module")``). It
    also has a structure ``attente`` awaiting approval, owned by OWNER.
    """
    directory = tmp_path_factory.mktemp("shared")
    settings = make_settings(directory / "a", templates.sqlite_url(directory))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domain.people, "_hasher", FAST_HASHER)
        async with running_node(settings) as node:
            await node.structure("menuiserie", owner=OWNER, name="Menuiserie Laborde")
            await node.structure("attente", owner=OWNER, approved=False)
            yield Api(
                node=node,
                owner=await node.token(OWNER),
                stranger=await node.token(STRANGER),
                moderator=await node.token(MODERATOR, role="moderator"),
            )
