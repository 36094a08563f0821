"""The people of a structure: owners and members, invitations, leaving and removing.

* :func:`team` — who acts for a structure and the invitations still open (for its
  people only).
* :func:`invite` — an owner invites a colleague by e-mail: a link signed with the
  node's key (``web.secret_key``) around a random secret, of which only the SHA-256 is
  stored; good for seven days and one use.
* :func:`open_invitation` — what a link is worth: :class:`InvitationRefused` says why
  not (forged, used, cancelled, expired), for a clear page rather than an error.
* :func:`accept` / :func:`sign_up_and_accept` — the invitee joins, as a person who
  already has an account or as a new one (whose address is the invited one).
* :func:`remove`, :func:`leave`, :func:`set_role` — an owner removes a member or hands
  the ownership over; anyone leaves. A structure always keeps an owner.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import MEMBER_ROLES, Membership, Person, Structure
from domain.people import EMAIL_RE, create_person, find_person, normalise_email
from domain.team import INVITATION_DAYS, Invitation
from domain.validation import Collector
from instance.api_errors import Forbidden, NotFound
from instance.services.structures import structure_by_handle

Refusal = Literal["forged", "used", "cancelled", "expired"]
_SALT = "entraide-invitation"
MAX_AGE = INVITATION_DAYS * 24 * 3600


class InvitationRefused(Exception):
    """The link opens nothing; ``reason`` says why (shown to the person)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


@dataclass(frozen=True)
class Member:
    person: Person
    role: str


@dataclass(frozen=True)
class Team:
    structure: Structure
    members: list[Member]
    invitations: list[Invitation]
    viewer_role: str

    @property
    def owners(self) -> int:
        return sum(1 for m in self.members if m.role == "owner")


@dataclass(frozen=True)
class Sent:
    """A new invitation and the link to send (the only time it exists in clear)."""

    invitation: Invitation
    link: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _signer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


async def _membership(
    session: AsyncSession, structure_id: int, person_id: int
) -> Membership | None:
    return await session.get(Membership, (person_id, structure_id))


async def _structure_for(
    session: AsyncSession, person: Person, handle: str, *, owner: bool = False
) -> tuple[Structure, Membership]:
    structure = await structure_by_handle(session, handle)
    if structure is None:
        raise NotFound("no such structure")
    membership = await _membership(session, structure.id, person.id)
    if membership is None:
        raise Forbidden("you do not act for this structure")
    if owner and membership.role != "owner":
        raise Forbidden("only an owner of the structure can do this")
    return structure, membership


