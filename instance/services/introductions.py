"""The territory's matches, as its animators see them, and introductions.

* :func:`territory_matches` — every stored match of the node (local or with a
  neighbour's listing) whose two listings may be shown, newest first, paged by id,
  optionally of one category: for animators, moderators and administrators;
* :func:`introduce` — « Mettre en relation »: one message to both structures of a
  match, in one conversation of three (the sender and the two structures). The
  sender is the territory, or a structure the animator acts for. A local
  structure is notified as for any message; a remote one receives one
  ``Create(Note)`` addressed to both and mentioning both (a direct message on
  Mastodon too). The match remembers when it was introduced; a second
  introduction is refused (409), so two animators do not write twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from actors.local import territory_actor
from config.database import utcnow
from config.settings import Settings
from domain.matches import Match
from domain.models import Listing, Person, Structure
from domain.notify import notify_message
from domain.social import Conversation, Message, Participant
from federation.models import Actor
from instance.api_errors import ApiError, Forbidden, NotFound
from instance.services.matching import shown
from instance.services.messages import MAX_LENGTH, may_receive
from outbox import messages as message_activities


def may_see_territory_matches(person: Person | None) -> bool:
    """Animators, moderators and administrators see every match of the territory."""
    return person is not None and person.is_animator


def _open_and_visible(listing: type[Listing]) -> ColumnElement[bool]:
    approved = select(Structure.id).where(Structure.is_visible)
    return and_(
        listing.status == "open",
        listing.hidden.is_(False),
        or_(listing.structure_id.is_(None), listing.structure_id.in_(approved)),
    )


async def territory_matches(
    session: AsyncSession,
    limit: int,
    before: int | None = None,
    category: str | None = None,
) -> tuple[list[Match], int | None]:
    """The matches of the territory whose two listings are open and shown, newest first,
    with ids below ``before``; and the id to page on from when there are more."""
    need = aliased(Listing)
    offer = aliased(Listing)
    stmt = (
        select(Match)
        .join(need, Match.need_id == need.id)
        .join(offer, Match.offer_id == offer.id)
        .where(_open_and_visible(need), _open_and_visible(offer))
        .order_by(Match.id.desc())
        .limit(limit + 1)
    )
    if category:
        stmt = stmt.where(need.category == category)
    if before is not None:
        stmt = stmt.where(Match.id < before)
    found = list((await session.execute(stmt)).scalars().unique())
    items = [m for m in found[:limit] if shown(m.need) and shown(m.offer)]
    return items, found[limit - 1].id if len(found) > limit else None


async def sender_for(session: AsyncSession, person: Person, handle: str | None) -> Actor:
    """Who introduces: the territory (no handle, or its own), or a structure the
    person acts for."""
    territory = await territory_actor(session)
    if not handle or handle == territory.handle:
        return territory
    structure = await session.scalar(select(Structure).where(Structure.handle == handle))
    if structure is None or structure.actor is None or not structure.is_visible:
        raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
    if not any(m.structure_id == structure.id for m in person.memberships):
        raise Forbidden("you do not act for this structure")
    return structure.actor


def default_text(need: Listing, offer: Listing) -> str:
    """The message an animator sends when they write none (in the node's language)."""
    return (
        "Bonjour, je vous mets en relation : votre besoin « "
        f"{need.title} » et l'offre « {offer.title} » semblent se correspondre. "
        "Je vous laisse échanger directement dans cette conversation."
    )


@dataclass(frozen=True)
class Introduction:
    match: Match
    conversation_id: int
    message: Message


async def introduce(
    session: AsyncSession,
    settings: Settings,
    person: Person,
    match_id: int,
    sender: Actor,
    text: str | None = None,
) -> Introduction:
    """Put the two structures of match ``match_id`` in touch: one message to both."""
    if not may_see_territory_matches(person):
        raise Forbidden("only the territory's animators, moderators and administrators")
    match = await session.get(Match, match_id)
    if match is None or not (shown(match.need) and shown(match.offer)):
        raise NotFound("no such match")
    if match.introduced_at is not None:
        raise ApiError(409, "these two structures were already introduced", code="introduced")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_LENGTH):
        raise ApiError(
            422, "some fields are invalid", fields={"message": f"at most {MAX_LENGTH} characters"}
        )
    text = (text or "").strip() or default_text(match.need, match.offer)
    recipients = [match.need.author, match.offer.author]
    if sender.id in {r.id for r in recipients} or recipients[0].id == recipients[1].id:
        raise ApiError(409, "the sender is one of the two sides", code="conflict")
    for actor in recipients:
        if not await may_receive(session, actor):
            raise ApiError(409, "one of the structures may not receive messages")
    now = utcnow()
    conversation = Conversation(
        context=f"{settings.base_url}/conversations/{uuid.uuid4()}",
        listing_id=match.need.id,
        subject=f"{match.need.title} ↔ {match.offer.title}"[:200],
    )
    conversation.participants.extend(
        [Participant(actor_id=sender.id, last_read_at=now)]
        + [Participant(actor_id=r.id) for r in recipients]
    )
    session.add(conversation)
    await session.flush()
    message = Message(
        ap_id=f"{settings.base_url}/messages/{uuid.uuid4()}",
        conversation=conversation,
        conversation_id=conversation.id,
        author=sender,
        author_id=sender.id,
        local=True,
        content_html=message_activities.introduction_html(
            recipients, text, [match.need, match.offer]
        ),
        content_text=text,
        published_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    match.introduced_at = now
    await session.flush()
    for actor in recipients:
        if actor.local:
            await notify_message(session, actor.id, sender, conversation.id)
    await message_activities.deliver_to_all(session, settings, message, recipients, None)
    return Introduction(match, conversation.id, message)
