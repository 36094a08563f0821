"""Direct messages between structures, shaped as Mastodon sends and shows them.

A message is a ``Note`` addressed only to its recipient (its shape:
``outbox/to_ap/notes.py``). Threads use ``context`` (the conversation's id,
ours or the one a remote server started) and ``inReplyTo`` (the previous
message). A message about a listing links it in the text and names it in
``entraide:listing``.

A message is never public: its activity is stored with ``public=False`` (not
in outboxes), it is not in feeds or search, and its id answers only signed
fetches by a participant (``instance/ap/objects.py``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.models import Listing, Structure
from domain.notify import notify_structure
from domain.social import Conversation, Message, Participant
from federation.models import Actor
from outbox.publish import emit
from outbox.to_ap.notes import create_message
from outbox.to_ap.notes import message_html as message_html
from outbox.to_ap.notes import note_of as note_of

MAX_LENGTH = 5000


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


async def _notify(
    session: AsyncSession, sender: Actor, recipient: Actor, conversation_id: int
) -> None:
    """Tell the people of a local recipient structure (remote messages: see the inbox)."""
    structure_id = await session.scalar(
        select(Structure.id).where(Structure.actor_id == recipient.id)
    )
    if structure_id is not None:
        await notify_structure(
            session,
            structure_id,
            "message",
            {"from": sender.name or sender.handle, "domain": sender.domain},
            f"/messages/{conversation_id}",
        )


async def send(
    session: AsyncSession,
    settings: Settings,
    sender: Actor,
    recipient: Actor,
    text: str,
    *,
    listing: Listing | None = None,
    conversation: Conversation | None = None,
) -> Message:
    """Write a message from a local actor; deliver it when the recipient is remote."""
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
    last = (
        await session.execute(
            select(Message.ap_id)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.published_at.desc(), Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    now = utcnow()
    message = Message(
        ap_id=f"{base}/messages/{uuid.uuid4()}",
        conversation=conversation,
        conversation_id=conversation.id,
        author=sender,
        author_id=sender.id,
        local=True,
        content_html=message_html(recipient, text[:MAX_LENGTH], listing),
        content_text=text[:MAX_LENGTH],
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
        await _notify(session, sender, recipient, conversation.id)
    else:
        body = create_message(settings, message, recipient, listing)
        await emit(
            session,
            settings,
            sender,
            body,
            to_followers=False,
            recipients=[recipient],
            public=False,
        )
    return message
