"""Notifications: who should know what, written in the same transaction as the event.

Each notification is a row per person (members of a structure all see its
messages and followers; every administrator sees a structure awaiting
approval; every moderator sees a report). Pages show them with an unread
count; the mail worker also turns them into e-mail (``emailed_at``), as each
structure chose (``instance.services.mail_notifications``), through the durable
mail queue, so a mail server that is down loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.wake import Queue, wake_after_commit
from domain.models import Listing, Membership, Person, Structure
from domain.social import Notification
from federation.models import Actor

KINDS = (
    "message",  # a new direct message for a structure
    "follower",  # someone follows a structure
    "follow_request",  # someone asks to follow a structure that approves by hand
    "follow_accepted",  # a structure's follow was accepted
    "peering_request",  # another territory asks to peer (admins)
    "structure_pending",  # a structure awaits approval (admins)
    "report",  # a report reached the moderators
    "match",  # an offer fits one of a structure's needs, or a need one of its offers
    "saved_search",  # a new listing fits a structure's saved search
    "exchange",  # an exchange of the structure was proposed or changed (by the other side)
    "structure_approved",  # an administrator approved the structure
    "structure_rejected",  # an administrator rejected the structure (with a reason)
    "signup_attempt",  # someone signed up again with a person's e-mail address
    "reply",  # a public reply under one of a structure's listings
    "mention",  # a public post mentions a structure
)


async def _add(
    session: AsyncSession,
    person_ids: Iterable[int],
    kind: str,
    data: Mapping[str, object],
    url: str,
    structure_id: int | None = None,
) -> int:
    count = 0
    for person_id in set(person_ids):
        session.add(
            Notification(
                person_id=person_id,
                structure_id=structure_id,
                kind=kind,
                data=dict(data),
                url=url,
            )
        )
        count += 1
    if count:
        wake_after_commit(session, Queue.MAIL)
    return count


async def notify_structure(
    session: AsyncSession, structure_id: int, kind: str, data: Mapping[str, object], url: str = ""
) -> int:
    """Tell every person who acts for the structure."""
    people = await session.execute(
        select(Membership.person_id).where(Membership.structure_id == structure_id)
    )
    return await _add(session, people.scalars(), kind, data, url, structure_id)


async def notify_follow(
    session: AsyncSession, local_actor_id: int, kind: str, other: Actor, url: str = ""
) -> int:
    """Tell the structure whose actor is ``local_actor_id`` about a follow with ``other``.

    ``kind`` is ``follower``, ``follow_request`` or ``follow_accepted``; the notice
    names the other actor (its id, display name and server). A local actor that is
    no structure (the territory) is told nothing.
    """
    structure_id = await session.scalar(
        select(Structure.id).where(Structure.actor_id == local_actor_id)
    )
    if structure_id is None:
        return 0
    data = {"actor": other.uri, "name": other.name or other.handle, "domain": other.domain}
    return await notify_structure(session, structure_id, kind, data, url)


async def notify_message(
    session: AsyncSession, recipient_actor_id: int, sender: Actor, conversation_id: int
) -> int:
    """Tell the structure whose actor is ``recipient_actor_id`` that ``sender`` wrote to
    it in conversation ``conversation_id`` (a local message or one received)."""
    structure_id = await session.scalar(
        select(Structure.id).where(Structure.actor_id == recipient_actor_id)
    )
    if structure_id is None:
        return 0
    data = {"from": sender.name or sender.handle, "domain": sender.domain}
    return await notify_structure(
        session, structure_id, "message", data, f"/messages/{conversation_id}"
    )


async def notify_reply(
    session: AsyncSession, structure_id: int, author: Actor, listing: Listing, reply_id: int
) -> int:
    """Tell the listing's structure that ``author`` replied publicly under it."""
    data = {
        "name": author.name or author.handle,
        "domain": author.domain,
        "listing": listing.id,
        "listing_title": listing.title,
    }
    url = f"/listings/{listing.id}#reply-{reply_id}"
    return await notify_structure(session, structure_id, "reply", data, url)


async def notify_mention(
    session: AsyncSession, local_actor_id: int, author: Actor, note_uri: str
) -> int:
    """Tell the structure whose actor is ``local_actor_id`` that ``author`` mentioned it in
    the public note ``note_uri``; once per note (a replayed note tells nothing more)."""
    structure_id = await session.scalar(
        select(Structure.id).where(Structure.actor_id == local_actor_id)
    )
    if structure_id is None:
        return 0
    told = await session.scalar(
        select(Notification.id).where(
            Notification.structure_id == structure_id,
            Notification.kind == "mention",
            Notification.url == note_uri,
        )
    )
    if told is not None:
        return 0
    data = {"name": author.name or author.handle, "domain": author.domain, "note": note_uri}
    return await notify_structure(session, structure_id, "mention", data, note_uri)


async def notify_roles(
    session: AsyncSession,
    roles: Iterable[str],
    kind: str,
    data: Mapping[str, object],
    url: str = "",
) -> int:
    """Tell every person with one of the roles (admins, moderators)."""
    people = await session.execute(
        select(Person.id).where(Person.role.in_(list(roles)), Person.disabled_at.is_(None))
    )
    return await _add(session, people.scalars(), kind, data, url)


async def notify_signup_attempt(session: AsyncSession, person: Person) -> int:
    """Tell ``person`` that the sign-up form was sent with their address. One unread notice
    at a time: repeated attempts add nothing. It carries nothing the sender typed, so that
    the form cannot be used to send text to anyone's inbox (or mailbox) from this node."""
    unread = await session.execute(
        select(Notification.id).where(
            Notification.person_id == person.id,
            Notification.kind == "signup_attempt",
            Notification.read_at.is_(None),
        )
    )
    if unread.first() is not None:
        return 0
    return await _add(session, [person.id], "signup_attempt", {}, "/account")


async def notify_structures(
    session: AsyncSession, notices: Sequence[tuple[int, str, Mapping[str, object], str]]
) -> int:
    """:func:`notify_structure` for many notices at once, each ``(structure_id, kind,
    data, url)``: one read of the structures' people, the rows in the notices' order."""
    if not notices:
        return 0
    people: dict[int, list[int]] = {}
    rows = await session.execute(
        select(Membership.structure_id, Membership.person_id).where(
            Membership.structure_id.in_(sorted({structure_id for structure_id, *_ in notices}))
        )
    )
    for structure_id, person_id in rows.all():
        people.setdefault(structure_id, []).append(person_id)
    values = [
        {"person_id": person_id, "structure_id": structure_id, "kind": kind}
        | {"data": dict(data), "url": url}
        for structure_id, kind, data, url in notices
        for person_id in dict.fromkeys(people.get(structure_id, []))
    ]
    if values:
        await session.execute(insert(Notification), values)  # one executemany
        wake_after_commit(session, Queue.MAIL)
    return len(values)
