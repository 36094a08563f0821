"""Notifications by e-mail, as each structure chose: the mail worker turns each
notification not yet e-mailed into a queued mail (``instance.services.outgoing_mail``),
in its person's language.

A structure chooses (:class:`domain.outgoing_mail.MailChoice`, set by
:func:`set_frequency`): ``now`` (the default: one mail per notification), ``digest``
(one mail a day per person, after ``mail.digest_hour`` UTC, with every notification of
such structures since the last one) or ``never``. Notifications that concern a person
rather than a structure's activity (an administrator's or moderator's notices, a
decision on one's structure, a sign-up with one's address) go at once whatever the
choice.

A notification is taken once (``emailed_at`` set in the transaction that queues its
mail, keyed ``notification:<id>``; a digest is keyed ``digest:<person>:<day>``, so there
is one a day at most). One older than the queue's
:data:`~instance.services.outgoing_mail.MAX_AGE` is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database, utcnow
from config.settings import Settings
from domain.models import Membership, Person, Structure
from domain.outgoing_mail import DEFAULT_FREQUENCY, MAIL_FREQUENCIES, MailChoice, OutgoingMail
from domain.social import Notification
from domain.validation import FieldError, Invalid
from instance.mail_text import digest_mail, notification_mail
from instance.services.outgoing_mail import MAX_AGE, enqueue, person_lang

BATCH = 200
DIGEST_MAX_ITEMS = 50
# Sent at once whatever the structure chose: they are about the person's own account.
ALWAYS = ("structure_approved", "structure_rejected", "signup_attempt")


async def frequency(session: AsyncSession, structure_id: int) -> str:
    """How the structure wants its notifications by e-mail: now, digest or never."""
    chosen = await session.scalar(
        select(MailChoice.frequency).where(MailChoice.structure_id == structure_id)
    )
    return chosen or DEFAULT_FREQUENCY


async def set_frequency(session: AsyncSession, structure_id: int, value: str) -> None:
    """Store the structure's choice (422 on an unknown value)."""
    if value not in MAIL_FREQUENCIES:
        raise Invalid({"frequency": FieldError("must be one of: now, digest, never")})
    choice = await session.get(MailChoice, structure_id)
    if choice is None:
        session.add(MailChoice(structure_id=structure_id, frequency=value, updated_at=utcnow()))
    else:
        choice.frequency = value
        choice.updated_at = utcnow()


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Notification.emailed_at.is_(None),
        Notification.created_at >= now - MAX_AGE,
        Person.disabled_at.is_(None),
    ]


def _chosen(value: str) -> ColumnElement[bool]:
    """SQL: the notification is of a structure that chose ``value`` (and not an ALWAYS)."""
    if value == DEFAULT_FREQUENCY:
        return or_(
            Notification.structure_id.is_(None),
            Notification.kind.in_(ALWAYS),
            MailChoice.frequency.is_(None),
            MailChoice.frequency == value,
        )
    return and_(
        Notification.structure_id.is_not(None),
        Notification.kind.not_in(ALWAYS),
        MailChoice.frequency == value,
    )


def _select(now: datetime, value: str) -> Select[Notification, Person, str]:
    return (
        select(Notification, Person, Structure.handle)
        .join(Person, Notification.person_id == Person.id)
        .outerjoin(MailChoice, MailChoice.structure_id == Notification.structure_id)
        .outerjoin(Structure, Structure.id == Notification.structure_id)
        .where(*_pending(now), _chosen(value))
        .order_by(Notification.id)
    )


async def _at_once(session: AsyncSession, settings: Settings, now: datetime) -> int:
    rows = (await session.execute(_select(now, "now").limit(BATCH))).all()
    for note, person, handle in rows:
        lang = person_lang(person, settings.web.default_locale)
        mail = notification_mail(settings, note, lang, handle)
        await enqueue(
            session,
            to=person.email,
            subject=mail.subject,
            body=mail.body,
            lang=lang,
            kind=f"notification:{note.kind}"[:32],
            dedupe_key=f"notification:{note.id}",
        )
        note.emailed_at = now
    return len(rows)


async def _never(session: AsyncSession, now: datetime) -> None:
    rows = (await session.execute(_select(now, "never").limit(BATCH))).all()
    for note, _person, _handle in rows:
        note.emailed_at = now  # handled: this structure wants no e-mail


async def _digests(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the day's digest of each person who has one due (after the digest hour)."""
    if now.hour < settings.mail.digest_hour:
        return 0
    rows = (await session.execute(_select(now, "digest"))).all()
    by_person: dict[int, list[Notification]] = defaultdict(list)
    people: dict[int, Person] = {}
    for note, person, _handle in rows:
        by_person[person.id].append(note)
        people[person.id] = person
    day = now.date().isoformat()
    queued = 0
    for person_id, notes in by_person.items():
        key = f"digest:{person_id}:{day}"
        if await session.scalar(select(OutgoingMail.id).where(OutgoingMail.dedupe_key == key)):
            continue  # today's is queued already: these wait for tomorrow's
        person = people[person_id]
        lang = person_lang(person, settings.web.default_locale)
        mail = digest_mail(settings, notes[:DIGEST_MAX_ITEMS], lang, len(notes))
        await enqueue(
            session,
            to=person.email,
            subject=mail.subject,
            body=mail.body,
            lang=lang,
            kind="digest",
            dedupe_key=key,
        )
        for note in notes:
            note.emailed_at = now
        queued += 1
    return queued


async def queue_notifications(
    db: Database, settings: Settings, *, now: datetime | None = None
) -> int:
    """Queue the mails of the notifications due for one (and the digests due); returns how
    many mails were queued."""
    now = now or utcnow()
    total = 0
    while True:
        async with db.session() as session:
            queued = await _at_once(session, settings, now)
            await _never(session, now)
        total += queued
        if queued < BATCH:
            break
    async with db.session() as session:
        total += await _digests(session, settings, now)
    return total


async def structures_with_choice(session: AsyncSession, person: Person) -> list[tuple[str, str]]:
    """(handle, frequency) of each structure ``person`` is a member of."""
    rows = await session.execute(
        select(Structure.handle, MailChoice.frequency)
        .join(Membership, Membership.structure_id == Structure.id)
        .outerjoin(MailChoice, MailChoice.structure_id == Structure.id)
        .where(Membership.person_id == person.id)
        .order_by(Structure.handle)
    )
    return [(handle, value or DEFAULT_FREQUENCY) for handle, value in rows.all()]
