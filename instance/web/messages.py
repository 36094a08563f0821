"""Direct messages between structures: ``/messages``, a thread, and writing a new one.

A person reads the conversations of the structures they act for (a switcher
chooses the structure when there are several). A thread is shown only to the
members of a structure taking part in it — to anyone else it does not exist
(404, as the ActivityPub id of a message). Viewing a thread marks it read
(``Participant.last_read_at``) together with its notifications.

Reading and sending go through ``instance.services.messages`` (which
federates to a remote recipient); the recipient is found as the JSON API
finds it: a local structure by handle or address, else a remote actor
resolved over the network before the transaction opens. A refusal of the
service (:class:`~instance.services.messages.Refused`) is shown as a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quart import flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person, Structure
from domain.social import Conversation
from federation.models import Actor
from instance.i18n import gettext as _
from instance.ids import parse_id
from instance.node import current_node
from instance.services import conversations as threads
from instance.services import messages as messaging
from instance.services.messages import Reason, Refused
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    deny,
    pick_structure,
    redirect_to,
    remember_viewer,
    require_person,
)
from instance.web.remote import TargetError, resolve

MAX_LENGTH = messaging.MAX_LENGTH
# The mentions a direct message opens with (Mastodon's DM shape), left out of previews.
MENTION = re.compile(r"^(?:@[\w.-]+(?:@[\w.:-]+)?\s+)+")


def _sentence(reason: Reason, *, replying: bool = False) -> str:
    """A refusal of the service as the page says it."""
    if reason == "missing":
        return _("Write your message.")
    if reason == "too_long":
        return _("Your message is too long: at most %(max)d characters.", max=MAX_LENGTH)
    if reason == "self":
        return _("You cannot write to your own structure.")
    if reason == "nobody_else":
        return _("There is nobody else in this conversation to answer.")
    if reason == "unknown_recipient" and replying:
        return _("This structure is suspended: it cannot receive messages.")
    return _("No structure of this territory has this name.")


# --- the list of conversations ------------------------------------------------------


@blueprint.get("/messages")
async def messages() -> str:
    async with current_node().db.read() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        current = pick_structure(structures, request.args.get("as"))
        unread = {}
        for structure in structures:
            assert structure.actor is not None
            unread[structure.handle] = await threads.unread_count(session, structure.actor)
        conversations: list[ConversationRow] = []
        if current is not None and current.actor is not None:
            summaries = await threads.conversations(session, current.actor)
            titles = await threads.listing_titles(
                session, [s.conversation.listing_id for s in summaries]
            )
            conversations = [_summary(s, current.actor, titles) for s in summaries]
    return await render_template(
        "messages.html",
        structures=structures,
        current=current,
        unread=unread,
        conversations=conversations,
    )


@dataclass(frozen=True)
class Participant:
    """Another participant of a conversation, as the list names it."""

    handle: str
    domain: str
    name: str


@dataclass(frozen=True)
class LastMessage:
    """The last message of a conversation: its author's id and when (ISO 8601)."""

    author: str
    published: str


@dataclass(frozen=True)
class ConversationRow:
    """A conversation as the list shows it: the others, the last message, its preview."""

    id: int
    unread: int
    others: list[Participant]
    last: LastMessage | None
    preview: str
    listing_title: str | None
    last_at: datetime | None


def _summary(summary: threads.Summary, actor: Actor, titles: dict[int, str]) -> ConversationRow:
    """A conversation as the list shows it: the others, the last message, its preview."""
    conversation = summary.conversation
    last = summary.recent[-1] if summary.recent else None
    return ConversationRow(
        id=conversation.id,
        unread=summary.unread,
        others=[
            Participant(handle=p.actor.handle, domain=p.actor.domain, name=p.actor.name)
            for p in conversation.participants
            if p.actor.uri != actor.uri
        ],
        last=(
            LastMessage(author=last.author.uri, published=last.published_at.isoformat())
            if last
            else None
        ),
        preview=MENTION.sub("", last.content_text) if last else "",
        listing_title=titles.get(conversation.listing_id or 0),
        last_at=last.published_at if last else None,
    )


# --- a thread -------------------------------------------------------------------------


async def _thread(
    session: AsyncSession, person: Person, conversation_id: int
) -> tuple[Conversation, list[Structure]]:
    """The conversation and the person's structures taking part in it (404 if none)."""
    found = await threads.thread(session, conversation_id, await acting_structures(session, person))
    if found is None:
        # Not a participant: the thread does not exist for this person.
        deny(404)
    return found


async def _thread_page(
    session: AsyncSession,
    conversation: Conversation,
    mine: list[Structure],
    *,
    sender: str | None = None,
    content: str = "",
    error: str | None = None,
) -> str:
    mine_ids = {s.actor_id for s in mine}
    current = pick_structure(mine, sender or request.args.get("as"))
    return await render_template(
        "message_thread.html",
        conversation=conversation,
        messages=await threads.all_messages(session, conversation),
        mine=mine,
        mine_ids=mine_ids,
        current=current,
        others=[p.actor for p in conversation.participants if p.actor_id not in mine_ids],
        content=content,
        error=error,
        max_length=MAX_LENGTH,
    )


