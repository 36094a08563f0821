"""The durable queue of outgoing e-mail: what the rest of the node calls to send a mail.

:func:`enqueue` writes one message in the caller's transaction (an approval, a
reset request, a notification): it goes if and only if that transaction commits,
and no web request ever waits for an SMTP server. The mail worker
(``instance.mail``) claims due rows with a lease (``federation.leases``: two workers
never send the same mail), sends them, and records the outcome here:

* sent → ``sent``;
* the server is unreachable (down, refused, timed out) → the mail waits, its tries
  unchanged, and goes when the server is back: nothing is lost;
* a temporary refusal (4xx) → tried again later (:func:`backoff`), ``failed`` after
  :data:`MAX_TRIES`; a permanent refusal (5xx) → ``failed`` at once;
* still pending after :data:`MAX_AGE` (no SMTP server configured for a week, say) →
  ``failed``: a week-old reset link or notification is not worth sending.

Without ``mail.smtp_host`` mails are still queued; the administration pages show
how many wait (:func:`waiting`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.wake import Queue, wake_after_commit
from domain import mail_states
from domain.mail_states import MAIL
from domain.models import Person
from domain.outgoing_mail import OutgoingMail

__all__ = [
    "MAX_AGE",
    "MAX_TRIES",
    "MailStatus",
    "Outcome",
    "backoff",
    "enqueue",
    "expire_old",
    "person_lang",
    "record",
    "status",
    "waiting",
]

LANGS = ("fr", "en")
MAX_TRIES = 8
MAX_AGE = timedelta(days=7)
UNREACHABLE_WAIT = timedelta(seconds=60)
SUBJECT_MAX = 300


def backoff(tries: int) -> timedelta:
    """The wait after the ``tries``-th temporary refusal (1-based): 1, 2, 4 … minutes,
    at most 4 hours (8 tries span about 4 hours)."""
    return min(timedelta(minutes=2 ** (tries - 1)), timedelta(hours=4))


def person_lang(person: Person | None, default: str) -> str:
    """The language to write to ``person`` in: theirs (``Person.locale``, set from the
    page language at sign-up and at each login), else the node's default."""
    lang = person.locale if person is not None else None
    if lang in LANGS:
        return str(lang)
    return default if default in LANGS else "fr"


async def enqueue(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    body: str,
    lang: str,
    kind: str,
    dedupe_key: str | None = None,
) -> None:
    """Queue one mail in ``session``'s transaction (sent by the mail worker after the
    commit). A ``dedupe_key`` already queued makes this a no-op."""
    if dedupe_key is not None:
        known = await session.scalar(
            select(OutgoingMail.id).where(OutgoingMail.dedupe_key == dedupe_key)
        )
        if known is not None:
            return
    now = utcnow()
    mail = OutgoingMail(
        to_address=to,
        subject=" ".join(subject.split())[:SUBJECT_MAX],  # no header injection
        body=body,
        lang=lang,
        kind=kind,
        dedupe_key=dedupe_key,
        tries=0,
        next_attempt_at=now,
        created_at=now,
    )
    mail_states.transition(mail, "pending")
    session.add(mail)
    await session.flush()
    wake_after_commit(session, Queue.MAIL)


async def waiting(session: AsyncSession) -> int:
    """How many mails are waiting to be sent."""
    count = await session.scalar(
        select(func.count(OutgoingMail.id)).where(OutgoingMail.state == "pending")
    )
    return int(count or 0)


@dataclass(frozen=True)
class MailStatus:
    """What the administration hub says about e-mail."""

    configured: bool  # mail.smtp_host is set
    waiting: int
    failed: int  # given up (kept ``workers.keep_days`` days)
    last_error: str  # of the mails waiting, the latest error ("" when none)


async def status(session: AsyncSession, configured: bool) -> MailStatus:
    counts = dict(
        (
            await session.execute(
                select(OutgoingMail.state, func.count(OutgoingMail.id)).group_by(OutgoingMail.state)
            )
        ).all()
    )
    last_error = await session.scalar(
        select(OutgoingMail.last_error)
        .where(OutgoingMail.state == "pending", OutgoingMail.last_error.is_not(None))
        .order_by(OutgoingMail.next_attempt_at.desc())
        .limit(1)
    )
    return MailStatus(
        configured=configured,
        waiting=int(counts.get("pending", 0)),
        failed=int(counts.get("failed", 0)),
        last_error=last_error or "",
    )


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed mail: ``sent``, ``unreachable`` (the server could not be
    reached: wait, no try counted), ``retry`` (a temporary refusal) or ``refused`` (for good)."""

    mail_id: int
    result: str
    error: str = ""


async def record(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    """Write the outcomes of a batch the worker claimed, and release its lease."""
    for outcome in outcomes:
        mail = await session.get(OutgoingMail, outcome.mail_id)
        if mail is None or mail.state != "pending":
            continue
        mail.locked_by = None
        mail.locked_until = None
        mail.last_error = outcome.error[:1000] or None
        if outcome.result == "sent":
            mail_states.transition(mail, "sent")
            mail.sent_at = now
            mail.last_error = None
        elif outcome.result == "unreachable":
            mail.next_attempt_at = now + UNREACHABLE_WAIT
        elif outcome.result == "retry" and mail.tries + 1 < MAX_TRIES:
            mail.tries += 1
            mail.next_attempt_at = now + backoff(mail.tries)
        else:
            mail.tries += 1
            mail_states.transition(mail, "failed")


async def expire_old(session: AsyncSession, now: datetime) -> int:
    """Give up the mails still pending after :data:`MAX_AGE` (not leased)."""
    stmt = update(OutgoingMail).where(
        OutgoingMail.created_at < now - MAX_AGE, OutgoingMail.locked_by.is_(None)
    )
    result = await session.execute(
        MAIL.bulk(stmt, OutgoingMail.state, "failed").values(last_error="too old: not sent")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
