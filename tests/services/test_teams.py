"""Invitations on a real database (``instance.services.teams``): one use, even when
another acceptance of the same link commits between the read and the write."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from config.database import utcnow
from domain.people import find_person
from domain.team import Invitation
from instance.services import teams
from tests.support import TestNode


async def test_an_invitation_is_used_once_even_when_accepted_twice_at_once(
    node: TestNode,
) -> None:
    await node.structure("menuiserie", owner="ana@example.org")
    await node.person("carla@example.org")
    key = node.settings.web.secret_key
    async with node.node.transaction() as session:
        owner = await find_person(session, "ana@example.org")
        assert owner is not None
        sent = await teams.invite(
            session, owner, "menuiserie", "bruno@example.org", key=key, base_url="https://x"
        )
    token = sent.link.rsplit("/", 1)[1]

    async with node.node.db.session() as session:
        carla = await find_person(session, "carla@example.org")
        assert carla is not None
        seen = await teams.open_invitation(session, token, key=key)  # still open here…
        # … when another acceptance uses it up (written behind this session's back).
        await session.execute(
            update(Invitation)
            .where(Invitation.id == seen.id)
            .values(accepted_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        assert seen.accepted_at is None  # this session's copy is stale
        with pytest.raises(teams.InvitationRefused) as refused:
            await teams.accept(session, token, carla, key=key)
        assert refused.value.reason == "used"
        await session.rollback()

    async with node.node.db.session() as session:
        owner = await find_person(session, "ana@example.org")
        assert owner is not None
        team = await teams.team(session, owner, "menuiserie")
        assert [m.person.email for m in team.members] == ["ana@example.org"]
