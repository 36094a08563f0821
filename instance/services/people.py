"""What a signed-in person has waiting: unread messages and notifications (the header's
badges), and marking notifications read."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person
from domain.social import Message, Notification, Participant
from instance.services.structures import person_actor_ids


async def unread_messages(session: AsyncSession, person: Person) -> int:
    """Messages written to the person's structures since each last read its thread."""
    actor_ids = await person_actor_ids(session, person)
    if not actor_ids:
        return 0
    count = await session.scalar(
        select(func.count(func.distinct(Message.id)))
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(
            Participant.actor_id.in_(actor_ids),
            Message.author_id.not_in(actor_ids),
            (Participant.last_read_at.is_(None))
            | (Message.published_at > Participant.last_read_at),
        )
    )
    return int(count or 0)


async def unread_notifications(session: AsyncSession, person: Person) -> int:
    """Notifications of the person not read yet."""
    count = await session.scalar(
        select(func.count(Notification.id)).where(
            Notification.person_id == person.id, Notification.read_at.is_(None)
        )
    )
    return int(count or 0)
