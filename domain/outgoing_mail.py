"""Tables of e-mail: the durable queue of outgoing mail, each structure's choice of
notification e-mail, and password-reset links.

* :class:`OutgoingMail` — one message to one address, written in the transaction of
  what caused it (``instance.services.outgoing_mail.enqueue``) and sent by the mail
  worker (``instance.mail``) with retries; ``locked_by``/``locked_until`` are the lease
  of the worker sending it (``federation.leases``), so two workers never send one mail
  twice. ``dedupe_key`` (unique) makes a mail queued twice a no-op (a daily digest, a
  notification).
* :class:`MailChoice` — how a structure wants its notifications by e-mail: ``now`` (at
  once, the default when it has no row), ``digest`` (once a day) or ``never``.
* :class:`PasswordReset` — a reset request: the SHA-256 of its link's secret, its
  expiry, when it was used (single use).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base, UTCDateTime, utcnow
from domain.mail_states import MAIL, MailState

MailFrequency = Literal["now", "digest", "never"]
MAIL_FREQUENCIES: tuple[MailFrequency, ...] = ("now", "digest", "never")
DEFAULT_FREQUENCY: MailFrequency = "now"


class OutgoingMail(Base):
    """One message to one address: a row of the durable mail queue."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    state: Mapped[MailState] = mapped_column(MAIL.column_type(), default="pending")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index("ix_outgoing_mail_state_next", "state", "next_attempt_at"),)


class MailChoice(Base):
    """A structure's choice of notification e-mail (no row: ``now``)."""

    __tablename__ = "mail_choices"

    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    frequency: Mapped[str] = mapped_column(String(8), default=DEFAULT_FREQUENCY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordReset(Base):
    """A password-reset request: for a known address, the link sent (single use,
    short-lived); for any address, a row that counts the requests made for it (the
    rate limit per address, the same whether or not it has an account)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # HMAC of the normalised address (the node's secret key): counts, reveals nothing
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True, default=None
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
