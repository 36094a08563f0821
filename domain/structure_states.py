"""The approval states of a structure and the changes allowed between them.

A structure signs up ``pending``; an administrator approves it (``approved``: it
gets its actor, is visible and may publish) or rejects it with a reason
(``rejected``; approving it later remains possible). Its people may correct a
rejected structure and submit it again (``pending``). A moderator suspends an
approved structure (``suspended``) and may lift the suspension (``approved`` again).

====================  =====================================================
from                  to
====================  =====================================================
(new)                 pending (signed up)
pending               approved, rejected (an administrator decides)
rejected              approved (an administrator changes their mind),
                      pending (its people corrected it and submit it again)
approved              suspended (a moderator suspends it)
suspended             approved (the suspension is lifted)
====================  =====================================================

Every change goes through :func:`transition`; a refused one raises
:class:`~config.states.StateError` (409 for a page or the API). Only an approved
structure is visible: :attr:`domain.models.Structure.is_visible`, in Python and in SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from domain.models import Structure

StructureStatus = Literal["pending", "approved", "rejected", "suspended"]
STRUCTURE_STATUSES: tuple[StructureStatus, ...] = ("pending", "approved", "rejected", "suspended")
VISIBLE: StructureStatus = "approved"

# from -> the states it may change to; None is a structure being created.
TRANSITIONS: dict[StructureStatus | None, set[StructureStatus]] = {
    None: {"pending"},
    "pending": {"approved", "rejected"},
    "rejected": {"approved", "pending"},
    "approved": {"suspended"},
    "suspended": {"approved"},
}

STRUCTURE = StateMachine[StructureStatus](
    "structure", STRUCTURE_STATUSES, TRANSITIONS, attribute="status"
)


def transition(structure: Structure, to: StructureStatus) -> None:
    """Change ``structure``'s status to ``to``; raises :class:`StateError` on a refused change."""
    STRUCTURE.transition(structure, to)


__all__ = [
    "STRUCTURE",
    "STRUCTURE_STATUSES",
    "TRANSITIONS",
    "VISIBLE",
    "StateError",
    "StructureStatus",
    "transition",
]
