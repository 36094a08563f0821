"""Health of a node: is the process up, is the database reachable and current."""

from __future__ import annotations

from sqlalchemy.engine import make_url
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


def database_name(url: str) -> str:
    """``postgresql database entraide on /var/run/postgresql`` (no password), for messages."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite database {parsed.database or '(memory)'}"
    host = parsed.host or parsed.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = ",".join(host)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{backend} database {parsed.database} on {host}{port}"
