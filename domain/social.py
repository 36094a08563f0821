"""Tables of what structures say to each other: messages, communities, and
the moderation and notification records that keep the network trustworthy.

* :class:`Conversation` / :class:`Participant` / :class:`Message` — direct
  messages between actors (local structures, remote actors), grouped by
  thread (``context``), optionally about a listing. Never public.
* :class:`Community` — a local ``Group`` actor (FEP-1b12) run by animators
  (:class:`CommunityAnimator`, people) with members (:class:`CommunityMember`,
  actors — local structures or remote ones an animator admitted).
* :class:`Post` — a post in a community, local or remote (``group_id`` is
  the Group actor, ours or another node's); or the public post of a remote
  account one of our actors follows (``group_id`` is then its author itself),
  kept for timelines (``inbox.replies``).
* :class:`Notification` — something a person should know.
* :class:`Report` — a report about an actor or object, made here or received
  as a ``Flag``; :class:`AuditEntry` — every moderation action.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from domain.models import Listing, Person
from domain.report_states import REPORT, ReportState
from federation.models import URI, Actor


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    context: Mapped[str] = mapped_column(URI, unique=True)
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="SET NULL"), default=None
    )
    subject: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    listing: Mapped[Listing | None] = relationship(lazy="joined")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", lazy="selectin"
    )


class Participant(Base):
    __tablename__ = "conversation_participants"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    conversation: Mapped[Conversation] = relationship(back_populates="participants")
    actor: Mapped[Actor] = relationship(lazy="joined")


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    content_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    content_text: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[str | None] = mapped_column(URI, default=None)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[Actor] = relationship(lazy="joined")
    conversation: Mapped[Conversation] = relationship(lazy="joined")


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")
    animators: Mapped[list[CommunityAnimator]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class CommunityAnimator(Base):
    __tablename__ = "community_animators"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )

    person: Mapped[Person] = relationship(lazy="joined")


class CommunityMember(Base):
    __tablename__ = "community_members"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    content_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    content_text: Mapped[str] = mapped_column(Text, default="")
    announce_uri: Mapped[str | None] = mapped_column(URI, default=None, index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[Actor] = relationship(foreign_keys=[group_id], lazy="joined")
    author: Mapped[Actor] = relationship(foreign_keys=[author_id], lazy="joined")


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # The structure it concerns, when it concerns one (GET /api/v1/notifications?actor=)
    structure_id: Mapped[int | None] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    url: Mapped[str] = mapped_column(String(2048), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index("ix_notifications_person_read", "person_id", "read_at"),)


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(255))  # "local" or the reporting domain
    reporter_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    reporter_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="SET NULL"), default=None
    )
    target_uri: Mapped[str] = mapped_column(URI)
    target_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="SET NULL"), default=None
    )
    objects: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    flag_uri: Mapped[str | None] = mapped_column(URI, default=None, unique=True)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ReportState] = mapped_column(REPORT.column_type(), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )

    reporter_actor: Mapped[Actor | None] = relationship(
        foreign_keys=[reporter_actor_id], lazy="joined"
    )
    target_actor: Mapped[Actor | None] = relationship(foreign_keys=[target_actor_id], lazy="joined")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(URI, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    person: Mapped[Person | None] = relationship(lazy="joined")


__all__ = [
    "AuditEntry",
    "Community",
    "CommunityAnimator",
    "CommunityMember",
    "Conversation",
    "Message",
    "Notification",
    "Participant",
    "Post",
    "Report",
]
