"""The follow notices (follower, follow request, follow accepted): one payload, one place."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.notify import notify_follow
from domain.social import Notification
from federation.models import Actor
from tests.support import TestNode

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@sqlite_only
async def test_notice_names_the_other_actor_for_the_structure_people(node: TestNode) -> None:
    followed = await node.structure("ressourcerie", owner="r@a.example", name="La Ressourcerie")
    follower = await node.structure("ferme", owner="f@a.example", name="Ferme du Gave")
    owner = await node.person("r@a.example")
    async with node.node.transaction() as session:
        other = await session.get(Actor, follower.actor_id)
        assert other is not None and followed.actor_id is not None
        told = await notify_follow(session, followed.actor_id, "follower", other, "/@ressourcerie")
        territory = await session.scalar(
            select(Actor.id).where(Actor.local.is_(True), Actor.type == "Application")
        )
        assert territory is not None
        assert await notify_follow(session, territory, "follower", other) == 0
    assert told == 1
    async with node.node.db.session() as session:
        notices = (
            (await session.execute(select(Notification).where(Notification.kind == "follower")))
            .scalars()
            .all()
        )
    assert [(n.person_id, n.structure_id, n.url) for n in notices] == [
        (owner.id, followed.id, "/@ressourcerie")
    ]
    assert notices[0].data == {
        "actor": other.uri,
        "name": "Ferme du Gave",
        "domain": node.domain,
    }
