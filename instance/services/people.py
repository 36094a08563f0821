"""What a signed-in person has waiting: unread messages and notifications (the header's
badges), and marking notifications read."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person
from domain.social import Message, Notification, Participant
from instance.services.structures import person_actors_query


async def waiting_counts(session: AsyncSession, person: Person) -> tuple[int, int]:
    """``(unread messages, unread notifications)`` of ``person``, in one statement: the
    header's badges, on every page a signed-in person sees.

    A message is unread when it was written to one of the approved structures the person
    acts for, by someone else, since that structure last read its thread; a notification
    when it has no ``read_at``."""
    actors = person_actors_query(person).scalar_subquery()
    messages = (
        select(func.count(func.distinct(Message.id)))
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(
            Participant.actor_id.in_(actors),
            Message.author_id.not_in(actors),
            (Participant.last_read_at.is_(None))
            | (Message.published_at > Participant.last_read_at),
        )
        .scalar_subquery()
    )
    notifications = (
        select(func.count(Notification.id))
        .where(Notification.person_id == person.id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    row = (await session.execute(select(messages, notifications))).one()
    return int(row[0] or 0), int(row[1] or 0)
