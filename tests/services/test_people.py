"""``instance.services.people`` on a real database: the header's unread counts."""

from __future__ import annotations

from domain.people import find_person
from domain.social import Notification
from instance.services import notifications, people
from tests.support import TestNode


async def test_unread_notifications_and_marking_them_read(node: TestNode) -> None:
    await node.person("someone@example.org")
    async with node.node.transaction() as session:
        person = await find_person(session, "someone@example.org")
        assert person is not None
        for url in ("/a", "/a", "/b"):
            session.add(Notification(person_id=person.id, kind="test", url=url))
    async with node.node.transaction() as session:
        person = await find_person(session, "someone@example.org")
        assert person is not None
        # Three notifications; no message, as the person acts for no structure.
        assert await people.waiting_counts(session, person) == (0, 3)
        await notifications.mark_read(session, person, "/a")
    async with node.node.transaction() as session:
        person = await find_person(session, "someone@example.org")
        assert person is not None
        assert await people.waiting_counts(session, person) == (0, 1)
        await notifications.mark_read(session, person)
    async with node.node.db.session() as session:
        person = await find_person(session, "someone@example.org")
        assert person is not None
        assert await people.waiting_counts(session, person) == (0, 0)
