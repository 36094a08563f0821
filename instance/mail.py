"""The mail worker: sends the durable queue of outgoing mail (``outgoing_mail``) through
the SMTP server of the settings (``mail.*``), and turns notifications into mail.

Each pass (:func:`send_due`) claims due mails with a lease (``federation.leases``, so
two workers — several ``serve`` or ``worker`` processes on PostgreSQL — never take the
same mail), sends them over one SMTP connection (the standard library's ``smtplib``,
in a thread), and records each outcome (``instance.services.outgoing_mail.record``):
an unreachable server puts the mails back to wait, nothing is lost. A worker that
dies between sending and recording leaves its lease to run out, and the mail goes
again: at least once, never lost.

Without ``mail.smtp_host`` nothing is sent; mails wait in the queue (and are given up
after a week), and the administration pages say how many.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select

from config.database import utcnow
from config.settings import MailSettings, Settings
from domain.outgoing_mail import OutgoingMail
from federation.leases import claim_rows, release_leases
from instance.node import Node
from instance.services import outgoing_mail
from instance.services.mail_notifications import queue_notifications
from instance.services.outgoing_mail import Outcome

log = logging.getLogger(__name__)
BATCH = 50
LEASE_SECONDS = 300
WORKER_PREFIX = "mail-"


class Unreachable(OSError):
    """The SMTP server could not be reached (or would not let us in)."""


def worker_id() -> str:
    return f"{WORKER_PREFIX}{socket.gethostname()[:30]}-{os.getpid()}-{secrets.token_hex(3)}"


def sender_address(settings: Settings) -> str:
    mail = settings.mail
    return mail.from_address or mail.smtp_user or f"noreply@{settings.instance.domain}"


def build_message(settings: Settings, mail: OutgoingMail) -> EmailMessage:
    """The message of one queued mail (ValueError if a header is not writable)."""
    message = EmailMessage()
    message["From"] = sender_address(settings)
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = make_msgid(domain=settings.instance.domain.split(":")[0])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    message["Content-Language"] = mail.lang  # after set_content, which drops Content-*
    return message


def _code(exc: smtplib.SMTPException) -> int:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else 550
    return int(getattr(exc, "smtp_code", 0) or 0)


def _send(settings: MailSettings, batch: list[tuple[int, EmailMessage]]) -> list[Outcome]:
    """Send ``batch`` over one connection; the outcome of each (runs in a thread)."""
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
    except OSError as exc:
        raise Unreachable(str(exc) or type(exc).__name__) from exc
    outcomes: list[Outcome] = []
    with smtp:
        try:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
        except OSError as exc:
            raise Unreachable(str(exc) or type(exc).__name__) from exc
        for index, (mail_id, message) in enumerate(batch):
            try:
                smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                rest = batch[index:]
                outcomes += [Outcome(i, "unreachable", str(exc)) for i, _ in rest]
                return outcomes
            except smtplib.SMTPException as exc:
                code = _code(exc)
                result = "refused" if code >= 500 else "retry"
                outcomes.append(Outcome(mail_id, result, f"{code} {exc}"))
            except OSError as exc:
                rest = batch[index:]
                outcomes += [Outcome(i, "unreachable", str(exc)) for i, _ in rest]
                return outcomes
            else:
                outcomes.append(Outcome(mail_id, "sent"))
    return outcomes


async def send_due(node: Node, *, now: datetime | None = None, worker: str | None = None) -> int:
    """Send the mails that are due; returns how many were sent.

    Raises the ``OSError`` of the connection (refused, timed out, not let in) when the
    SMTP server cannot be reached, after putting the claimed mails back to wait for it.
    """
    settings = node.settings
    now = now or utcnow()
    async with node.db.session() as session:
        await outgoing_mail.expire_old(session, now)
    if not settings.mail.smtp_host:
        return 0
    worker = worker or worker_id()
    async with node.db.session() as session:
        ids = await claim_rows(
            session,
            OutgoingMail,
            worker,
            due=[OutgoingMail.state == "pending", OutgoingMail.next_attempt_at <= now],
            order_by=[OutgoingMail.next_attempt_at, OutgoingMail.id],
            batch=BATCH,
            lease_seconds=LEASE_SECONDS,
            now=now,
            skip_locked=not node.db.is_sqlite,
        )
        rows = (
            (await session.execute(select(OutgoingMail).where(OutgoingMail.id.in_(ids))))
            .scalars()
            .all()
        )
    if not rows:
        return 0
    batch: list[tuple[int, EmailMessage]] = []
    outcomes: list[Outcome] = []
    for mail in rows:
        try:
            batch.append((mail.id, build_message(settings, mail)))
        except ValueError as exc:
            outcomes.append(Outcome(mail.id, "refused", f"not a writable message: {exc}"))
    unreachable: Unreachable | None = None
    try:
        outcomes += await asyncio.to_thread(_send, settings.mail, batch) if batch else []
    except Unreachable as exc:
        unreachable = exc
        outcomes += [Outcome(mail_id, "unreachable", str(exc)) for mail_id, _ in batch]
    async with node.db.session() as session:
        await outgoing_mail.record(session, outcomes, now)
    if unreachable is not None:
        cause = unreachable.__cause__
        raise cause if isinstance(cause, OSError) else unreachable
    return sum(1 for outcome in outcomes if outcome.result == "sent")


async def release_stale(node: Node) -> int:
    """Free the mails claimed by workers of a previous run (SQLite: we are the only one)."""
    return await release_leases(node.db, OutgoingMail, OutgoingMail.state == "pending")


async def send_pending(node: Node, *, now: datetime | None = None) -> int:
    """One pass of the mail worker: queue the notifications due for e-mail, then send
    what is due. Returns how many mails went out."""
    await queue_notifications(node.db, node.settings, now=now)
    return await send_due(node, now=now)
