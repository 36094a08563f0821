"""Direct messages between structures, shaped as Mastodon sends and shows them.

A message is a ``Note`` addressed only to its recipient: ``to`` the
recipient, ``cc`` empty, no Public, and a ``Mention`` tag of the recipient
(Mastodon classifies a Note as a direct message when every addressed actor
is mentioned; docs/research-verified.md §4). Threads use ``context`` (the
conversation's id, ours or the one a remote server started) and ``inReplyTo``
(the previous message). A message about a listing links it in the text and
names it in ``entraide:listing``.

A message is never public: its activity is stored with ``public=False`` (not
in outboxes), it is not in feeds or search, and its id answers only signed
fetches by a participant (``instance/ap/objects.py``).
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.models import Listing, Structure
from domain.notify import notify_structure
from domain.social import Conversation, Message, Participant
from federation.models import Actor
from outbox.publish import emit, new_activity
from outbox.to_ap import iso

MAX_LENGTH = 5000


def _mention(actor: Actor) -> str:
    href = html.escape(actor.url or actor.uri, quote=True)
    return (
        f'<span class="h-card"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(actor.handle)}</span></a></span>"
    )


def message_html(recipient: Actor, text: str, listing: Listing | None) -> str:
    """The HTML of a message: the mention, the text as paragraphs, the listing link."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    paragraphs = [
        "<br>".join(html.escape(line) for line in block.split("\n")) for block in blocks
    ] or [""]
    paragraphs[0] = f"{_mention(recipient)} {paragraphs[0]}"
    if listing is not None:
        href = html.escape(listing.url or listing.ap_id, quote=True)
        paragraphs.append(f'Annonce : <a href="{href}">{html.escape(listing.title)}</a>')
    return "".join(f"<p>{p}</p>" for p in paragraphs)


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


def note_of(message: Message, recipients: list[Actor], listing: Listing | None) -> dict[str, Any]:
    note: dict[str, Any] = {
        "id": message.ap_id,
        "type": "Note",
        "attributedTo": message.author.uri,
        "to": [r.uri for r in recipients],
        "cc": [],
        "content": message.content_html,
        "published": iso(message.published_at),
        "tag": [
            {"type": "Mention", "href": r.uri, "name": f"@{r.handle}@{r.domain}"}
            for r in recipients
        ],
        "context": message.conversation.context,
    }
    if message.in_reply_to:
        note["inReplyTo"] = message.in_reply_to
    if listing is not None:
        note["entraide:listing"] = listing.ap_id
    return note


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
        note = note_of(message, [recipient], listing)
        body = new_activity(settings, "Create", sender, note, to=note["to"], cc=[])
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
