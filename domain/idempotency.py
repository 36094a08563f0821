"""The table of the JSON API's idempotency keys, and what makes a key valid.

An :class:`IdempotencyKey` row is one ``Idempotency-Key`` a person sent with an unsafe
request of the JSON API (``instance.services.idempotency`` says how it is used): the
request it was sent with (method, path, the SHA-256 of the raw body) and, once the
request was answered, the answer (status, body, content type, ``Location``). A row
without an ``answer_status`` is a request still running, or one whose answer was never stored (the
process stopped between the handler's commit and the storing of the answer).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base, UTCDateTime, utcnow

MAX_KEY_LENGTH = 255


def valid_key(key: str) -> bool:
    """1 to 255 printable ASCII characters (a UUID, a job's own id; spaces allowed inside)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)


class IdempotencyKey(Base):
    """A key a person sent, the request it came with and, once answered, the answer."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The answer (HTTP status, body…); all None while the request runs (or never finished).
    answer_status: Mapped[int | None] = mapped_column(Integer, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    location: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (UniqueConstraint("person_id", "key"),)
