"""A change of state that the aggregate's table refuses (``config.states``) is a 409 for the
person who asked, and changes nothing: approving a structure twice, rejecting an approved
one, resolving a resolved report."""

from __future__ import annotations

import re

from sqlalchemy import select

from domain.models import Structure
from domain.social import Report
from tests.support import TestNode
from tests.web.browser import Browser


async def test_approving_twice_or_rejecting_an_approved_structure_is_a_conflict(
    node: TestNode,
) -> None:
    await node.structure("scierie", approved=False)
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    queue = await admin.get("/admin/structures")
    found = re.search(r'action="/admin/structures/(\d+)/approve"', queue.text)
    assert found
    approve = f"/admin/structures/{found.group(1)}/approve"
    assert (await admin.post(approve, csrf_from="/admin/structures")).status == 302
    async with node.node.db.session() as session:
        decided = (await session.execute(select(Structure))).scalar_one().decided_at

    again = await admin.post(approve, csrf_from="/admin/structures")
    assert again.status == 409
    rejected = await admin.post(
        approve.replace("/approve", "/reject"), {"reason": "Hors territoire"}, csrf_from="/admin"
    )
    assert rejected.status == 409
    async with node.node.db.session() as session:
        structure = (await session.execute(select(Structure))).scalar_one()
    assert (structure.status, structure.decided_at, structure.rejection_reason) == (
        "approved",
        decided,
        "",
    )


async def test_resolving_a_resolved_report_is_a_conflict(node: TestNode) -> None:
    async with node.node.db.session() as session:
        report = Report(origin="remote.test", target_uri="https://remote.test/users/x")
        session.add(report)
        await session.flush()
        report_id = report.id
    token = await node.token("mod@example.org", role="moderator")
    path = f"/api/v1/reports/{report_id}/resolve"
    first = await node.api("POST", path, token=token, json={"note": "vu"})
    assert first.status_code == 200, await first.get_data()
    assert (await first.get_json())["state"] == "resolved"
    async with node.node.db.session() as session:
        first_resolved = await session.get(Report, report_id)
    assert first_resolved is not None and first_resolved.resolved_at is not None
    resolved_at = first_resolved.resolved_at

    second = await node.api("POST", path, token=token, json={"note": "encore"})
    assert second.status_code == 409
    assert (await second.get_json())["error"] == "conflict"
    async with node.node.db.session() as session:
        report = await session.get(Report, report_id)
    assert report is not None
    assert (report.state, report.resolved_at) == ("resolved", resolved_at)
