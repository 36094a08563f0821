"""Password reset by e-mail (``/password/reset``).

* :func:`request_reset` — someone gives an address. Whatever it is, the answer is the same
  and so is the work: a request row is written (the HMAC of the address, so that requests
  per address can be counted whether or not it has an account) with the SHA-256 of a new
  random secret; only when the address is a person's (not disabled) is the row tied to
  them and the link (``/password/reset/<secret>``) queued to them by e-mail
  (``instance.services.outgoing_mail``; never sent inside the request). More than
  :data:`PER_ADDRESS` requests for one address within an hour → :class:`TooManyResets`
  (429 with ``Retry-After``); the pages are also limited per client IP
  (``instance.ratelimits``).
* :func:`check_link` / :func:`complete_reset` — the link works once, within
  :data:`LINK_LIFETIME`: the secret's hash is looked up (the database holds no usable
  link), the new password is set, every other link of the person is spent, and every
  session of the person ends (``web_sessions``): whoever was logged in with the old
  password is out. Opening the link (GET) spends nothing, so a mail scanner that
  follows links does not spend it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.models import Person
from domain.outgoing_mail import PasswordReset
from domain.people import find_person, hash_password, normalise_email, validate_person
from domain.validation import Collector, Invalid
from instance.auth import end_all_sessions
from instance.mail_text import password_reset_mail
from instance.services.outgoing_mail import enqueue, person_lang

LINK_LIFETIME = timedelta(hours=1)
PER_ADDRESS = 3  # requests an hour for one address
WINDOW = timedelta(hours=1)
KEEP = timedelta(days=1)  # request rows are deleted after a day (housekeeping)


class TooManyResets(Exception):
    """Too many requests for this address: answered 429 with ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many reset requests; retry in {retry_after} s")
        self.retry_after = retry_after


def _address_hash(settings: Settings, email: str) -> str:
    key = settings.web.secret_key.encode() or b"entraide"
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def request_reset(
    session: AsyncSession, settings: Settings, email: str, *, now: datetime | None = None
) -> None:
    """Record a reset request for ``email`` and, when it is a person's, queue the link."""
    now = now or utcnow()
    address = _address_hash(settings, email)
    recent = await session.execute(
        select(func.count(PasswordReset.id), func.min(PasswordReset.created_at)).where(
            PasswordReset.address_hash == address, PasswordReset.created_at > now - WINDOW
        )
    )
    count, oldest = recent.one()
    if count >= PER_ADDRESS and oldest is not None:
        raise TooManyResets(max(1, int((oldest + WINDOW - now).total_seconds()) + 1))
    secret = secrets.token_urlsafe(32)
    person = await find_person(session, email) if email.strip() else None
    if person is not None and person.disabled_at is not None:
        person = None
    session.add(
        PasswordReset(
            address_hash=address,
            person_id=person.id if person is not None else None,
            token_hash=_token_hash(secret),
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    if person is None:
        await session.flush()
        return
    lang = person_lang(person, settings.web.default_locale)
    link = f"{settings.base_url}/password/reset/{secret}"
    mail = password_reset_mail(settings, link, lang, int(LINK_LIFETIME.total_seconds() // 60))
    await enqueue(
        session,
        to=person.email,
        subject=mail.subject,
        body=mail.body,
        lang=lang,
        kind="password_reset",
    )


async def _usable(session: AsyncSession, secret: str, now: datetime) -> PasswordReset | None:
    if not secret or len(secret) > 200:
        return None
    reset = await session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _token_hash(secret))
    )
    if reset is None or reset.person_id is None or reset.used_at is not None:
        return None
    if reset.expires_at <= now:
        return None
    return reset


async def check_link(session: AsyncSession, secret: str, *, now: datetime | None = None) -> bool:
    """Whether the link still works (unknown, used and expired links do not)."""
    return await _usable(session, secret, now or utcnow()) is not None


async def complete_reset(
    session: AsyncSession, secret: str, password: str, *, now: datetime | None = None
) -> Person | None:
    """Set the new password through the link (spent), end every session of the person;
    None when the link does not work. Raises ``Invalid`` on a password refused."""
    now = now or utcnow()
    reset = await _usable(session, secret, now)
    if reset is None:
        return None
    person = await session.get(Person, reset.person_id)
    if person is None or person.disabled_at is not None:
        return None
    c = Collector()
    validate_person({"email": person.email, "password": password}, c)
    c.raise_if_any()
    person.password_hash = hash_password(password)
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.person_id == person.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    await end_all_sessions(session, person)
    return person


async def prune(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete request rows older than :data:`KEEP` (their links expired long ago)."""
    cutoff = (now or utcnow()) - KEEP
    result = await session.execute(delete(PasswordReset).where(PasswordReset.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = [
    "LINK_LIFETIME",
    "PER_ADDRESS",
    "Invalid",
    "TooManyResets",
    "check_link",
    "complete_reset",
    "prune",
    "request_reset",
]
