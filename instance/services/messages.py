"""Direct messages between structures: what a person acting for a structure can do.

* :func:`local_recipient` — the approved local structure an address names, or
  None when it names another server's actor (resolved by the adapter, over the
  network, before the transaction opens);
* :func:`send` / :func:`reply` — write a message, in the latest conversation of
  exactly these two actors (about this listing, if any) or in a new one; a
  local recipient's people are notified, a remote recipient gets the
  ``Create(Note)`` that ``outbox.messages`` builds and addresses;
* reading a structure's conversations is ``instance.services.conversations``.

Every refusal is a :class:`Refused` (an ``Invalid`` naming one field, with a
typed ``reason``): the JSON API answers it as it is (422 and ``fields``), the
pages show a sentence per reason. The checks are here once; the JSON API
(``instance.api.messages``) and the pages (``instance.web.messages``) only
translate requests into these calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.models import Listing, Structure
from domain.notify import notify_message
from domain.social import Conversation, Message, Participant
from domain.validation import FieldError, Invalid
from federation.models import Actor
from outbox import messages as message_activities

MAX_LENGTH = 5000

Reason = Literal[
    "missing",
    "too_long",
    "self",
    "unknown_recipient",
    "unknown_listing",
    "not_in_conversation",
    "nobody_else",
    "no_messages",
]

REFUSALS: Mapping[Reason, FieldError] = {
    "missing": FieldError("is required"),
    "too_long": FieldError("must be at most %(max)d characters", {"max": MAX_LENGTH}),
    "self": FieldError("is yourself"),
    "unknown_recipient": FieldError("unknown recipient"),
    "unknown_listing": FieldError("unknown listing"),
    "not_in_conversation": FieldError("not a conversation of these two"),
    "nobody_else": FieldError("there is nobody else in this conversation"),
    "no_messages": FieldError("this structure does not take messages"),
}


class Refused(Invalid):
    """A message that is not written: ``field`` names what is wrong, ``reason`` why."""

    def __init__(self, field: str, reason: Reason) -> None:
        super().__init__({field: REFUSALS[reason]})
        self.field = field
        self.reason = reason


def content_problem(content: object) -> Reason | None:
    """Why ``content`` cannot be a message (blank, or longer than :data:`MAX_LENGTH`)."""
    if not isinstance(content, str) or not content.strip():
        return "missing"
    if len(content) > MAX_LENGTH:
        return "too_long"
    return None


# --- who may be written to ----------------------------------------------------------------


async def may_receive(session: AsyncSession, actor: Actor) -> bool:
    """Whether ``actor`` may be written to: a remote actor, or an approved structure's."""
    if not actor.local:
        return True
    if actor.suspended_at is not None:
        return False
    status = await session.scalar(select(Structure.status).where(Structure.actor_id == actor.id))
    return status == "approved"


async def local_recipient(session: AsyncSession, domain: str, target: str) -> Actor | None:
    """The local structure ``target`` names — by handle, ``acct:handle@our-host`` or its
    actor's URL — or None when it names another server's actor.

    Only approved structures receive messages: a suspended or pending one, the
    territory actor and communities are refused (``unknown_recipient``), however
    they are named.
    """
    handle = target
    domain = domain.lower()
    if target.startswith("acct:") or "@" in target:
        user, _, host = target.removeprefix("acct:").lstrip("@").partition("@")
        if host.lower() not in {domain, domain.split(":")[0]}:
            return None
        handle = user
    elif target.startswith(("http://", "https://")):
        actor = await session.scalar(
            select(Actor).where(Actor.uri == target, Actor.local.is_(True))
        )
        if actor is None:
            return None
        if not await may_receive(session, actor):
            raise Refused("to", "unknown_recipient")
        return actor
    structure = await session.scalar(select(Structure).where(Structure.handle == handle))
    if structure is None or structure.status != "approved" or structure.actor is None:
        raise Refused("to", "unknown_recipient")
    return structure.actor


def address_of(listing: Listing) -> str:
    """How a listing's author is written to: a local handle, or ``acct:name@host``."""
    if listing.structure is not None:
        return listing.structure.handle
    author = listing.author
    if author.handle and author.domain:
        return f"acct:{author.handle}@{author.domain}"
    return author.uri


async def listing_by_id(session: AsyncSession, listing_id: int | None) -> Listing | None:
    """The listing ``listing_id`` (hidden ones too), or None."""
    if listing_id is None:
        return None
    return await session.get(Listing, listing_id)


async def visible_listing(session: AsyncSession, listing_id: int | None) -> Listing | None:
    """The listing ``listing_id`` unless it is unknown or hidden by the moderators."""
    listing = await listing_by_id(session, listing_id)
    return None if listing is None or listing.hidden else listing


# --- writing --------------------------------------------------------------------------------


