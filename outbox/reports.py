"""Forwarding a report to the reported actor's node as a ``Flag``.

Sent by the territory actor to the reported actor's inbox; its shape is
``outbox/to_ap/reports.py``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from config.settings import Settings
from domain.social import Report
from federation.models import Actor
from outbox.publish import emit
from outbox.to_ap.reports import flag_activity


async def forward(session: AsyncSession, settings: Settings, report: Report, target: Actor) -> None:
    territory = await territory_actor(session)
    body = flag_activity(settings, territory, report, target)
    await emit(
        session, settings, territory, body, to_followers=False, recipients=[target], public=False
    )
    report.forwarded = True
