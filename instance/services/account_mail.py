"""The e-mails about a person's own account: the sign-up received (the decisions on a
structure go as notifications, ``instance.services.mail_notifications``; the password
reset with its link, ``instance.services.password_reset``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.models import Person, Structure
from instance.mail_text import signup_received_mail
from instance.services.outgoing_mail import enqueue, person_lang


async def signup_received(
    session: AsyncSession, settings: Settings, person: Person, structure: Structure
) -> None:
    """Queue « your sign-up is received, an administrator will decide » to ``person``."""
    lang = person_lang(person, settings.web.default_locale)
    mail = signup_received_mail(settings, structure.name, lang)
    await enqueue(
        session,
        to=person.email,
        subject=mail.subject,
        body=mail.body,
        lang=lang,
        kind="signup_received",
        dedupe_key=f"signup:{structure.id}",
    )
