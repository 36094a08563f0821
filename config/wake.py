"""The wake signal: work queued in a transaction wakes its worker after the commit.

Code that queues work (a delivery, an activity to process, a listing to match, a
notification to mail) calls :func:`wake_after_commit` on the session it writes
with; whoever commits the session (``instance.node.Node.transaction``) reads
:func:`woken` after the commit and wakes those workers. Waking before the commit
would let a worker look for rows it cannot see yet. Without a reader (a script,
a test session) the mark is harmless: the workers also poll.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Queue", "wake_after_commit", "woken"]

_KEY = "wake"  # the session.info key; read only through woken()


class Queue(StrEnum):
    """A background worker that can be woken (its value is the loop's name)."""

    DELIVERY = "delivery"
    INBOX = "inbox"
    MATCHING = "matching"
    MAIL = "mail"


def wake_after_commit(session: AsyncSession, queue: Queue) -> None:
    """Mark ``queue`` to be woken once ``session``'s transaction commits."""
    marks: set[Queue] = session.info.setdefault(_KEY, set())
    marks.add(queue)


def woken(session: AsyncSession) -> frozenset[Queue]:
    """The queues marked on ``session`` by :func:`wake_after_commit`."""
    return frozenset(session.info.get(_KEY, ()))
