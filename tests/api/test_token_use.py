"""A token's last use is noted at most once an hour, and an API read stays a read.

Noting it on every request made each authenticated API read a write: on SQLite a
``BEGIN IMMEDIATE``, a place in the process's writer queue and a commit. The reads
now go through read-only connections; the rare note takes a writing session of its
own. What could go wrong: the note never written (« last used » stays « never »), or
written on every request again, or a read that fails because it tried to write.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from config.database import utcnow
from domain.models import ApiToken
from domain.people import TOKEN_USE_GRAIN
from tests.api.helpers import Api
from tests.support import WAIT, writer_held


async def last_used(api: Api) -> list[object]:
    async with api.node.node.db.read() as session:
        return list((await session.scalars(select(ApiToken.last_used_at))).all())


async def test_a_read_notes_the_tokens_use_hourly(api: Api) -> None:
    assert await last_used(api) == [None, None, None]  # made, never used

    status, _, _ = await api.call("GET", "/api/v1/notifications", token=api.owner)
    assert status == 200
    first = [t for t in await last_used(api) if t is not None]
    assert len(first) == 1  # the owner's token only
    assert utcnow() - first[0] < timedelta(minutes=1)

    status, _, _ = await api.call("GET", "/api/v1/timeline?actor=menuiserie", token=api.owner)
    assert status == 200
    assert [t for t in await last_used(api) if t is not None] == first  # within the hour

    async with api.node.node.db.session() as session:  # an hour and a bit ago
        await session.execute(
            update(ApiToken).values(last_used_at=utcnow() - TOKEN_USE_GRAIN - timedelta(minutes=1))
        )
    status, _, _ = await api.call("GET", "/api/v1/follows?actor=menuiserie", token=api.owner)
    assert status == 200
    again = [t for t in await last_used(api) if t is not None and utcnow() - t < TOKEN_USE_GRAIN]
    assert len(again) == 1


async def test_a_write_notes_it_in_its_own_transaction(api: Api) -> None:
    await api.publish()
    assert len([t for t in await last_used(api) if t is not None]) == 1


API_READS = (
    "/api/v1/instance",
    "/api/v1/listings",
    "/api/v1/notifications",
    "/api/v1/timeline?actor=menuiserie",
    "/api/v1/follows?actor=menuiserie",
    "/api/v1/messages?actor=menuiserie",
    "/api/v1/exchanges?actor=menuiserie",
    "/api/v1/matches?actor=menuiserie",
    "/api/v1/saved-searches?actor=menuiserie",
    "/api/v1/communities",
    "/api/v1/structures/menuiserie/followers",
)


async def test_api_reads_answer_while_the_writer_is_busy(api: Api) -> None:
    """With a token used within the hour, no API read waits for SQLite's writer (another
    task holds it); a read moved back to a writing session fails here by waiting."""
    listing = await api.publish()  # the token's use is noted now
    async with writer_held(api.node):
        for path in (*API_READS, f"/api/v1/listings/{listing['id']}"):
            try:
                status, body, _ = await asyncio.wait_for(
                    api.call("GET", path, token=api.owner), WAIT
                )
            except TimeoutError:
                raise AssertionError(f"GET {path} waited for the writer") from None
            assert status == 200, (path, status, body)
