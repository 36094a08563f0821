"""E-mail notifications, when an SMTP server is configured (``mail.smtp_host``).

A background loop sends every notification not yet e-mailed to its person,
then sets ``emailed_at``. With no SMTP host the loop is not started and
notifications stay in the UI only; a mail server that is down makes the loop
log and try again later — nothing is lost and nothing else waits for it. The
standard library's ``smtplib`` runs in a thread (no extra dependency).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from sqlalchemy import select, update

from config.database import utcnow
from config.settings import MailSettings
from domain.models import Person
from domain.social import Notification
from instance.node import Node

log = logging.getLogger(__name__)
BATCH = 50

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


def _message(settings: MailSettings, base_url: str, to: str, note: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.from_address or settings.smtp_user
    message["To"] = to
    message["Subject"] = f"Entraide — {SUBJECTS.get(note.kind, note.kind)}"
    link = f"{base_url}{note.url}" if note.url.startswith("/") else note.url
    details = "\n".join(f"{k}: {v}" for k, v in sorted(note.data.items()))
    message.set_content(f"{SUBJECTS.get(note.kind, note.kind)}\n\n{details}\n\n{link}\n")
    return message


def _send_all(settings: MailSettings, messages: list[EmailMessage]) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        for message in messages:
            smtp.send_message(message)


async def send_pending(node: Node) -> int:
    """E-mail the notifications not yet sent; returns how many went out.

    Rows are claimed first (``emailed_at`` set, ``SKIP LOCKED`` on PostgreSQL so
    that several processes never send the same one), then sent; if sending
    fails they are released for the next pass.
    """
    settings = node.settings.mail
    now = utcnow()
    async with node.db.session() as session:
        rows = await session.execute(
            select(Notification, Person.email)
            .join(Person, Notification.person_id == Person.id)
            .where(Notification.emailed_at.is_(None), Person.disabled_at.is_(None))
            .order_by(Notification.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True, of=Notification)
        )
        pending = rows.all()
        for note, _ in pending:
            note.emailed_at = now
    if not pending:
        return 0
    messages = [_message(settings, node.settings.base_url, email, note) for note, email in pending]
    try:
        await asyncio.to_thread(_send_all, settings, messages)
    except OSError:
        async with node.db.session() as session:
            await session.execute(
                update(Notification)
                .where(Notification.id.in_([note.id for note, _ in pending]))
                .values(emailed_at=None)
            )
        raise
    return len(pending)
