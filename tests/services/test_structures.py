"""``instance.services.structures`` on a real database: acting for a structure, approval."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.people import find_person
from domain.social import Notification
from domain.validation import Invalid
from instance.errors import ApiError
from instance.services import structures
from tests.support import TestNode


async def test_only_a_member_acts_for_an_approved_structure(node: TestNode) -> None:
    await node.structure("menuiserie", owner="owner@example.org")
    await node.structure("attente", owner="owner@example.org", approved=False)
    await node.person("stranger@example.org")
    async with node.node.db.session() as session:
        owner = await find_person(session, "owner@example.org")
        stranger = await find_person(session, "stranger@example.org")
        assert owner is not None and stranger is not None
        structure = await structures.acting_structure(session, owner, "menuiserie")
        assert structure.handle == "menuiserie"
        assert await structures.person_actor_ids(session, owner) == [structure.actor_id]
        refusals = [
            (owner, None, 422, {"actor": "is required"}),
            (owner, "nobody", 422, {"actor": "unknown structure"}),
            (stranger, "menuiserie", 403, None),
            (owner, "attente", 403, None),  # awaiting approval
        ]
        for person, handle, status, fields in refusals:
            with pytest.raises(ApiError) as refused:
                await structures.acting_structure(session, person, handle)
            assert (refused.value.status, refused.value.fields) == (status, fields)
        assert await structures.person_actor_ids(session, stranger) == []


async def test_approval_moves_a_structure_from_the_queue_and_tells_its_people(
    node: TestNode,
) -> None:
    await node.structure("attente", owner="owner@example.org", approved=False)
    await node.structure("refus", owner="owner@example.org", approved=False)
    await node.person("admin@example.org", role="admin")
    async with node.node.transaction() as session:
        queue = await structures.approval_queue(session)
        assert {s.handle for s in queue.pending} >= {"attente", "refus"}
        admin = await find_person(session, "admin@example.org")
        assert admin is not None
        waiting = await structures.structure_by_handle(session, "attente")
        refused = await structures.structure_by_handle(session, "refus")
        assert waiting is not None and refused is not None
        with pytest.raises(Invalid):
            await structures.reject(session, admin, refused, "  ")
        await structures.approve(session, node.node, admin, waiting)
        await structures.reject(session, admin, refused, "Hors du territoire")
    async with node.node.db.session() as session:
        queue = await structures.approval_queue(session)
        assert "attente" not in {s.handle for s in queue.pending}
        assert [s.handle for s in queue.decided][:2] == ["refus", "attente"]
        approved = await structures.structure_by_handle(session, "attente")
        assert approved is not None and approved.status == "approved"
        assert approved.actor_id is not None
        found = await structures.structure_of_actor(session, approved.actor_id)
        assert found is not None and found.id == approved.id
        owner = await find_person(session, "owner@example.org")
        assert owner is not None
        assert await structures.is_member(session, owner, approved.id)
        kinds = set(
            await session.scalars(
                select(Notification.kind).where(Notification.person_id == owner.id)
            )
        )
        assert {"structure_approved", "structure_rejected"} <= kinds
