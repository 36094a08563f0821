"""A token's last use is noted at most once an hour, and an API read stays a read.

Noting it on every request made each authenticated API read a write: on SQLite a
``BEGIN IMMEDIATE``, a place in the process's writer queue and a commit. The reads
now go through read-only connections; the rare note takes a writing session of its
own. What could go wrong: the note never written (« last used » stays « never »), or
written on every request again, or a read that fails because it tried to write.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from config.database import utcnow
from domain.models import ApiToken
from domain.people import TOKEN_USE_GRAIN
from tests.api.helpers import Api


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
