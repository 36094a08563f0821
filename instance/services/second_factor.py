"""The optional second factor (TOTP) of administrators and moderators.

* :func:`start` — a new secret, not yet in force, and its QR code (SVG, segno) for an
  authenticator app; :func:`confirm` puts it in force once a code from the app
  matches, and returns the recovery codes (shown once, stored hashed).
* :func:`check` — the login's second step: a code of the app (each code once, a
  window of ±30 s for clocks that drift) or an unused recovery code. Wrong codes are
  counted per person: after ``MAX_FAILURES`` in a row the step is closed for
  ``LOCK_MINUTES`` (:class:`Locked`, answered 429), whatever the address.
* :func:`disable` — needs the password and a code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Person
from domain.people import check_password
from domain.second_factor import (
    LOCK_MINUTES,
    MAX_FAILURES,
    RECOVERY_CODES,
    RecoveryCode,
    SecondFactor,
)
from domain.validation import Collector
from instance.api_errors import ApiError, Forbidden


class Locked(ApiError):
    """Too many wrong codes: the code step is closed until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(429, "too many wrong codes; try again later")
        self.until = until


@dataclass(frozen=True)
class Enrolment:
    """A secret waiting for its first code: what the person types or scans."""

    secret: str
    uri: str
    qr_svg: str


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


async def person_at_second_step(session: AsyncSession, person_id: int) -> Person | None:
    """The person who gave the right password, if they may still log in."""
    person = await session.get(Person, person_id)
    return person if person is not None and person.disabled_at is None else None


async def factor_of(session: AsyncSession, person: Person) -> SecondFactor | None:
    return await session.get(SecondFactor, person.id)


async def is_enabled(session: AsyncSession, person: Person) -> bool:
    factor = await factor_of(session, person)
    return factor is not None and factor.confirmed_at is not None


def _enrolment(factor: SecondFactor, person: Person, issuer: str) -> Enrolment:
    uri = pyotp.TOTP(factor.secret).provisioning_uri(name=person.email, issuer_name=issuer)
    svg = segno.make(uri, error="m").svg_inline(scale=5, light="#fff", dark="#000")
    return Enrolment(factor.secret, uri, svg)


async def start(session: AsyncSession, person: Person, issuer: str) -> Enrolment:
    """A new secret waiting for confirmation (or the one already waiting)."""
    if not person.is_moderator:
        raise Forbidden("the second factor is for administrators and moderators")
    factor = await factor_of(session, person)
    if factor is not None and factor.confirmed_at is not None:
        raise Forbidden("the second factor is already on")
    if factor is None:
        factor = SecondFactor(person_id=person.id, secret=pyotp.random_base32())
        session.add(factor)
        await session.flush()
    return _enrolment(factor, person, issuer)


def _matching_step(factor: SecondFactor, code: str) -> int | None:
    """The time step whose code is ``code`` (±1 step), if not used before."""
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(factor.secret)
    now = totp.timecode(datetime.now())
    for step in (now - 1, now, now + 1):
        if step > factor.last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _guard(factor: SecondFactor) -> None:
    if factor.locked_until is not None and factor.locked_until > utcnow():
        raise Locked(factor.locked_until)


def _failed(factor: SecondFactor) -> None:
    factor.failures += 1
    if factor.failures >= MAX_FAILURES:
        factor.failures = 0
        factor.locked_until = utcnow() + timedelta(minutes=LOCK_MINUTES)


async def confirm(session: AsyncSession, person: Person, code: str) -> list[str]:
    """Put the waiting secret in force if ``code`` matches; returns the recovery codes.
    Raises ``Invalid`` (wrong code, counted: the caller commits), :class:`Locked`."""
    factor = await factor_of(session, person)
    if factor is None or factor.confirmed_at is not None:
        raise Forbidden("there is no second factor waiting for confirmation")
    _guard(factor)
    step = _matching_step(factor, _clean(code))
    if step is None:
        _failed(factor)
        c = Collector()
        c.add("code", "this code is not the one the app shows")
        c.raise_if_any()
    factor.last_step = step or 0
    factor.failures = 0
    factor.confirmed_at = utcnow()
    return await _new_recovery_codes(session, person)


async def _new_recovery_codes(session: AsyncSession, person: Person) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits, shown as xxxxx-xxxxx
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(person_id=person.id, code_hash=_digest(raw)))
    await session.flush()
    return codes


async def check(session: AsyncSession, person: Person, code: str) -> bool:
    """Whether ``code`` (of the app, or an unused recovery code) opens the account.
    A wrong one counts towards the lock; raises :class:`Locked` while locked."""
    factor = await factor_of(session, person)
    if factor is None or factor.confirmed_at is None:
        return False
    _guard(factor)
    cleaned = _clean(code)
    step = _matching_step(factor, cleaned)
    if step is not None:
        factor.last_step = step
        factor.failures = 0
        return True
    if re.fullmatch(r"[0-9a-f]{10}", cleaned):
        recovery = (
            await session.execute(
                select(RecoveryCode).where(
                    RecoveryCode.person_id == person.id,
                    RecoveryCode.code_hash == _digest(cleaned),
                    RecoveryCode.used_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        if recovery is not None:
            recovery.used_at = utcnow()
            factor.failures = 0
            return True
    _failed(factor)
    return False


async def recovery_codes_left(session: AsyncSession, person: Person) -> int:
    rows = await session.execute(
        select(RecoveryCode.id).where(
            RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


async def disable(session: AsyncSession, person: Person, password: str, code: str) -> None:
    """Turn the second factor off; needs the password and a code. Raises ``Invalid``
    (a wrong password counts as a wrong code), :class:`Locked`.

    The counts of wrong attempts are written before ``Invalid`` is raised: the caller
    must commit them (catch it inside the transaction)."""
    factor = await factor_of(session, person)
    if factor is None or factor.confirmed_at is None:
        return
    _guard(factor)
    c = Collector()
    if not check_password(person, password):
        c.add("password", "is not your current password")
        _failed(factor)
    elif not await check(session, person, code):
        c.add("code", "this code is not the one the app shows")
    c.raise_if_any()
    await session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    await session.delete(factor)
    await session.flush()


async def cancel_enrolment(session: AsyncSession, person: Person) -> None:
    """Forget a secret that was never confirmed."""
    factor = await factor_of(session, person)
    if factor is not None and factor.confirmed_at is None:
        await session.delete(factor)
        await session.flush()
