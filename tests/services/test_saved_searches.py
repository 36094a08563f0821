"""``instance.services.saved_searches`` on a real database: saving, listing, forgetting."""

from __future__ import annotations

import pytest

from domain.people import find_person
from domain.validation import Invalid
from instance.errors import NotFound
from instance.services import saved_searches
from instance.services.structures import structure_by_handle
from tests.support import TestNode


async def test_a_saved_search_is_checked_and_only_its_members_forget_it(node: TestNode) -> None:
    await node.structure("menuiserie", owner="owner@example.org")
    await node.person("stranger@example.org")
    async with node.node.transaction() as session:
        structure = await structure_by_handle(session, "menuiserie")
        assert structure is not None
        with pytest.raises(Invalid) as refused:
            await saved_searches.create(session, structure, "", {"colour": "red"})
        assert set(refused.value.errors) == {"name", "query"}
        saved = await saved_searches.create(session, structure, " Bois ", {"q": "bois"})
        assert (saved.name, saved.query) == ("Bois", {"q": "bois"})
        saved_id = saved.id
    async with node.node.transaction() as session:
        structure = await structure_by_handle(session, "menuiserie")
        stranger = await find_person(session, "stranger@example.org")
        owner = await find_person(session, "owner@example.org")
        assert structure is not None and stranger is not None and owner is not None
        assert [s.id for s in await saved_searches.saved_searches_of(session, structure)] == [
            saved_id
        ]
        with pytest.raises(NotFound):
            await saved_searches.delete(session, stranger, saved_id)
        await saved_searches.delete(session, owner, saved_id)
    async with node.node.transaction() as session:
        owner = await find_person(session, "owner@example.org")
        assert owner is not None
        with pytest.raises(NotFound):  # gone
            await saved_searches.delete(session, owner, saved_id)
