"""Who is asking: a person logged in by cookie (pages) or by bearer token (API).

**Pages: server-side sessions.** Logging in makes a row of ``web_sessions``
(:class:`domain.models.WebSession`) holding the SHA-256 of a random secret; the
secret travels in quart-auth's signed cookie (``entraide_auth``; ``entraide_auth_PORT``
for a node whose domain has a port, :func:`instance.app.cookie_name`; 30 days,
``HttpOnly``, ``Secure``, ``SameSite=Lax``). Each request looks the row up (one
indexed query joined to the person, which the page needed anyway): no row, or
an expired one, or a disabled person, is anonymous. Logging out deletes the
row, so a copy of the cookie — kept by malware, a shared computer, a proxy log
— opens nothing afterwards, and the account page can end every session at once
(a lost phone). :func:`end_all_sessions` is also what a password change must
call.

Why a table rather than a per-person "session epoch" stored on the person and
in the cookie: an epoch can only end *every* session of a person at once, so
logging out on one computer would log the person out on all of them, and a
stolen cookie could only be revoked by doing the same. A row per login ends
exactly the session that logs out, costs one small indexed lookup per page,
and lets expired sessions be deleted (each login prunes its person's). Roles
are read from the person on every request, so a changed role holds at once
without ending sessions. The CSRF nonce is replaced at login and logout
(:func:`instance.csrf.rotate_csrf`): a token seen before logging in is
worthless after.

Cookies made before sessions had rows named the person only: they open
nothing now (migration ``0012_web_sessions``).

**JSON API.** ``Authorization: Bearer <token>`` only; tokens are looked up by
their SHA-256 (``domain.people``). Forms are protected by :mod:`instance.csrf`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from quart import g, request
from quart_auth import AuthUser, current_user, login_user, logout_user
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from config.database import utcnow
from domain.models import ApiToken, Membership, Person, WebSession
from domain.people import shown_structure, token_in_use, token_use_is_stale
from instance.csrf import rotate_csrf
from instance.errors import ApiError
from instance.i18n import select_locale
from instance.node import current_node

SESSION_DAYS = 30  # as QUART_AUTH_DURATION (instance.app)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def login_cookie() -> str | None:
    """The session secret of the request's login cookie, if it carries one."""
    secret = current_user.auth_id
    return secret or None


async def load_current_person(session: AsyncSession) -> Person | None:
    """The person logged in by cookie, loaded in ``session`` (None if anonymous)."""
    secret = login_cookie()
    if secret is None:
        return None
    # The person's memberships come with their structures (``shown_structure``): on every
    # page, without what only administration and signing need.
    structure = selectinload(Person.memberships).defaultload(Membership.structure)
    person = (
        await session.execute(
            select(Person)
            .join(WebSession, WebSession.person_id == Person.id)
            .where(WebSession.token_hash == _hash(secret), WebSession.expires_at > utcnow())
            .options(*shown_structure(structure))
        )
    ).scalar_one_or_none()
    if person is None or person.disabled_at is not None:
        return None
    return person


async def log_in(session: AsyncSession, person: Person) -> None:
    """Open a session for ``person`` in this browser (a new row, a new cookie, a new
    CSRF nonce), and delete the person's expired sessions. The page's language becomes
    the person's (``Person.locale``: the language of their e-mails)."""
    now = utcnow()
    person.locale = select_locale()
    await session.execute(
        delete(WebSession).where(WebSession.person_id == person.id, WebSession.expires_at <= now)
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            person_id=person.id,
            token_hash=_hash(secret),
            created_at=now,
            expires_at=now + timedelta(days=SESSION_DAYS),
        )
    )
    await session.flush()
    login_user(AuthUser(secret), remember=True)
    rotate_csrf()


async def log_out(session: AsyncSession) -> None:
    """End this browser's session: its row is deleted, so the cookie is dead everywhere."""
    secret = login_cookie()
    if secret is not None:
        await session.execute(delete(WebSession).where(WebSession.token_hash == _hash(secret)))
    logout_user()
    rotate_csrf()


async def end_all_sessions(session: AsyncSession, person: Person) -> int:
    """End every session of ``person`` (log out everywhere, a password change)."""
    result = await session.execute(delete(WebSession).where(WebSession.person_id == person.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def end_other_sessions(session: AsyncSession, person: Person) -> int:
    """End every session of ``person`` but this browser's (after a password change)."""
    secret = login_cookie()
    query = delete(WebSession).where(WebSession.person_id == person.id)
    if secret is not None:
        query = query.where(WebSession.token_hash != _hash(secret))
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count_sessions(session: AsyncSession, person: Person) -> int:
    """How many browsers ``person`` is logged in on."""
    result = await session.execute(
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.person_id == person.id, WebSession.expires_at > utcnow())
    )
    return int(result.scalar_one())


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def api_person(session: AsyncSession, *, required: bool = True) -> Person | None:
    """The person behind the request's bearer token; 401 when required and absent/bad."""
    if "api_person_id" in g and g.api_person_id is not None:
        return await session.get(Person, g.api_person_id)
    token = bearer_token()
    if token is None:
        if required:
            raise ApiError(
                401,
                "an API token is required (Authorization: Bearer TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
    found = await token_in_use(session, token)
    if found is None:
        raise ApiError(
            401,
            "the API token is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if token_use_is_stale(found):  # at most hourly: an API read stays a read
        if session.info.get("readonly"):
            async with current_node().db.session() as writing:
                await writing.execute(
                    update(ApiToken).where(ApiToken.id == found.id).values(last_used_at=utcnow())
                )
        else:
            found.last_used_at = utcnow()
    g.api_person_id = found.person_id
    return found.person
