"""Public conversation around listings: replies, and the interest they draw.

* :class:`Reply` — a public reply under one of our listings: a fediverse
  ``Note`` whose ``inReplyTo`` is the listing (or another reply of its thread),
  or an answer written here by one of the listing's people. Its HTML is
  sanitised before it is stored; moderators hide it like a community post.
* :class:`Reaction` — a ``Like`` or an ``Announce`` of a listing, counted
  without keeping who: the row holds a keyed hash of (actor, type, listing),
  which dedupes a second Like of the same actor, and a hash of the activity's
  id, which an ``Undo`` of it finds. The sending server is kept (the flood
  bound counts per server and hour).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from domain.models import Listing
from federation.models import URI, Actor


class Reply(Base):
    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    content_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    content_text: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[str] = mapped_column(URI)  # the listing's id, or a reply's
    context: Mapped[str | None] = mapped_column(URI, default=None)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    listing: Mapped[Listing] = relationship(lazy="joined")
    author: Mapped[Actor] = relationship(lazy="joined")

    __table_args__ = (Index("ix_replies_listing_published", "listing_id", "published_at", "id"),)


class Reaction(Base):
    __tablename__ = "listing_reactions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # (actor, type, listing)
    activity_digest: Mapped[str] = mapped_column(String(64), index=True)  # the activity's id
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # like, announce
    origin: Mapped[str] = mapped_column(String(255))  # the sending server
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_listing_reactions_origin_created", "origin", "created_at"),)


__all__ = ["Reaction", "Reply"]
