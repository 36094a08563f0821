"""Forwarding a report to the reported actor's node as a ``Flag``.

Sent by the territory actor, as Mastodon sends Flags from its instance
actor (so the reporting person stays anonymous to the other node), to the
reported actor's inbox: ``object`` lists the actor and the reported objects,
``content`` carries the reason.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from config.settings import Settings
from domain.social import Report
from federation.models import Actor
from outbox.publish import emit, new_activity


async def forward(session: AsyncSession, settings: Settings, report: Report, target: Actor) -> None:
    territory = await territory_actor(session)
    objects = [target.uri, *[o for o in report.objects if o != target.uri]]
    body = new_activity(
        settings, "Flag", territory, objects, to=[target.uri], content=report.reason
    )
    await emit(
        session, settings, territory, body, to_followers=False, recipients=[target], public=False
    )
    report.forwarded = True