@blueprint.get("/messages/<int:conversation_id>")
async def thread(conversation_id: int) -> str:
    async with current_node().transaction() as session:
        person = await require_person(session)
        conversation, mine = await _thread(session, person, conversation_id)
        await threads.mark_read(session, person, conversation, {s.actor_id for s in mine})
        await remember_viewer(session, person)  # the badges count this thread as read
        return await _thread_page(session, conversation, mine)


@blueprint.post("/messages/<int:conversation_id>")
async def reply(conversation_id: int) -> Any:
    node = current_node()
    form = await request.form
    content = form.get("content", "").strip()
    async with node.transaction() as session:
        person = await require_person(session)
        conversation, mine = await _thread(session, person, conversation_id)
        structure = pick_structure(mine, form.get("from"))
        assert structure is not None and structure.actor is not None
        try:
            await messaging.reply(session, node.settings, structure.actor, conversation, content)
        except Refused as refused:
            error = _sentence(refused.reason, replying=True)
            page = await _thread_page(
                session, conversation, mine, sender=structure.handle, content=content, error=error
            )
            return page, 422
    await flash(_("Your message is sent."), "success")
    return redirect_to(f"/messages/{conversation_id}#last")


# --- a new message ----------------------------------------------------------------------


async def _compose(
    session: AsyncSession,
    person: Person,
    values: dict[str, str],
    errors: dict[str, str],
) -> str:
    structures = await acting_structures(session, person)
    listing = await messaging.visible_listing(session, parse_id(values.get("listing")))
    recipient_name = None
    if values.get("to"):
        domain = current_node().settings.instance.domain
        try:
            local = await messaging.local_recipient(session, domain, values["to"])
        except Refused:
            local = None
        if local is not None:
            recipient_name = local.name or local.handle
        elif listing is not None and values["to"] in (
            listing.author.uri,
            messaging.address_of(listing),
        ):
            recipient_name = listing.author.name or listing.author.handle
    return await render_template(
        "message_new.html",
        structures=structures,
        values=values,
        errors=errors,
        listing=listing,
        recipient_name=recipient_name,
        max_length=MAX_LENGTH,
    )


@blueprint.get("/messages/new")
async def new_message() -> str:
    values = {
        "to": request.args.get("to", "").strip(),
        "listing": request.args.get("listing", "").strip(),
        "from": request.args.get("from", "").strip(),
        "content": "",
    }
    async with current_node().db.read() as session:
        person = await require_person(session)
        if not values["to"]:
            listing = await messaging.listing_by_id(session, parse_id(values["listing"]))
            if listing is not None:
                values["to"] = messaging.address_of(listing)
        return await _compose(session, person, values, {})


@blueprint.post("/messages/new")
async def new_message_post() -> Any:
    node = current_node()
    form = await request.form
    values = {name: form.get(name, "").strip() for name in ("from", "to", "listing", "content")}
    errors: dict[str, str] = {}
    problem = messaging.content_problem(values["content"])
    if problem is not None:
        errors["content"] = _sentence(problem)
    if not values["to"]:
        errors["to"] = _("Give the recipient: a structure of this territory or an address.")
    recipient: Actor | None = None
    async with node.db.session() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        structure = pick_structure(structures, values["from"])
        if structure is None:
            deny(403, _("Only the members of an approved structure can send messages."))
        if not errors:
            domain = node.settings.instance.domain
            try:
                recipient = await messaging.local_recipient(session, domain, values["to"])
            except Refused as refused:
                errors["to"] = _sentence(refused.reason)
    if not errors and recipient is None:
        try:
            recipient = await resolve(node, values["to"])
        except TargetError as exc:
            errors["to"] = exc.message
    if not errors:
        assert recipient is not None
        async with node.transaction() as session:
            person = await require_person(session)
            structure = pick_structure(await acting_structures(session, person), values["from"])
            assert structure is not None and structure.actor is not None
            try:
                message = await messaging.send(
                    session,
                    node.settings,
                    structure.actor,
                    recipient,
                    values["content"],
                    listing_id=parse_id(values["listing"]),
                    strict_listing=False,
                )
                conversation_id = message.conversation_id
            except Refused as refused:
                errors[refused.field] = _sentence(refused.reason)
        if not errors:
            await flash(_("Your message is sent."), "success")
            return redirect_to(f"/messages/{conversation_id}#last")
    async with node.db.session() as session:
        person = await require_person(session)
        return await _compose(session, person, values, errors), 422


__all__ = ["messages", "new_message", "reply", "thread"]
