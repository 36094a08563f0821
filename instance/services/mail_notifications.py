"""Notifications by e-mail: the mail worker turns each notification not yet e-mailed into
a queued mail (``instance.services.outgoing_mail``), in its person's language.

A notification is taken once (``emailed_at`` set in the same transaction as the mail is
queued, the mail keyed ``notification:<id>``); one older than the queue's
:data:`~instance.services.outgoing_mail.MAX_AGE` is left alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database, utcnow
from config.settings import Settings
from domain.models import Person
from domain.social import Notification
from instance.services.outgoing_mail import MAX_AGE, enqueue, person_lang

BATCH = 200

SUBJECTS = {
    "message": "Nouveau message · New message",
    "follower": "Nouvel abonné · New follower",
    "follow_request": "Demande d'abonnement · Follow request",
    "follow_accepted": "Abonnement accepté · Follow accepted",
    "peering_request": "Demande d'appairage · Peering request",
    "structure_pending": "Structure à valider · Structure awaiting approval",
    "report": "Nouveau signalement · New report",
    "match": "Une annonce correspond · A listing matches",
    "saved_search": "Nouvelle annonce pour votre recherche · New listing for your search",
    "exchange": "Échange · Exchange",
    "structure_approved": "Structure validée · Structure approved",
    "structure_rejected": "Structure non validée · Structure not approved",
    "signup_attempt": "Inscription avec votre adresse · Sign-up with your address",
}


def _body(base_url: str, note: Notification) -> str:
    link = f"{base_url}{note.url}" if note.url.startswith("/") else note.url
    details = "\n".join(f"{k}: {v}" for k, v in sorted(note.data.items()))
    return f"{SUBJECTS.get(note.kind, note.kind)}\n\n{details}\n\n{link}\n"


async def _queue_batch(session: AsyncSession, settings: Settings, now: datetime) -> int:
    rows = await session.execute(
        select(Notification, Person)
        .join(Person, Notification.person_id == Person.id)
        .where(
            Notification.emailed_at.is_(None),
            Notification.created_at >= now - MAX_AGE,
            Person.disabled_at.is_(None),
        )
        .order_by(Notification.id)
        .limit(BATCH)
    )
    pending = rows.all()
    for note, person in pending:
        await enqueue(
            session,
            to=person.email,
            subject=f"Entraide — {SUBJECTS.get(note.kind, note.kind)}",
            body=_body(settings.base_url, note),
            lang=person_lang(person, settings.web.default_locale),
            kind=f"notification:{note.kind}"[:32],
            dedupe_key=f"notification:{note.id}",
        )
        note.emailed_at = now
    return len(pending)


async def queue_notifications(
    db: Database, settings: Settings, *, now: datetime | None = None
) -> int:
    """Queue the mail of every notification due for one; returns how many were queued."""
    now = now or utcnow()
    total = 0
    while True:
        async with db.session() as session:
            queued = await _queue_batch(session, settings, now)
        total += queued
        if queued < BATCH:
            return total
