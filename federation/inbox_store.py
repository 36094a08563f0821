"""Storing received activities: once, raw, before answering 202.

The ``inbox_items`` row is the unit of durability: it is committed before the
sender hears 202, and processed afterwards by a worker. The insert ignores a
second copy of the same activity id (replays, retries, the same activity
reaching a personal inbox and the shared inbox), so each is processed once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from federation.models import InboxItem


async def store_incoming(
    session: AsyncSession,
    activity: dict[str, Any],
    *,
    actor_uri: str,
    domain: str,
    key_id: str,
    recipient: str | None,
    received_at: datetime | None = None,
) -> bool:
    """Store an activity; False when this id was already stored.

    ``received_at`` is when the request arrived (before its signature was
    checked, which may have fetched the actor): handlers compare it with when
    we last fetched the actor.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    types = activity.get("type")
    type_name = types if isinstance(types, str) else json.dumps(types)[:64]
    result = await session.execute(
        insert(InboxItem)
        .values(
            activity_uri=activity["id"],
            activity_type=type_name[:64],
            actor_uri=actor_uri,
            domain=domain,
            recipient_uri=recipient,
            key_id=key_id,
            body=json.dumps(activity, ensure_ascii=False),
            state="pending",
            tries=0,
            next_attempt_at=now,
            received_at=received_at or now,
        )
        .on_conflict_do_nothing(index_elements=["activity_uri"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
