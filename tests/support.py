"""Helpers to stand up real nodes in tests.

:func:`make_settings` builds validated settings for a node on a given
database; :func:`populate` does what ``entraide init`` does after the
migrations (the territory actor); :class:`TestNode` wraps a running app
(``app.test_app()``, so startup and shutdown hooks run) with shortcuts to
create people, structures and tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from quart import Quart
from quart.typing import TestClientProtocol

from actors.local import approve_structure, create_territory_actor
from config.settings import Settings, settings_from_dict
from domain.models import Person, Structure
from domain.people import create_person, create_structure, create_token, find_person
from instance import create_app
from instance.bootstrap import bootstrap_node
from instance.node import Node

PASSWORD = "correct horse battery"


def make_settings(
    data_dir: Path,
    database_url: str,
    *,
    domain: str = "a.test",
    name: str = "Territoire A",
    scheme: str = "https",
    **sections: dict[str, Any],
) -> Settings:
    data: dict[str, Any] = {
        "instance": {"domain": domain, "name": name, "scheme": scheme},
        "database": {"url": database_url},
        "web": {"secret_key": "test-secret-" + domain},
        "federation": {"allow_private_addresses": True},
        "ratelimit": {"enabled": False},
        "workers": {"poll_interval": 0.2},
        # A loaded CI machine can stall a search of a dozen rows past the 2-second default
        # (a flaky 422 query_too_expensive); the limit's own tests set theirs
        # (tests/security/test_expensive_search.py).
        "listings": {"search_time_limit": 60.0},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    data_dir.mkdir(parents=True, exist_ok=True)
    return settings_from_dict(data, data_dir)


@dataclass
class TestNode:
    """A node running in this process."""

    app: Quart
    settings: Settings

    __test__ = False  # not a test class, despite the name

    @property
    def node(self) -> Node:
        node: Node = self.app.extensions["entraide"]
        return node

    @property
    def domain(self) -> str:
        return self.settings.instance.domain

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def client(self) -> TestClientProtocol:
        return self.app.test_client()

    async def person(self, email: str, *, role: str = "member", password: str = PASSWORD) -> Person:
        async with self.node.db.session() as session:
            existing = await find_person(session, email)
            if existing is not None:
                return existing
            return await create_person(session, email, password, role=role)

    async def structure(
        self,
        handle: str,
        *,
        owner: str = "owner@example.org",
        approved: bool = True,
        **fields: Any,
    ) -> Structure:
        await self.person(owner)
        async with self.node.db.session() as session:
            person = await find_person(session, owner)
            assert person is not None
            data = {"handle": handle, "name": fields.pop("name", handle.title()), **fields}
            structure = await create_structure(
                session, data, person, territory_handle=self.settings.instance.handle
            )
            if approved:
                await approve_structure(session, self.settings, structure, None)
            return structure

    async def token(self, email: str, *, role: str = "member") -> str:
        await self.person(email, role=role)
        async with self.node.db.session() as session:
            person = await find_person(session, email)
            assert person is not None
            return await create_token(session, person, "test")

    async def api(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, **kw: Any
    ) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        client = self.client()
        return await client.open(path, method=method, json=json, headers=headers, **kw)


async def populate(settings: Settings) -> None:
    """What ``entraide init`` does once the schema exists: the territory actor."""
    from config.database import Database

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            await create_territory_actor(session, settings)
            await bootstrap_node(session, settings)
    finally:
        await db.dispose()


@asynccontextmanager
async def running_node(
    settings: Settings,
    *,
    http_transport: httpx.AsyncBaseTransport | None = None,
    run_workers: bool = False,
) -> AsyncIterator[TestNode]:
    """A populated node whose app is serving (startup hooks run) in this process."""
    await populate(settings)
    app = create_app(settings, http_transport=http_transport, run_workers=run_workers)
    async with app.test_app():
        yield TestNode(app=app, settings=settings)


WAIT = 5.0  # seconds; a read answers in milliseconds, one queued behind the writer never


@asynccontextmanager
async def writer_held(node: TestNode) -> AsyncIterator[None]:
    """Another task holds this process's SQLite writer slot until the block ends."""
    taken, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with node.node.db.writing():
            taken.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.wait_for(taken.wait(), WAIT)
    try:
        yield
    finally:
        release.set()
        await holder