async def conversation_between(
    session: AsyncSession, sender: Actor, recipient: Actor, listing: Listing | None
) -> Conversation | None:
    """The latest conversation of exactly these two actors (about this listing, if any)."""
    mine = select(Participant.conversation_id).where(Participant.actor_id == sender.id)
    theirs = select(Participant.conversation_id).where(Participant.actor_id == recipient.id)
    query = (
        select(Conversation)
        .where(Conversation.id.in_(mine), Conversation.id.in_(theirs))
        .order_by(Conversation.updated_at.desc())
    )
    if listing is not None:
        query = query.where(Conversation.listing_id == listing.id)
    for conversation in (await session.execute(query)).scalars().unique():
        if len(conversation.participants) == 2:
            return conversation
    return None


async def send(
    session: AsyncSession,
    settings: Settings,
    sender: Actor,
    recipient: Actor,
    text: str,
    *,
    listing_id: int | None = None,
    strict_listing: bool = True,
    conversation_id: int | None = None,
) -> Message:
    """Write a message from a local actor; deliver it when the recipient is remote.

    Refused (before anything is written): writing to oneself, to an actor that may
    not receive messages (or a local structure that takes none, for a new
    conversation), about an unknown or hidden listing (unless
    ``strict_listing`` is False: the message is then about no listing), in a
    conversation the two do not both take part in, and blank or too long text.
    """
    if recipient.uri == sender.uri:
        raise Refused("to", "self")
    recipient = await session.merge(recipient)
    if not await may_receive(session, recipient):
        raise Refused("to", "unknown_recipient")
    listing = await visible_listing(session, listing_id)
    if listing_id is not None and listing is None and strict_listing:
        raise Refused("listing", "unknown_listing")
    conversation = None
    if conversation_id is not None:
        conversation = await session.get(Conversation, conversation_id)
        ids = {p.actor_id for p in conversation.participants} if conversation else set()
        if conversation is None or not {sender.id, recipient.id} <= ids:
            raise Refused("conversation", "not_in_conversation")
    problem = content_problem(text)
    if problem is not None:
        raise Refused("content", problem)
    if conversation is None and not await _takes_messages(session, sender, recipient, listing):
        raise Refused("to", "no_messages")
    return await _write(session, settings, sender, recipient, text.strip(), listing, conversation)


async def _takes_messages(
    session: AsyncSession, sender: Actor, recipient: Actor, listing: Listing | None
) -> bool:
    """Whether a local structure takes a new conversation (its profile's contact
    preference); a conversation already under way goes on either way."""
    if not recipient.local:
        return True
    accepts = await session.scalar(
        select(Structure.accepts_messages).where(Structure.actor_id == recipient.id)
    )
    if accepts is not False:
        return True
    return await conversation_between(session, sender, recipient, listing) is not None


def reply_recipient(conversation: Conversation, sender: Actor) -> Actor | None:
    """Whom a reply goes to: the other participant (the first one, in a group thread)."""
    for participant in conversation.participants:
        if participant.actor_id != sender.id:
            return participant.actor
    return None


async def reply(
    session: AsyncSession, settings: Settings, sender: Actor, conversation: Conversation, text: str
) -> Message:
    """Answer in ``conversation`` (refused as :func:`send` refuses, or ``nobody_else``)."""
    recipient = reply_recipient(conversation, sender)
    if recipient is None:
        raise Refused("to", "nobody_else")
    return await send(session, settings, sender, recipient, text, conversation_id=conversation.id)


async def _write(
    session: AsyncSession,
    settings: Settings,
    sender: Actor,
    recipient: Actor,
    text: str,
    listing: Listing | None,
    conversation: Conversation | None,
) -> Message:
    base = settings.base_url
    if conversation is None:
        conversation = await conversation_between(session, sender, recipient, listing)
    if conversation is None:
        conversation = Conversation(
            context=f"{base}/conversations/{uuid.uuid4()}",
            listing_id=listing.id if listing else None,
            subject=listing.title[:200] if listing else "",
        )
        conversation.participants.extend(
            [Participant(actor_id=sender.id), Participant(actor_id=recipient.id)]
        )
        session.add(conversation)
        await session.flush()
    if listing is None and conversation.listing_id is not None:
        listing = await session.get(Listing, conversation.listing_id)
    last = await session.scalar(
        select(Message.ap_id)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.published_at.desc(), Message.id.desc())
        .limit(1)
    )
    now = utcnow()
    message = Message(
        ap_id=f"{base}/messages/{uuid.uuid4()}",
        conversation=conversation,
        conversation_id=conversation.id,
        author=sender,
        author_id=sender.id,
        local=True,
        content_html=message_activities.message_html(recipient, text, listing),
        content_text=text,
        in_reply_to=last,
        published_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    for participant in conversation.participants:
        if participant.actor_id == sender.id:
            participant.last_read_at = now
    await session.flush()
    if recipient.local:
        await notify_message(session, recipient.id, sender, conversation.id)
    else:
        await message_activities.deliver(session, settings, message, recipient, listing)
    return message
