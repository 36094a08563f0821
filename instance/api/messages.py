"""``/api/v1/messages``: direct messages between structures, local or across nodes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Structure
from domain.social import Conversation, Message, Participant
from federation.errors import PayloadError
from federation.models import Actor
from instance.api import blueprint, json_body
from instance.api.follows import acting_structure
from instance.auth import api_person
from instance.errors import ApiError
from instance.ids import parse_id
from instance.node import current_node
from outbox import messages as message_activities


class MessageCreate(BaseModel):
    from_: str = Field(alias="from", description="Handle of the sending local structure")
    to: str = Field(description="acct:HANDLE@HOST, an actor URL, or a local structure handle")
    content: str = Field(max_length=5000)
    listing: int | None = Field(default=None, description="Id of the listing it is about")
    conversation: int | None = Field(default=None, description="Id of the thread to reply in")


class MessageOut(BaseModel):
    id: int
    ap_id: str
    conversation: int
    author: str
    content: str
    content_html: str
    published: str


class MessagesQuery(BaseModel):
    actor: str


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "ap_id": message.ap_id,
        "conversation": message.conversation_id,
        "author": message.author.uri,
        "author_name": message.author.name or message.author.handle,
        "content": message.content_text,
        "content_html": message.content_html,
        "in_reply_to": message.in_reply_to,
        "published": message.published_at.isoformat(),
    }


async def _recipient(session: AsyncSession, target: str) -> Actor | None:
    """A local structure by handle (or ``acct:handle@our-host``), if ``target`` names one."""
    node = current_node()
    handle = target
    domain = node.settings.instance.domain.lower()
    if target.startswith("acct:") or "@" in target:
        user, _, host = target.removeprefix("acct:").lstrip("@").partition("@")
        if host.lower() not in {domain, domain.split(":")[0]}:
            return None
        handle = user
    elif target.startswith(("http://", "https://")):
        return (
            await session.execute(select(Actor).where(Actor.uri == target, Actor.local.is_(True)))
        ).scalar_one_or_none()
    structure = (
        await session.execute(select(Structure).where(Structure.handle == handle))
    ).scalar_one_or_none()
    if structure is None or structure.status != "approved" or structure.actor is None:
        raise ApiError(422, "some fields are invalid", fields={"to": "unknown recipient"})
    return structure.actor


@blueprint.post("/messages")
@document_request(MessageCreate)
@document_response(MessageOut, 201)
async def send_message() -> tuple[dict[str, Any], int]:
    """Send a direct message; delivered over ActivityPub when the recipient is remote."""
    node = current_node()
    data = await json_body()
    target, content = data.get("to"), data.get("content")
    errors = {}
    if not isinstance(target, str) or not target.strip():
        errors["to"] = "is required"
    if not isinstance(content, str) or not content.strip():
        errors["content"] = "is required"
    elif len(content) > message_activities.MAX_LENGTH:
        errors["content"] = f"must be at most {message_activities.MAX_LENGTH} characters"
    for name in ("listing", "conversation"):
        if data.get(name) is not None and parse_id(data[name]) is None:
            errors[name] = f"must be the id of a {name}"
    if errors:
        raise ApiError(422, "some fields are invalid", fields=errors)
    assert isinstance(target, str) and isinstance(content, str)
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, data.get("from"))
        local_recipient = await _recipient(session, target.strip())
    try:
        recipient = local_recipient or await node.remote.resolve(target.strip())
    except PayloadError as exc:  # not an address (a host that cannot be one), or a bad answer
        raise ApiError(422, "some fields are invalid", fields={"to": exc.message}) from None
    async with node.transaction() as session:
        structure = await acting_structure(session, person, structure.handle)
        sender = structure.actor
        assert sender is not None
        if recipient.uri == sender.uri:
            raise ApiError(422, "some fields are invalid", fields={"to": "is yourself"})
        recipient = await session.merge(recipient)
        listing = None
        if data.get("listing") is not None:
            listing = await session.get(Listing, parse_id(data["listing"]))
            if listing is None or listing.hidden:
                raise ApiError(
                    422, "some fields are invalid", fields={"listing": "unknown listing"}
                )
        conversation = None
        if data.get("conversation") is not None:
            conversation = await session.get(Conversation, parse_id(data["conversation"]))
            ids = {p.actor_id for p in conversation.participants} if conversation else set()
            if conversation is None or not {sender.id, recipient.id} <= ids:
                raise ApiError(
                    422,
                    "some fields are invalid",
                    fields={"conversation": "not a conversation of these two"},
                )
        message = await message_activities.send(
            session,
            node.settings,
            sender,
            recipient,
            content.strip(),
            listing=listing,
            conversation=conversation,
        )
        return message_json(message), 201


async def conversations_of(
    session: AsyncSession, actor: Actor, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The actor's conversations, newest first, each with its messages and unread count."""
    mine = select(Participant.conversation_id).where(Participant.actor_id == actor.id)
    rows = await session.execute(
        select(Conversation)
        .where(Conversation.id.in_(mine))
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    conversations = list(rows.scalars().unique())
    out = []
    for conversation in conversations:
        messages = list(
            (
                await session.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.published_at, Message.id)
                )
            ).scalars()
        )
        me = next(p for p in conversation.participants if p.actor_id == actor.id)
        unread = sum(
            1
            for m in messages
            if m.author_id != actor.id
            and (me.last_read_at is None or m.published_at > me.last_read_at)
        )
        out.append(
            {
                "id": conversation.id,
                "context": conversation.context,
                "subject": conversation.subject,
                "listing": conversation.listing_id,
                "participants": [
                    {
                        "id": p.actor.uri,
                        "handle": p.actor.handle,
                        "domain": p.actor.domain,
                        "name": p.actor.name,
                    }
                    for p in conversation.participants
                ],
                "unread": unread,
                "updated": conversation.updated_at.isoformat(),
                "messages": [message_json(m) for m in messages],
            }
        )
    return out


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    mine = select(Participant).where(Participant.actor_id == actor.id).subquery()
    count = await session.scalar(
        select(func.count(Message.id))
        .join(mine, mine.c.conversation_id == Message.conversation_id)
        .where(
            Message.author_id != actor.id,
            (mine.c.last_read_at.is_(None)) | (Message.published_at > mine.c.last_read_at),
        )
    )
    return int(count or 0)


@blueprint.get("/messages")
@document_querystring(MessagesQuery)
async def list_messages() -> dict[str, Any]:
    """A structure's conversations, newest first, remote replies included."""
    node = current_node()
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        return {"items": await conversations_of(session, structure.actor)}
