"""Direct messages between structures: ``/messages``, a thread, and writing a new one.

A person reads the conversations of the structures they act for (a switcher
chooses the structure when there are several). A thread is shown only to the
members of a structure taking part in it — to anyone else it does not exist
(404, as the ActivityPub id of a message). Viewing a thread marks it read
(``Participant.last_read_at``) together with its notifications.

Sending goes through ``outbox.messages.send`` (which federates to a remote
recipient); the recipient is found as the JSON API finds it: a local
structure by handle or address, else a remote actor resolved over the network
before the transaction opens.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from quart import flash, render_template, request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing, Person, Structure
from domain.social import Conversation, Message
from federation.models import Actor
from instance.api.messages import _recipient, conversations_of, may_receive, unread_count
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.ids import parse_id
from instance.node import current_node
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    deny,
    pick_structure,
    redirect_to,
    remember_viewer,
    require_person,
)
from instance.web.queries import mark_notifications_read
from instance.web.remote import TargetError, resolve
from outbox import messages as message_activities

MAX_LENGTH = message_activities.MAX_LENGTH
# The mentions a direct message opens with (Mastodon's DM shape), left out of previews.
MENTION = re.compile(r"^(?:@[\w.-]+(?:@[\w.:-]+)?\s+)+")


# --- the list of conversations ------------------------------------------------------


@blueprint.get("/messages")
async def messages() -> str:
    async with current_node().db.session() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        current = pick_structure(structures, request.args.get("as"))
        unread = {}
        for structure in structures:
            assert structure.actor is not None
            unread[structure.handle] = await unread_count(session, structure.actor)
        conversations: list[dict[str, Any]] = []
        if current is not None and current.actor is not None:
            conversations = await conversations_of(session, current.actor)
            listings = await _listings(session, [c["listing"] for c in conversations])
            for conversation in conversations:
                conversation["others"] = [
                    p for p in conversation["participants"] if p["id"] != current.actor.uri
                ]
                conversation["last"] = (
                    conversation["messages"][-1] if conversation["messages"] else None
                )
                conversation["preview"] = (
                    MENTION.sub("", conversation["last"]["content"]) if conversation["last"] else ""
                )
                conversation["listing_title"] = listings.get(conversation["listing"])
                conversation["last_at"] = (
                    datetime.fromisoformat(conversation["last"]["published"])
                    if conversation["last"]
                    else None
                )
    return await render_template(
        "messages.html",
        structures=structures,
        current=current,
        unread=unread,
        conversations=conversations,
    )


async def _listings(session: AsyncSession, ids: list[int | None]) -> dict[int | None, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Listing.id, Listing.title).where(Listing.id.in_(wanted)))
    return {listing_id: title for listing_id, title in rows.all()}


# --- a thread -------------------------------------------------------------------------


async def _thread(
    session: AsyncSession, person: Person, conversation_id: int
) -> tuple[Conversation, list[Structure]]:
    """The conversation and the person's structures taking part in it (404 if none)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        deny(404)
    taking_part = {p.actor_id for p in conversation.participants}
    mine = [s for s in await acting_structures(session, person) if s.actor_id in taking_part]
    if not mine:
        # Not a participant: the thread does not exist for this person.
        deny(404)
    return conversation, mine


def _other(conversation: Conversation, sender: Actor) -> Actor | None:
    """Whom a reply goes to: the other participant (the first one, in a group thread)."""
    for participant in conversation.participants:
        if participant.actor_id != sender.id:
            return participant.actor
    return None


