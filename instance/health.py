"""Health of a node: is the process up, is the database reachable and current."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from config.database import make_engine
from instance.migrate import is_current


async def schema_is_current_on(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return await connection.run_sync(is_current)


async def schema_is_current(url: str) -> bool:
    """Whether the database at ``url`` is at the head revision."""
    engine = make_engine(url)
    try:
        return await schema_is_current_on(engine)
    finally:
        await engine.dispose()
