"""``instance.services.reports`` on a real database: what a report points at, as the
reporting person and the moderators see it."""

from __future__ import annotations

from domain.people import find_person
from instance.services import moderation, reports
from instance.services.structures import structure_by_handle
from tests.support import TestNode


async def test_reported_things_and_the_moderators_view(node: TestNode) -> None:
    await node.structure("menuiserie", owner="owner@example.org")
    await node.structure("voisins", owner="other@example.org")
    await node.person("mod@example.org", role="moderator")
    async with node.node.db.session() as session:
        reporter = await structure_by_handle(session, "menuiserie")
        target = await structure_by_handle(session, "voisins")
        assert reporter is not None and target is not None
        assert reporter.actor is not None and target.actor is not None
        uri = target.actor.uri
        assert await reports.find_reported(session, "not-an-address", [reporter]) is None
        assert await reports.find_reported(session, uri + "-nobody", [reporter]) is None
        reported = await reports.find_reported(session, uri, [reporter])
        assert reported is not None
        assert (reported.kind, reported.title, reported.page) == ("actor", "Voisins", "/@voisins")
        assert not reported.remote
        person = await find_person(session, "owner@example.org")
        assert person is not None
        reporter_actor = reporter.actor
    report = await moderation.create_report(node.node, person, reporter_actor, uri, "spam")
    async with node.node.transaction() as session:
        assert [r.id for r in await reports.open_reports(session)] == [report.id]
        (view,) = await reports.report_views(session, "open")
        assert view.structure is not None and view.structure.handle == "voisins"
        assert view.listing is None and view.post is None
        # Suspended, the structure is no longer something a person can report.
        moderator = await find_person(session, "mod@example.org")
        target = await structure_by_handle(session, "voisins")
        assert moderator is not None and target is not None
        await moderation.suspend_structure(session, node.node, moderator, target, "abus")
    async with node.node.db.session() as session:
        reporter = await structure_by_handle(session, "menuiserie")
        assert reporter is not None
        assert await reports.find_reported(session, uri, [reporter]) is None
        entries = await reports.audit_entries(session, 10)
        assert [e.action for e in entries][:1] == ["structure.suspend"]
        assert await reports.audit_entries(session, 10, before=entries[-1].id) == []
