"""People, structures and API tokens: creation and checks.

Passwords are hashed with Argon2id (argon2-cffi, its recommended parameters)
and rehashed on login when those parameters change. API tokens are random
strings shown once; only their SHA-256 is stored, so a leaked database does
not leak usable tokens, and a lookup by hash is a plain indexed equality.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Load
from sqlalchemy.orm.interfaces import LoaderOption

from config.database import utcnow
from domain import structure_states
from domain.models import ROLES, STRUCTURE_KINDS, ApiToken, Membership, Person, Structure
from domain.places import place_of
from domain.validation import Collector
from federation.models import Actor

_hasher = PasswordHasher()


# Verifying against this keeps the time of a login with an unknown e-mail
# close to that of a known one (no account enumeration by timing).
@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("entraide-dummy-password")  # made on first use, not at import


EMAIL_RE = r"[^@\s]+@[^@\s]+\.[^@\s]+"
HANDLE_RE = r"[a-z0-9_]{2,64}"
RESERVED_HANDLES = frozenset(
    {
        "admin",
        "api",
        "static",
        "feeds",
        "inbox",
        "outbox",
        "territory",
        "actor",
        "login",
        "logout",
        "signup",
        "search",
        "listings",
        "structures",
        "communities",
        "well-known",
        "nodeinfo",
        "healthz",
        "readyz",
        "metrics",
        "messages",
        "timeline",
        "account",
        "about",
    }
)
TOKEN_PREFIX = "ent_"  # noqa: S105 - a prefix, not a secret
PASSWORD_MIN = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def find_person(session: AsyncSession, email: str) -> Person | None:
    result = await session.execute(select(Person).where(Person.email == normalise_email(email)))
    return result.scalar_one_or_none()


async def authenticate(session: AsyncSession, email: str, password: str) -> Person | None:
    """The person with this e-mail and password, or None; rehashes when needed."""
    person = await find_person(session, email)
    if person is None or person.disabled_at is not None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        return None
    try:
        _hasher.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = hash_password(password)
    person.last_login_at = utcnow()
    return person


def check_password(person: Person, password: str) -> bool:
    """Whether ``password`` is the person's (for confirming a sensitive change)."""
    try:
        return bool(_hasher.verify(person.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _validate_password(password: object, c: Collector, field: str = "password") -> None:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        c.add(field, "must be at least %(min)d characters", min=PASSWORD_MIN)
    elif len(password) > 1024:
        c.add(field, "must be at most %(max)d characters", max=1024)


def change_password(person: Person, current: str, new: str) -> None:
    """Set a new password, given the current one. Raises ``Invalid``."""
    c = Collector()
    if not check_password(person, current):
        c.add("current_password", "is not your current password")
    _validate_password(new, c)
    c.raise_if_any()
    person.password_hash = hash_password(new)


def validate_person(data: Mapping[str, Any], c: Collector) -> None:
    c.text(data, "email", required=True, max_length=320, pattern=EMAIL_RE)
    _validate_password(data.get("password"), c)


async def create_person(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    role: str = "member",
    display_name: str = "",
) -> Person:
    """A new person. Raises ``Invalid`` on a bad e-mail/password or a taken e-mail."""
    c = Collector()
    validate_person({"email": email, "password": password}, c)
    if role not in ROLES:
        c.add("role", "must be one of %(choices)s", choices=", ".join(ROLES))
    c.raise_if_any()
    if await find_person(session, email) is not None:
        c.add("email", "is already registered")
        c.raise_if_any()
    person = Person(
        email=normalise_email(email),
        password_hash=hash_password(password),
        role=role,
        display_name=display_name.strip()[:200],
    )
    session.add(person)
    await session.flush()
    return person


# --- structures -----------------------------------------------------------


def validate_structure(data: Mapping[str, Any], c: Collector) -> dict[str, Any]:
    """Check a structure's public profile fields; returns the cleaned values."""
    values: dict[str, Any] = {
        "handle": c.text(data, "handle", required=True, max_length=64, pattern=HANDLE_RE),
        "name": c.text(data, "name", required=True, min_length=2, max_length=200),
        "kind": c.choice(data, "kind", STRUCTURE_KINDS, required=False) or "business",
        "description": c.text(data, "description", max_length=5000) or "",
        "commune": c.text(data, "commune", max_length=200) or "",
        "website": c.text(data, "website", max_length=500, pattern=r"https?://\S+") or "",
        "contact_email": c.text(data, "contact_email", max_length=320, pattern=EMAIL_RE) or "",
        "lat": c.number(data, "lat", minimum=-90, maximum=90),
        "lon": c.number(data, "lon", minimum=-180, maximum=180),
    }
    handle = values["handle"]
    if handle and handle in RESERVED_HANDLES:
        c.add("handle", "is reserved")
    if (values["lat"] is None) != (values["lon"] is None) and "lat" not in c.errors:
        c.add("lon" if values["lat"] is not None else "lat", "lat and lon go together")
    return values


async def handle_taken(session: AsyncSession, handle: str, territory_handle: str) -> bool:
    if handle == territory_handle:
        return True
    found = await session.execute(select(Structure.id).where(Structure.handle == handle))
    if found.first() is not None:
        return True
    # Communities share the handle namespace of local actors.
    actor = await session.execute(
        select(Actor.id).where(Actor.local.is_(True), Actor.handle == handle)
    )
    return actor.first() is not None


async def create_structure(
    session: AsyncSession,
    data: Mapping[str, Any],
    owner: Person,
    *,
    territory_handle: str,
    extra_reserved: frozenset[str] = frozenset(),
) -> Structure:
    """A new structure, pending approval, owned by ``owner``. Raises ``Invalid``."""
    c = Collector()
    values = validate_structure(data, c)
    c.raise_if_any()
    if await handle_taken(session, values["handle"], territory_handle) or (
        values["handle"] in extra_reserved
    ):
        c.add("handle", "is already taken")
        c.raise_if_any()
    structure = Structure(**values)
    structure_states.transition(structure, "pending")
    structure.lat, structure.lon, structure.placed = await place_of(
        session, structure.commune, structure.lat, structure.lon
    )
    structure.memberships.append(Membership(person=owner, role="owner"))
    session.add(structure)
    await session.flush()
    return structure


def shown_structure(path: Any) -> tuple[LoaderOption, LoaderOption]:
    """Loader options for the structures at ``path`` (``Load(Structure)``, or a path that
    leads to them): each with its actor, but not its memberships nor its actor's keys,
    which are eager by default. Those are for administration and signing, where the
    structure is read again; a page that shows structures saves two queries."""
    return path.lazyload(Structure.memberships), path.defaultload(Structure.actor).lazyload(
        Actor.keys
    )


async def structures_of(session: AsyncSession, person: Person) -> list[Structure]:
    """The structures a person acts for, by name (:func:`shown_structure`: this list is on
    every page of a person who acts for a structure)."""
    result = await session.execute(
        select(Structure)
        .join(Membership)
        .where(Membership.person_id == person.id)
        .order_by(Structure.name)
        .options(*shown_structure(Load(Structure)))
    )
    return list(result.scalars().unique())


def can_act_for(person: Person, structure: Structure) -> bool:
    return any(m.structure_id == structure.id for m in person.memberships)


# --- API tokens -------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, person: Person, name: str = "") -> str:
    """A new token for ``person``; the only time its clear text exists."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            person_id=person.id,
            name=name.strip()[:100] or "token",
            token_hash=_digest(token),
            prefix=token[:10],
        )
    )
    await session.flush()
    return token


TOKEN_USE_GRAIN = timedelta(hours=1)  # « last used » is shown by the day


async def token_in_use(session: AsyncSession, token: str) -> ApiToken | None:
    """The unrevoked token of an enabled person, or None; reads only."""
    if not re.fullmatch(r"[A-Za-z0-9_\-]{8,200}", token):
        return None
    result = await session.execute(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    found = result.scalar_one_or_none()
    if found is None or found.person.disabled_at is not None:
        return None
    return found


def token_use_is_stale(found: ApiToken) -> bool:
    """Whether the token's ``last_used_at`` is worth writing again (once an hour at most:
    an API read need not be a write)."""
    return found.last_used_at is None or utcnow() - found.last_used_at >= TOKEN_USE_GRAIN


async def list_tokens(session: AsyncSession, person: Person) -> list[ApiToken]:
    """The person's API tokens that still work, newest first (never their clear text)."""
    result = await session.execute(
        select(ApiToken)
        .where(ApiToken.person_id == person.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(result.scalars())


async def revoke_token(session: AsyncSession, person: Person, token_id: int) -> bool:
    """Revoke one of the person's tokens; False when it is not theirs or already revoked."""
    token = await session.get(ApiToken, token_id)
    if token is None or token.person_id != person.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    await session.flush()
    return True
