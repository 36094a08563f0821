"""Invitations to join a structure's team.

An owner invites a colleague by e-mail. The link carries a random secret,
signed with the node's key; the table keeps only the secret's SHA-256, so that
a copy of the database opens no invitation. A link is good for
:data:`INVITATION_DAYS` days and for one use.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from domain.models import Person, Structure

INVITATION_DAYS = 7


class Invitation(Base):
    """An invitation to act for a structure, sent to an e-mail address."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default="member")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    structure: Mapped[Structure] = relationship(lazy="joined")
    invited_by: Mapped[Person | None] = relationship(foreign_keys=[invited_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        """Neither used nor cancelled nor expired."""
        return self.accepted_at is None and self.cancelled_at is None and self.expires_at > utcnow()
