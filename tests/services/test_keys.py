"""``instance.services.keys`` on a real database: rotating a local actor's keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from federation.models import ActorKey
from instance.errors import NotFound
from instance.services.keys import rotate_keys
from instance.services.structures import structure_by_handle
from tests.support import TestNode


async def test_rotation_revokes_the_old_key_and_refuses_an_unknown_actor(node: TestNode) -> None:
    await node.structure("menuiserie")
    async with node.node.transaction() as session:
        with pytest.raises(NotFound):
            await rotate_keys(session, node.node, "nobody")
        await rotate_keys(session, node.node, "menuiserie")
    async with node.node.db.session() as session:
        structure = await structure_by_handle(session, "menuiserie")
        assert structure is not None
        keys = list(
            await session.scalars(select(ActorKey).where(ActorKey.actor_id == structure.actor_id))
        )
        assert len(keys) >= 2
        assert any(k.revoked_at is not None for k in keys)
        assert any(k.revoked_at is None for k in keys)
