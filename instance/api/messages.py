"""``/api/v1/messages``: direct messages between structures, local or across nodes.

The use cases, and every refusal, are ``instance.services.messages``; this
module reads requests and writes the JSON of INTERFACE.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response

from domain.social import Message
from domain.validation import FieldError, Invalid
from federation.errors import PayloadError
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.paging import page_limit, time_cursor
from instance.auth import api_person
from instance.ids import parse_id
from instance.node import current_node
from instance.search import encode_cursor
from instance.services import conversations as threads
from instance.services import messages as messaging
from instance.services.conversations import Summary
from instance.services.structures import acting_structure


class MessageCreate(BaseModel):
    from_: str = Field(alias="from", description="Handle of the sending local structure")
    to: str = Field(description="acct:HANDLE@HOST, an actor URL, or a local structure handle")
    content: str = Field(max_length=messaging.MAX_LENGTH)
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


def conversation_json(summary: Summary) -> dict[str, Any]:
    conversation = summary.conversation
    return {
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
        "unread": summary.unread,
        "updated": conversation.updated_at.isoformat(),
        "messages": [message_json(m) for m in summary.recent],
    }


@blueprint.post("/messages")
@document_request(MessageCreate)
@document_response(MessageOut, 201)
async def send_message() -> tuple[dict[str, Any], int]:
    """Send a direct message; delivered over ActivityPub when the recipient is remote."""
    node = current_node()
    data = await json_body()
    target, content = data.get("to"), data.get("content")
    errors: dict[str, FieldError] = {}
    if not isinstance(target, str) or not target.strip():
        errors["to"] = FieldError("is required")
    problem = messaging.content_problem(content)
    if problem is not None:
        errors["content"] = messaging.REFUSALS[problem]
    for name in ("listing", "conversation"):
        if data.get(name) is not None and parse_id(data[name]) is None:
            errors[name] = FieldError(f"must be the id of a {name}")
    if errors:
        raise Invalid(errors)
    assert isinstance(target, str) and isinstance(content, str)
    domain = node.settings.instance.domain
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, data.get("from"))
        local_recipient = await messaging.local_recipient(session, domain, target.strip())
    try:
        recipient = local_recipient or await node.remote.resolve(target.strip())
    except PayloadError as exc:  # not an address (a host that cannot be one), or a bad answer
        raise Invalid({"to": FieldError(exc.message)}) from None
    async with node.transaction() as session:
        structure = await acting_structure(session, person, structure.handle)
        assert structure.actor is not None
        message = await messaging.send(
            session,
            node.settings,
            structure.actor,
            recipient,
            content,
            listing_id=parse_id(data.get("listing")),
            conversation_id=parse_id(data.get("conversation")),
        )
        return message_json(message), 201


@blueprint.get("/messages")
@document_querystring(MessagesQuery)
async def list_messages() -> dict[str, Any]:
    """A structure's conversations, newest first, remote replies included; paged
    (``limit``, ``cursor``, ``next``), each with its latest messages only."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    after = time_cursor(request.args.get("cursor"), "updated")
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        summaries = await threads.conversations(
            session, structure.actor, limit=limit + 1, after=after
        )
        items = [conversation_json(s) for s in summaries]
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
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        rows, more = await threads.messages_page(
            session, structure.actor, conversation_id, limit=limit, after=after
        )
        items = [message_json(m) for m in rows]
    following = None
    if more:
        following = encode_cursor({"published": items[-1]["published"], "id": items[-1]["id"]})
    return {"items": items, "next": following}
