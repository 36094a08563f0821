"""Helpers shared by the test_hostile_input modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support import TestNode, make_settings, running_node
from tests.web.browser import Browser

ADMIN = "admin@example.org"
LISTING = {
    "structure": "ferme",
    "kind": "offer",
    "title": "Tracteur",
    "description": "Un tracteur à prêter",
    "category": "equipment",
    "modality": "lend",
}
LONG_LABEL = "acct:a@" + "b" * 70 + ".example"


def _offline(request: httpx.Request) -> httpx.Response:
    """No network in tests: every remote server is missing."""
    return httpx.Response(404)


class World:
    def __init__(self, node: TestNode, token: str, browser: Browser, listing_id: int) -> None:
        self.node = node
        self.token = token
        self.browser = browser
        self.listing_id = listing_id

    async def api(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        query: dict[str, str] | None = None,
        **headers: str,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        return await self.node.client().open(
            path, method=method, data=body, headers=headers, query_string=query, scheme="https"
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("hostile-input")
    settings = make_settings(path / "a", module_db())
    async with running_node(settings, http_transport=httpx.MockTransport(_offline)) as node:
        await node.structure("ferme", owner=ADMIN)
        await node.structure("voisin", owner="voisin@example.org")
        await node.person(ADMIN, role="admin")
        from sqlalchemy import update

        from domain.models import Person

        async with node.node.db.session() as session:
            await session.execute(update(Person).where(Person.email == ADMIN).values(role="admin"))
        token = await node.token(ADMIN)
        created = await node.api("POST", "/api/v1/listings", token=token, json=LISTING)
        assert created.status_code == 201
        browser = Browser(node)
        await browser.login(ADMIN)
        yield World(node, token, browser, (await created.get_json())["id"])
