"""The states of a follow and the changes allowed between them.

``follower`` asks to follow ``followed``: the follow is ``pending`` until the
followed side accepts (``accepted``) or refuses (``rejected``); a follow that needs
no answer (a local actor that does not approve followers by hand) starts
``accepted``. A refused follower may ask again (``pending`` again). An accepted
follow may be refused later (an administrator rejects a peering it had approved).
Ending a follow (``Undo``, a follower removed) deletes the row: it has no state.

====================  =====================================================
from                  to
====================  =====================================================
(new)                 pending (asked), accepted (needs no answer)
pending               accepted, rejected (answered)
accepted              rejected (an approved peering refused after all)
rejected              pending (asked again)
====================  =====================================================

Every change goes through :func:`transition` (the inbox handlers, ``outbox.follows``,
the services); the remote side's ``Accept`` of one of our follows applies to a
``pending`` follow only, so an ``Accept`` of a refused follow changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from federation.models import Follow

FollowState = Literal["pending", "accepted", "rejected"]
FOLLOW_STATES: tuple[FollowState, ...] = ("pending", "accepted", "rejected")

# from -> the states it may change to; None is a follow being created.
TRANSITIONS: dict[FollowState | None, set[FollowState]] = {
    None: {"pending", "accepted"},
    "pending": {"accepted", "rejected"},
    "accepted": {"rejected"},
    "rejected": {"pending"},
}

FOLLOW = StateMachine[FollowState]("follow", FOLLOW_STATES, TRANSITIONS)


_generation = 0


def changed() -> None:
    """A follow was made, changed or ended in this process (``federation.models`` calls it
    after every ORM insert, update and delete of a follow): caches of who follows whom
    read again at once. Other processes' changes are seen within their caches' age."""
    global _generation
    _generation += 1


def generation() -> int:
    return _generation


def transition(follow: Follow, to: FollowState) -> None:
    """Change ``follow``'s state to ``to``; raises :class:`StateError` on a refused change."""
    FOLLOW.transition(follow, to)


__all__ = [
    "FOLLOW",
    "FOLLOW_STATES",
    "TRANSITIONS",
    "FollowState",
    "StateError",
    "changed",
    "generation",
    "transition",
]