async def _thread_page(
    session: AsyncSession,
    person: Person,
    conversation: Conversation,
    mine: list[Structure],
    *,
    sender: str | None = None,
    content: str = "",
    error: str | None = None,
) -> str:
    rows = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.published_at, Message.id)
    )
    mine_ids = {s.actor_id for s in mine}
    current = pick_structure(mine, sender or request.args.get("as"))
    return await render_template(
        "message_thread.html",
        conversation=conversation,
        messages=list(rows.scalars().unique()),
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
        now = utcnow()
        for participant in conversation.participants:
            if participant.actor_id in {s.actor_id for s in mine}:
                participant.last_read_at = now
        await mark_notifications_read(session, person, f"/messages/{conversation_id}")
        await session.flush()
        await remember_viewer(session, person)  # the badges count this thread as read
        return await _thread_page(session, person, conversation, mine)


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
        error = _check_content(content)
        recipient = _other(conversation, structure.actor)
        if recipient is None:
            error = _("There is nobody else in this conversation to answer.")
        elif not await may_receive(session, recipient):
            error = _("This structure is suspended: it cannot receive messages.")
        if error:
            page = await _thread_page(
                session,
                person,
                conversation,
                mine,
                sender=structure.handle,
                content=content,
                error=error,
            )
            return page, 422
        assert recipient is not None
        await message_activities.send(
            session,
            node.settings,
            structure.actor,
            recipient,
            content,
            conversation=conversation,
        )
    await flash(_("Your message is sent."), "success")
    return redirect_to(f"/messages/{conversation_id}#last")


def _check_content(content: str) -> str | None:
    if not content:
        return _("Write your message.")
    if len(content) > MAX_LENGTH:
        return _("Your message is too long: at most %(max)d characters.", max=MAX_LENGTH)
    return None


# --- a new message ----------------------------------------------------------------------


async def _compose(
    session: AsyncSession,
    person: Person,
    values: dict[str, str],
    errors: dict[str, str],
) -> str:
    structures = await acting_structures(session, person)
    listing = None
    if parse_id(values.get("listing")) is not None:
        listing = await session.get(Listing, parse_id(values["listing"]))
        if listing is not None and listing.hidden:
            listing = None
    recipient_name = None
    if values.get("to"):
        try:
            local = await _recipient(session, values["to"])
        except ApiError:
            local = None
        if local is not None:
            recipient_name = local.name or local.handle
        elif listing is not None and values["to"] in (listing.author.uri, _address(listing)):
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


def _address(listing: Listing) -> str:
    """How a listing's author is written to: a local handle, or ``acct:name@host``."""
    if listing.structure is not None:
        return listing.structure.handle
    author = listing.author
    if author.handle and author.domain:
        return f"acct:{author.handle}@{author.domain}"
    return author.uri


@blueprint.get("/messages/new")
async def new_message() -> str:
    values = {
        "to": request.args.get("to", "").strip(),
        "listing": request.args.get("listing", "").strip(),
        "from": request.args.get("from", "").strip(),
        "content": "",
    }
    async with current_node().db.session() as session:
        person = await require_person(session)
        if parse_id(values["listing"]) is not None and not values["to"]:
            listing = await session.get(Listing, parse_id(values["listing"]))
            if listing is not None:
                values["to"] = _address(listing)
        return await _compose(session, person, values, {})


@blueprint.post("/messages/new")
async def new_message_post() -> Any:
    node = current_node()
    form = await request.form
    values = {name: form.get(name, "").strip() for name in ("from", "to", "listing", "content")}
    errors: dict[str, str] = {}
    content_error = _check_content(values["content"])
    if content_error:
        errors["content"] = content_error
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
            try:
                recipient = await _recipient(session, values["to"])
            except ApiError:
                errors["to"] = _("No structure of this territory has this name.")
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
            if recipient.uri == structure.actor.uri:
                errors["to"] = _("You cannot write to your own structure.")
            else:
                recipient = await session.merge(recipient)
                listing = None
                if parse_id(values["listing"]) is not None:
                    listing = await session.get(Listing, parse_id(values["listing"]))
                    if listing is not None and listing.hidden:
                        listing = None
                message = await message_activities.send(
                    session,
                    node.settings,
                    structure.actor,
                    recipient,
                    values["content"],
                    listing=listing,
                )
                conversation_id = message.conversation_id
        if not errors:
            await flash(_("Your message is sent."), "success")
            return redirect_to(f"/messages/{conversation_id}#last")
    async with node.db.session() as session:
        person = await require_person(session)
        return await _compose(session, person, values, errors), 422


__all__ = ["messages", "new_message", "reply", "thread"]
