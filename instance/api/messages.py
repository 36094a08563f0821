"""``/api/v1/messages``: direct messages between structures, local or across nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Structure
from domain.social import Conversation, Message, Participant
from federation.errors import PayloadError
from federation.models import Actor
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.follows import acting_structure
from instance.api.paging import page_limit, time_cursor
from instance.auth import api_person
from instance.errors import ApiError
from instance.ids import parse_id
from instance.node import current_node
from instance.search import encode_cursor
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
    limit: int | None = None
    cursor: str | None = None


class ConversationQuery(BaseModel):
    actor: str
    limit: int | None = None
    cursor: str | None = None


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


def _unknown_recipient() -> ApiError:
    return ApiError(422, "some fields are invalid", fields={"to": "unknown recipient"})


async def _recipient(session: AsyncSession, target: str) -> Actor | None:
    """The local structure ``target`` names — by handle, ``acct:handle@our-host`` or its
    actor's URL — or None when it names another server's actor.

    Only approved structures receive messages: a suspended or pending one, the
    territory actor and communities are refused (422), however they are named.
    """
    node = current_node()
    handle = target
    domain = node.settings.instance.domain.lower()
    if target.startswith("acct:") or "@" in target:
        user, _, host = target.removeprefix("acct:").lstrip("@").partition("@")
        if host.lower() not in {domain, domain.split(":")[0]}:
            return None
        handle = user
    elif target.startswith(("http://", "https://")):
        actor = (
            await session.execute(select(Actor).where(Actor.uri == target, Actor.local.is_(True)))
        ).scalar_one_or_none()
        if actor is None:
            return None
        if not await may_receive(session, actor):
            raise _unknown_recipient()
        return actor
    structure = (
        await session.execute(select(Structure).where(Structure.handle == handle))
    ).scalar_one_or_none()
    if structure is None or not structure.is_visible or structure.actor is None:
        raise _unknown_recipient()
    return structure.actor


async def may_receive(session: AsyncSession, actor: Actor) -> bool:
    """Whether ``actor`` may be written to: a remote actor, or an approved structure's."""
    if not actor.local:
        return True
    if actor.suspended_at is not None:
        return False
    visible = await session.scalar(
        select(Structure.is_visible).where(Structure.actor_id == actor.id)
    )
    return bool(visible)


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


LATEST = 5  # messages of each conversation in GET /api/v1/messages


async def conversations_of(
    session: AsyncSession,
    actor: Actor,
    *,
    limit: int = 50,
    after: tuple[str, int] | None = None,
    latest: int = LATEST,
) -> list[dict[str, Any]]:
    """The actor's conversations, newest first (after ``after``, the last (updated, id)
    seen), each with its ``latest`` messages (oldest of them first) and unread count."""
    me = select(Participant).where(Participant.actor_id == actor.id).subquery()
    stmt = (
        select(Conversation, me.c.last_read_at)
        .join(me, me.c.conversation_id == Conversation.id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if after is not None:
        when = datetime.fromisoformat(after[0])
        stmt = stmt.where(
            or_(
                Conversation.updated_at < when,
                and_(Conversation.updated_at == when, Conversation.id < after[1]),
            )
        )
    out = []
    for conversation, last_read in (await session.execute(stmt)).unique().all():
        recent = list(
            (
                await session.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.published_at.desc(), Message.id.desc())
                    .limit(latest)
                )
            ).scalars()
        )
        recent.reverse()
        unread_q = select(func.count(Message.id)).where(
            Message.conversation_id == conversation.id, Message.author_id != actor.id
        )
        if last_read is not None:
            unread_q = unread_q.where(Message.published_at > last_read)
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
                "unread": int(await session.scalar(unread_q) or 0),
                "updated": conversation.updated_at.isoformat(),
                "messages": [message_json(m) for m in recent],
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
    """A structure's conversations, newest first, remote replies included; paged
    (``limit``, ``cursor``, ``next``), each with its latest messages only."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    after = time_cursor(request.args.get("cursor"), "updated")
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        items = await conversations_of(session, structure.actor, limit=limit + 1, after=after)
    following = None
    if len(items) > limit:
        items = items[:limit]
        following = encode_cursor({"updated": items[-1]["updated"], "id": items[-1]["id"]})
    return {"items": items, "next": following}


@blueprint.get("/messages/<int:conversation_id>")
@document_querystring(ConversationQuery)
async def conversation_messages(conversation_id: int) -> dict[str, Any]:
    """One conversation's messages, oldest first, paged (``limit``, ``cursor``, ``next``);
    only for the structures taking part in it."""
    node = current_node()
    limit = page_limit(request.args.get("limit"), default=50)
    after = time_cursor(request.args.get("cursor"), "published")
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        taking_part = await session.scalar(
            select(func.count())
            .select_from(Participant)
            .where(
                Participant.conversation_id == conversation_id,
                Participant.actor_id == structure.actor.id,
            )
        )
        if not taking_part:
            raise ApiError(404, "no such conversation")
        stmt = (
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.published_at, Message.id)
            .limit(limit + 1)
        )
        if after is not None:
            when = datetime.fromisoformat(after[0])
            stmt = stmt.where(
                or_(
                    Message.published_at > when,
                    and_(Message.published_at == when, Message.id > after[1]),
                )
            )
        rows = list((await session.execute(stmt)).scalars().unique())
        items = [message_json(m) for m in rows[:limit]]
    following = None
    if len(rows) > limit:
        following = encode_cursor({"published": items[-1]["published"], "id": items[-1]["id"]})
    return {"items": items, "next": following}
