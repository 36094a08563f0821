"""A stopping node refuses new writes with 503 before running any of them (instance.draining).

The attack on "never loses a message" here is a shutdown race, not a hostile peer: a
write that reaches the node as it stops must either run and be answered, or not
run at all and say so. The end-to-end drill (SIGTERM during a burst of listings on
a real ``serve`` process) is ``tests/e2e/test_processes.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from domain.models import Listing
from instance import draining
from tests.api.helpers import listing_body
from tests.support import TestNode


@pytest.fixture
def drained() -> Iterator[None]:
    draining.begin()
    try:
        yield
    finally:
        draining.end()


async def listings(node: TestNode) -> int:
    async with node.node.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Listing)) or 0)


async def test_a_draining_node_refuses_writes_and_commits_nothing(
    node: TestNode, drained: None
) -> None:
    """The JSON API and the inbox answer 503 "unavailable" with Retry-After and
    Connection: close; no listing is stored; reads are still served."""
    await node.structure("menuiserie")
    token = await node.token("owner@example.org")
    body = listing_body()
    response = await node.api("POST", "/api/v1/listings", token=token, json=body)
    assert response.status_code == 503, await response.get_data()
    assert (await response.get_json()) == {
        "error": "unavailable",
        "message": "the node is restarting; try again in a moment",
    }
    assert response.headers["Retry-After"] == str(draining.RETRY_AFTER)
    assert response.headers["Connection"] == "close"
    assert await listings(node) == 0

    inbox = await node.client().post("/inbox", json={"type": "Create"})  # unsigned: not read
    assert inbox.status_code == 503
    assert (await inbox.get_json())["error"] == "unavailable"

    read = await node.api("GET", "/api/v1/listings")
    assert read.status_code == 200

    draining.end()
    again = await node.api("POST", "/api/v1/listings", token=token, json=body)
    assert again.status_code == 201, await again.get_data()
    assert await listings(node) == 1


@pytest.mark.parametrize(
    ("language", "title", "text"),
    [
        ("fr", "Service momentanément indisponible", "Le site redémarre."),
        ("en", "Service temporarily unavailable", "The site is restarting."),
    ],
)
async def test_a_form_sent_while_draining_gets_the_short_page(
    node: TestNode, drained: None, language: str, title: str, text: str
) -> None:
    """A page's form (here the login form) gets the 503 page in its language, which
    says the site is restarting (not that its database is down)."""
    response = await node.client().post(
        "/login",
        form={"email": "x@example.org", "password": "x"},
        headers={"Accept-Language": language},
    )
    assert response.status_code == 503
    page = (await response.get_data()).decode()
    assert f'<html lang="{language}">' in page
    assert title in page and text in page


async def test_the_trigger_marks_draining_only_once_the_stop_came() -> None:
    """Hypercorn closes connections once its shutdown trigger returns: the mark must be
    set by then, and not before the stop."""
    stop = asyncio.Event()
    waiting = asyncio.create_task(draining.trigger(stop.wait)())
    try:
        await asyncio.sleep(0.01)
        assert not draining.draining() and not waiting.done()
        stop.set()
        await asyncio.wait_for(waiting, 1)
        assert draining.draining()
    finally:
        draining.end()
