"""``instance.services.follows`` on a real database: what local structures follow."""

from __future__ import annotations

import pytest

from instance.errors import ApiError
from instance.services import follows
from instance.services.structures import structure_by_handle
from tests.support import TestNode


async def test_following_a_local_structure_and_the_refusals(node: TestNode) -> None:
    await node.structure("menuiserie")
    await node.structure("voisins")
    settings = node.settings
    async with node.node.transaction() as session:
        me = await structure_by_handle(session, "menuiserie")
        them = await structure_by_handle(session, "voisins")
        assert me is not None and me.actor is not None
        assert them is not None and them.actor is not None
        with pytest.raises(ApiError) as yourself:
            await follows.start_following(session, settings, me, me.actor)
        assert yourself.value.fields == {"target": "is yourself"}
        with pytest.raises(ApiError) as absent:
            await follows.stop_following(session, settings, me, them.actor.uri)
        assert absent.value.status == 404
        row = await follows.start_following(session, settings, me, them.actor)
        assert row.followed_id == them.actor.id
    async with node.node.transaction() as session:
        me = await structure_by_handle(session, "menuiserie")
        them = await structure_by_handle(session, "voisins")
        assert me is not None and me.actor_id is not None
        assert them is not None and them.actor is not None and them.actor_id is not None
        assert [f.followed_id for f in await follows.follows_of(session, [me.actor_id])] == [
            them.actor_id
        ]
        state = (await follows.follow_states(session, [me.actor_id], [them.actor.uri]))[
            them.actor.uri
        ]
        assert state in ("pending", "accepted")
        assert await follows.follow_states_by(session, [me], them.actor.uri) == {
            "menuiserie": state
        }
        assert await follows.follower_count(session, them.actor_id) == (state == "accepted")
        assert await follows.territory_address(session, "b.test") == "acct:territory@b.test"
        await follows.stop_following(session, settings, me, them.actor.uri)
    async with node.node.db.session() as session:
        me = await structure_by_handle(session, "menuiserie")
        assert me is not None and me.actor_id is not None
        assert await follows.follows_of(session, [me.actor_id]) == []
