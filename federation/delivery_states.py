"""The states of a delivery (one activity to one remote inbox) and the changes allowed.

A delivery is queued ``pending`` and retried while it is; it ends ``done`` (the inbox
answered 2xx) or ``dead`` (tries exhausted, refused for good, or its domain blocked).
``done`` and ``dead`` are final: housekeeping deletes them after a while::

    (new) ──▶ pending ──▶ done
                 └──────▶ dead

The delivery worker records outcomes with bulk statements (``federation.delivery``,
``instance.services.peering``): they go through :data:`DELIVERY` (:meth:`~config.states.
StateMachine.bulk`), which only moves rows that are still ``pending``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from federation.models import Delivery

DeliveryState = Literal["pending", "done", "dead"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "done", "dead")
FINISHED: tuple[DeliveryState, ...] = ("done", "dead")

# from -> the states it may change to; None is a delivery being queued.
TRANSITIONS: dict[DeliveryState | None, set[DeliveryState]] = {
    None: {"pending"},
    "pending": {"done", "dead"},
}

DELIVERY = StateMachine[DeliveryState]("delivery", DELIVERY_STATES, TRANSITIONS)


def transition(delivery: Delivery, to: DeliveryState) -> None:
    """Change ``delivery``'s state to ``to``; raises :class:`StateError` on a refused change."""
    DELIVERY.transition(delivery, to)


__all__ = [
    "DELIVERY",
    "DELIVERY_STATES",
    "FINISHED",
    "TRANSITIONS",
    "DeliveryState",
    "StateError",
    "transition",
]
