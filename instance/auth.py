"""Who is asking: a person logged in by cookie (pages) or by bearer token (API).

Pages use quart-auth's signed session cookie, whose ``auth_id`` is the
person's id. The JSON API uses ``Authorization: Bearer <token>`` only; tokens
are looked up by their SHA-256 (``domain.people``). Forms are protected by
:mod:`instance.csrf`.
"""

from __future__ import annotations

from quart import g, request
from quart_auth import AuthUser, current_user, login_user, logout_user
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person
from domain.people import person_for_token
from instance.errors import ApiError


def current_person_id() -> int | None:
    """The id of the person logged in by cookie, if any."""
    auth_id = current_user.auth_id
    if auth_id is None:
        return None
    try:
        return int(auth_id)
    except ValueError:
        return None


async def load_current_person(session: AsyncSession) -> Person | None:
    """The person logged in by cookie, loaded in ``session`` (None if anonymous)."""
    person_id = current_person_id()
    if person_id is None:
        return None
    person = await session.get(Person, person_id)
    if person is None or person.disabled_at is not None:
        return None
    return person


def log_in(person: Person) -> None:
    login_user(AuthUser(str(person.id)), remember=True)


def log_out() -> None:
    logout_user()


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
    person = await person_for_token(session, token)
    if person is None:
        raise ApiError(
            401,
            "the API token is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    g.api_person_id = person.id
    return person
