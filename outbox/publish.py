"""Publishing an activity: store it, address it, queue its deliveries.

The activity itself is built by ``outbox/to_ap`` (one module per object family).

:func:`emit` runs inside the caller's transaction: the ``activities`` row (so
the activity can be fetched at its id) and its ``deliveries`` rows are
committed with the change that caused them. The session remembers that the
delivery worker has work (``config.wake.wake_after_commit``); ``instance``
wakes it after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from config.wake import Queue, wake_after_commit
from federation.audience import follower_actors, inboxes_for
from federation.delivery import enqueue
from federation.models import Activity, Actor
from federation.vocab import PUBLIC as PUBLIC
from outbox.to_ap.activities import new_activity as new_activity

# ``new_activity`` (the envelope) and ``PUBLIC`` are named here too, for the callers
# that build an activity and emit it in one place.


def _object_uri(body: dict[str, Any]) -> str | None:
    obj = body.get("object")
    if isinstance(obj, dict):
        value = obj.get("id")
        return value if isinstance(value, str) else None
    return obj if isinstance(obj, str) else None


async def emit(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    body: dict[str, Any],
    *,
    to_followers: bool = True,
    recipients: Iterable[Actor] = (),
    public: bool = True,
) -> Activity:
    """Store ``body`` as ``actor``'s activity and queue it for its remote audience."""
    activity = Activity(
        uri=body["id"],
        actor_id=actor.id,
        type=body["type"],
        object_uri=_object_uri(body),
        body=body,
        public=public,
    )
    session.add(activity)
    audience: list[Actor] = list(recipients)
    if to_followers:
        audience.extend(await follower_actors(session, actor.id))
    inboxes = await inboxes_for(session, audience, mode=settings.federation.mode)
    if inboxes:
        await enqueue(session, activity, inboxes, own_domain=settings.instance.domain.lower())
        wake_after_commit(session, Queue.DELIVERY)
    else:
        await session.flush()
    return activity