async def team(session: AsyncSession, person: Person, handle: str) -> Team:
    """The structure's people (owners first) and its open invitations; 403 to outsiders."""
    structure, mine = await _structure_for(session, person, handle)
    rows = await session.execute(select(Membership).where(Membership.structure_id == structure.id))
    members = sorted(
        (Member(m.person, m.role) for m in rows.scalars().unique()),
        key=lambda m: (m.role != "owner", (m.person.display_name or m.person.email).lower()),
    )
    invitations = await session.execute(
        select(Invitation)
        .where(
            Invitation.structure_id == structure.id,
            Invitation.accepted_at.is_(None),
            Invitation.cancelled_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return Team(structure, members, list(invitations.scalars().unique()), mine.role)


async def invite(
    session: AsyncSession,
    person: Person,
    handle: str,
    email: str,
    *,
    key: str,
    base_url: str,
) -> Sent:
    """An owner invites ``email`` to join as a member. Raises ``Invalid`` (the address),
    ``Forbidden`` (not an owner). A new invitation to the same address replaces the
    one still open."""
    structure, _mine = await _structure_for(session, person, handle, owner=True)
    c = Collector()
    address = c.text({"email": email}, "email", required=True, max_length=320, pattern=EMAIL_RE)
    c.raise_if_any()
    address = normalise_email(address or "")
    known = await find_person(session, address)
    if known is not None and await _membership(session, structure.id, known.id) is not None:
        c.add("email", "already acts for this structure")
        c.raise_if_any()
    now = utcnow()
    earlier = await session.execute(
        select(Invitation).where(
            Invitation.structure_id == structure.id,
            Invitation.email == address,
            Invitation.accepted_at.is_(None),
            Invitation.cancelled_at.is_(None),
        )
    )
    for old in earlier.scalars().unique():
        old.cancelled_at = now
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(
        structure_id=structure.id,
        email=address,
        role="member",
        token_hash=_digest(secret),
        invited_by_id=person.id,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    await session.flush()
    await session.refresh(invitation, ["structure", "invited_by"])
    token = _signer(key).dumps(secret)
    return Sent(invitation, f"{base_url.rstrip('/')}/invitations/{token}")


async def cancel(session: AsyncSession, person: Person, handle: str, invitation_id: int) -> bool:
    """An owner cancels an open invitation; False when there is none to cancel."""
    structure, _mine = await _structure_for(session, person, handle, owner=True)
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.structure_id != structure.id or not invitation.is_open:
        return False
    invitation.cancelled_at = utcnow()
    return True


async def open_invitation(session: AsyncSession, token: str, *, key: str) -> Invitation:
    """The open invitation behind a link, or :class:`InvitationRefused` with the reason."""
    try:
        secret = _signer(key).loads(token, max_age=MAX_AGE)
    except SignatureExpired:
        raise InvitationRefused("expired") from None
    except BadSignature:
        raise InvitationRefused("forged") from None
    if not isinstance(secret, str):
        raise InvitationRefused("forged")
    invitation = (
        await session.execute(select(Invitation).where(Invitation.token_hash == _digest(secret)))
    ).scalar_one_or_none()
    if invitation is None:
        raise InvitationRefused("forged")
    if invitation.accepted_at is not None:
        raise InvitationRefused("used")
    if invitation.cancelled_at is not None:
        raise InvitationRefused("cancelled")
    if invitation.expires_at <= utcnow():
        raise InvitationRefused("expired")
    return invitation


async def accept(session: AsyncSession, token: str, person: Person, *, key: str) -> Structure:
    """``person`` joins the structure of the invitation (which is used up)."""
    invitation = await open_invitation(session, token, key=key)
    structure = invitation.structure
    # Used up by a conditional write: of two acceptances at once, one finds it taken.
    taken = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow(), accepted_by_id=person.id)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise InvitationRefused("used")
    if await _membership(session, structure.id, person.id) is None:
        role = invitation.role if invitation.role in MEMBER_ROLES else "member"
        session.add(Membership(person_id=person.id, structure_id=structure.id, role=role))
    await session.flush()
    await session.refresh(person, ["memberships"])
    return structure


async def sign_up_and_accept(
    session: AsyncSession, token: str, password: str, display_name: str, *, key: str
) -> tuple[Person, Structure]:
    """A new account for the invited address, member of the structure. Raises ``Invalid``
    (a short password; an address that already has an account: log in instead)."""
    invitation = await open_invitation(session, token, key=key)
    person = await create_person(session, invitation.email, password, display_name=display_name)
    structure = await accept(session, token, person, key=key)
    return person, structure


def _check_owner_left(members: list[Membership], leaving: Membership) -> None:
    owners = [m for m in members if m.role == "owner" and m.person_id != leaving.person_id]
    if leaving.role == "owner" and not owners:
        raise Forbidden("a structure keeps at least one owner: make another person an owner first")


async def _memberships(session: AsyncSession, structure_id: int) -> list[Membership]:
    rows = await session.execute(select(Membership).where(Membership.structure_id == structure_id))
    return list(rows.scalars().unique())


async def remove(session: AsyncSession, person: Person, handle: str, member_id: int) -> Person:
    """An owner removes another person from the structure; returns who was removed."""
    structure, _mine = await _structure_for(session, person, handle, owner=True)
    if member_id == person.id:
        raise Forbidden("to leave the structure yourself, use « Leave »")
    target = await _membership(session, structure.id, member_id)
    if target is None:
        raise NotFound("this person does not act for the structure")
    _check_owner_left(await _memberships(session, structure.id), target)
    removed = target.person
    await session.delete(target)
    await session.flush()
    return removed


async def leave(session: AsyncSession, person: Person, handle: str) -> Structure:
    """``person`` stops acting for the structure (refused to its last owner)."""
    structure, mine = await _structure_for(session, person, handle)
    _check_owner_left(await _memberships(session, structure.id), mine)
    await session.delete(mine)
    await session.flush()
    await session.refresh(person, ["memberships"])
    return structure


async def set_role(
    session: AsyncSession, person: Person, handle: str, member_id: int, role: str
) -> Person:
    """An owner makes a member an owner, or an owner a member (never the last owner)."""
    structure, _mine = await _structure_for(session, person, handle, owner=True)
    if role not in MEMBER_ROLES:
        raise NotFound("no such role")
    target = await _membership(session, structure.id, member_id)
    if target is None:
        raise NotFound("this person does not act for the structure")
    if role == "member":
        _check_owner_left(await _memberships(session, structure.id), target)
    target.role = role
    await session.flush()
    return target.person
