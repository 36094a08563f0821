"""``GET /api/v1/notifications`` and ``POST …/read``; decisions on a structure are told."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from domain.models import Structure
from domain.notify import notify_roles, notify_structure
from domain.people import find_person
from domain.social import Notification
from instance.search import encode_cursor
from instance.services import structures
from tests.api.helpers import OWNER, Api, assert_error

pytestmark = pytest.mark.dialect  # time cursors


async def _notify(api: Api, count: int) -> None:
    async with api.node.node.transaction() as session:
        structure = (
            await session.execute(select(Structure).where(Structure.handle == "menuiserie"))
        ).scalar_one()
        for i in range(count):
            await notify_structure(session, structure.id, "match", {"match": i}, f"/listings/{i}")


async def page(api: Api, token: str, **args: str) -> dict[str, Any]:
    status, body, _ = await api.call("GET", "/api/v1/notifications", token=token, query_string=args)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def test_a_structure_notifications_newest_first_paged_and_marked_read(api: Api) -> None:
    await _notify(api, 3)
    first = await page(api, api.owner, actor="menuiserie", limit="2")
    assert [n["subject"]["match"] for n in first["items"]] == [2, 1]
    assert all(n["type"] == "match" and n["read"] is False for n in first["items"])
    assert first["items"][0]["subject"]["url"] == "/listings/2"
    rest = await page(api, api.owner, actor="menuiserie", limit="2", cursor=first["next"])
    assert [n["subject"]["match"] for n in rest["items"]] == [0]
    assert rest["next"] is None

    ids = [n["id"] for n in first["items"]]
    status, body, _ = await api.call(
        "POST",
        "/api/v1/notifications/read",
        token=api.owner,
        json={"actor": "menuiserie", "ids": ids},
    )
    assert (status, body) == (200, {"read": 2})
    again = await page(api, api.owner, actor="menuiserie")
    assert [n["read"] for n in again["items"]] == [True, True, False]


async def test_others_cannot_read_or_mark_a_structure_notifications(api: Api) -> None:
    await _notify(api, 1)
    mine = await page(api, api.owner, actor="menuiserie")
    status, body, _ = await api.call(
        "GET", "/api/v1/notifications", token=api.stranger, query_string={"actor": "menuiserie"}
    )
    assert_error(status, body, 403, "forbidden")
    # A moderator is not a member either (roles never stand in for membership).
    status, body, _ = await api.call(
        "GET", "/api/v1/notifications", token=api.moderator, query_string={"actor": "menuiserie"}
    )
    assert_error(status, body, 403, "forbidden")
    assert (await page(api, api.stranger))["items"] == []
    status, body, _ = await api.call(
        "POST", "/api/v1/notifications/read", token=api.stranger,
        json={"ids": [mine["items"][0]["id"]]},
    )  # fmt: skip
    assert (status, body) == (200, {"read": 0})
    status, body, _ = await api.call("GET", "/api/v1/notifications")
    assert_error(status, body, 401, "unauthorized")


async def test_bad_paging_and_ids_are_refused(api: Api) -> None:
    past_int32 = encode_cursor({"id": 2**40})  # an id no row can have (PostgreSQL: int32)
    for args, field in (
        ({"limit": "0"}, "limit"),
        ({"cursor": "nope"}, "cursor"),
        ({"cursor": past_int32}, "cursor"),
    ):
        status, body, _ = await api.call(
            "GET", "/api/v1/notifications", token=api.owner, query_string=args
        )
        assert_error(status, body, 422, "invalid", fields={field})
    for ids in ("1", [True], [-1], [2**64], list(range(1, 502))):
        status, body, _ = await api.call(
            "POST", "/api/v1/notifications/read", token=api.owner, json={"ids": ids}
        )
        assert_error(status, body, 422, "invalid", fields={"ids"})


async def test_decisions_are_told_and_close_the_admins_notification(api: Api) -> None:
    """A rejection reaches the structure's people with its reason; the administrators'
    « awaiting approval » notification is marked handled by the decision."""
    await api.node.structure("attente", owner=OWNER, approved=False)
    admin_token = await api.node.token("admin@example.org", role="admin")
    async with api.node.node.transaction() as session:
        await notify_roles(
            session,
            ("admin",),
            "structure_pending",
            {"name": "Attente", "handle": "attente"},
            "/admin/structures",
        )
    async with api.node.node.transaction() as session:
        admin = await find_person(session, "admin@example.org")
        structure = (
            await session.execute(select(Structure).where(Structure.handle == "attente"))
        ).scalar_one()
        assert admin is not None
        await structures.reject(session, admin, structure, "Pas dans le territoire")
    told = await page(api, api.owner, actor="attente")
    assert [(n["type"], n["subject"]["reason"]) for n in told["items"]] == [
        ("structure_rejected", "Pas dans le territoire")
    ]
    pending = await page(api, admin_token)
    assert [(n["type"], n["read"]) for n in pending["items"]] == [("structure_pending", True)]

    async with api.node.node.transaction() as session:
        admin = await find_person(session, "admin@example.org")
        structure = (
            await session.execute(select(Structure).where(Structure.handle == "attente"))
        ).scalar_one()
        assert admin is not None
        await structures.approve(session, api.node.node, admin, structure)
    told = await page(api, api.owner, actor="attente")
    assert [n["type"] for n in told["items"]] == ["structure_approved", "structure_rejected"]
    async with api.node.node.db.session() as session:
        kinds = (await session.execute(select(Notification.kind))).scalars().all()
    assert sorted(kinds) == ["structure_approved", "structure_pending", "structure_rejected"]
