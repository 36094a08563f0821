"""The optional second factor of administrators and moderators: a TOTP secret (RFC 6238,
the codes of an authenticator app) and single-use recovery codes.

The TOTP secret must be readable to check a code, so it is stored as is (like the
keys of the node's actors); recovery codes are random and only their SHA-256 is kept.
Wrong codes are counted per person: after :data:`MAX_FAILURES` in a row the code step
is closed for :data:`LOCK_MINUTES` minutes, whatever the address they come from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base, UTCDateTime, utcnow

MAX_FAILURES = 5
LOCK_MINUTES = 15
RECOVERY_CODES = 10


class SecondFactor(Base):
    """A person's TOTP secret; ``confirmed_at`` is set once a code proved the enrolment."""

    __tablename__ = "second_factors"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_step: Mapped[int] = mapped_column(Integer, default=0)  # no code used twice
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RecoveryCode(Base):
    """A single-use code that stands in for the app (a lost phone), stored as a hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
