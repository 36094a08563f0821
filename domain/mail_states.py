"""The states of an outgoing e-mail (one message to one address) and the changes allowed.

A mail is queued ``pending`` and tried while it is; it ends ``sent`` (the SMTP server
took it) or ``failed`` (refused for good, tried too often, or too old to be worth
sending). Both are final; housekeeping deletes them after a while::

    (new) ──▶ pending ──▶ sent
                 └──────▶ failed

The mail worker (``instance.mail``) records outcomes through :data:`MAIL`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from domain.outgoing_mail import OutgoingMail

MailState = Literal["pending", "sent", "failed"]
MAIL_STATES: tuple[MailState, ...] = ("pending", "sent", "failed")
FINISHED: tuple[MailState, ...] = ("sent", "failed")

# from -> the states it may change to; None is a mail being queued.
TRANSITIONS: dict[MailState | None, set[MailState]] = {
    None: {"pending"},
    "pending": {"sent", "failed"},
}

MAIL = StateMachine[MailState]("mail", MAIL_STATES, TRANSITIONS)


def transition(mail: OutgoingMail, to: MailState) -> None:
    """Change ``mail``'s state to ``to``; raises :class:`StateError` on a refused change."""
    MAIL.transition(mail, to)


__all__ = [
    "FINISHED",
    "MAIL",
    "MAIL_STATES",
    "TRANSITIONS",
    "MailState",
    "StateError",
    "transition",
]
