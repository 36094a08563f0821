"""Leaving for good: a person deletes their account (and the structure only they were a
member of), an owner deletes a structure, an administrator deletes an account on request.
The ``Delete`` of the actor reaches the other node, which drops its listings; nothing
personal is left in any table of the node it left."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.database import Base
from domain.models import Person
from domain.social import AuditEntry
from federation.models import Actor, Tombstone
from tests.fedinet import network
from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser

AP = {"Accept": "application/activity+json"}
LISTING = {
    "structure": "vertbois",
    "kind": "offer",
    "title": "Planches de mélèze Vertbois",
    "description": "Planches de mélèze de l'atelier Vertbois, à donner.",
    "category": "materials",
    "modality": "give",
    "location": {"commune": "Orthez", "lat": 43.4886, "lon": -0.7722},
}
EMAIL = "claire.vertbois@a.example"
# Everything personal the test writes: none of it may remain anywhere on node A.
SECRETS = (EMAIL, "Claire Vertbois", "Atelier Vertbois", "mélèze", "Rendez-vous jeudi 9h")
# The tables that held it, checked by name (the scan below covers every table).
PERSONAL_TABLES = {
    "people", "web_sessions", "api_tokens", "memberships", "notifications", "structures",
    "listings", "messages", "conversation_participants", "posts", "follows", "activities",
    "deliveries", "actors", "saved_searches", "audit_log",
}  # fmt: skip


async def _dump(node: TestNode) -> dict[str, list[str]]:
    """Every row of every table of the node, as text."""
    tables: dict[str, list[str]] = {}
    async with node.node.db.read() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            tables[table.name] = [repr(tuple(row)) for row in rows]
    return tables


async def test_a_person_leaves_and_nothing_personal_remains(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await a.person("admin@a.example", role="admin")
        async with a.node.db.session() as session:
            from domain.people import create_person

            await create_person(session, EMAIL, PASSWORD, display_name="Claire Vertbois")
        await a.structure("vertbois", owner=EMAIL, name="Atelier Vertbois")
        await b.structure("ressourcerie", owner="r@b.example")
        own, theirs = await a.token(EMAIL), await b.token("r@b.example")
        response = await b.api(
            "POST",
            "/api/v1/follows",
            token=theirs,
            json={"actor": "ressourcerie", "target": "acct:vertbois@a.test"},
        )
        assert response.status_code == 202
        await net.settle()
        response = await a.api("POST", "/api/v1/listings", token=own, json=LISTING)
        assert response.status_code == 201, await response.get_data()
        listing_id = (await response.get_json())["ap_id"]
        response = await a.api(
            "POST",
            "/api/v1/messages",
            token=own,
            json={
                "from": "vertbois",
                "to": "acct:ressourcerie@b.test",
                "content": "Rendez-vous jeudi 9h",
            },
        )
        assert response.status_code == 201, await response.get_data()
        await net.settle()
        listed = await b.api("GET", "/api/v1/listings?origin=remote")
        assert [i["ap_id"] for i in (await listed.get_json())["items"]] == [listing_id]

        browser = Browser(a, headers={"Accept-Language": "fr"})
        await browser.login(EMAIL)
        page = await browser.get("/account/delete")
        assert page.status == 200 and "Atelier Vertbois" in page  # deleted with the account
        wrong = await browser.post(
            "/account/delete", {"password": "not it"}, csrf_from="/account/delete"
        )
        assert wrong.status == 403 and "mot de passe" in wrong
        assert any(EMAIL in row for row in (await _dump(a))["people"])
        done = await browser.post(
            "/account/delete", {"password": PASSWORD}, csrf_from="/account/delete"
        )
        assert done.status == 302
        assert (await browser.get("/account")).status == 302  # logged out
        await net.settle()

        # B received the Delete of the actor and dropped its listing and follow.
        deletes = [x for x in net.activities_to("b.test") if x["type"] == "Delete"]
        assert [d["object"] for d in deletes] == ["https://a.test/actors/vertbois"]
        listed = await b.api("GET", "/api/v1/listings?origin=remote")
        assert (await listed.get_json())["items"] == []
        # A answers 410 for the actor and the listing, and never hands the handle out again.
        actor = await a.client().get("/actors/vertbois", headers=AP)
        assert actor.status_code == 410
        listing = await a.client().get(listing_id.removeprefix("https://a.test"), headers=AP)
        assert listing.status_code == 410
        webfinger = "/.well-known/webfinger?resource=acct:vertbois@a.test"
        assert (await a.client().get(webfinger)).status_code == 404

        found = await a.api("GET", "/api/v1/listings?q=m%C3%A9l%C3%A8ze")
        assert (await found.get_json())["items"] == []  # the search index forgot it too
        tables = await _dump(a)
        assert set(tables) >= PERSONAL_TABLES
        leaks = {
            name: [row for row in rows if any(s in row for s in SECRETS)]
            for name, rows in tables.items()
        }
        assert {name: rows for name, rows in leaks.items() if rows} == {}
        async with a.node.db.read() as session:
            assert await session.scalar(select(Person).where(Person.email == EMAIL)) is None
            gone = await session.scalar(select(Actor).where(Actor.handle == "vertbois"))
            assert gone is not None and gone.deleted_at is not None and gone.name == ""
            assert await session.get(Tombstone, listing_id) is not None
            audit = (await session.execute(select(AuditEntry.action))).scalars().all()
            assert {"structure.delete", "person.delete"} <= set(audit)


async def test_owner_and_administrator_delete(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (_, (a,)):
        await a.person("admin@a.example", role="admin")
        await a.structure("vertbois", owner="o@a.example")
        await a.person("other@a.example")
        stranger = Browser(a)
        await stranger.login("other@a.example")
        assert (await stranger.get("/@vertbois/delete")).status == 403

        owner = Browser(a, headers={"Accept-Language": "en"})
        await owner.login("o@a.example")
        page = await owner.post(
            "/@vertbois/delete", {"password": PASSWORD}, csrf_from="/@vertbois/delete"
        )
        assert page.status == 302
        assert (await owner.get("/@vertbois")).status == 404

        admin = Browser(a, headers={"Accept-Language": "en"})
        await admin.login("admin@a.example")
        form: dict[str, Any] = {"email": "other@a.example", "password": PASSWORD}
        page = await admin.post("/admin/people/delete", form, csrf_from="/admin/people/delete")
        assert page.status == 302
        page = await admin.post(
            "/admin/people/delete",
            {"email": "admin@a.example", "password": PASSWORD},
            csrf_from="/admin/people/delete",
        )
        assert page.status == 422 and "last administrator" in page
        async with a.node.db.read() as session:
            emails = set((await session.execute(select(Person.email))).scalars())
        assert emails == {"admin@a.example", "o@a.example"}
