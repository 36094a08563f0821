"""Tables of the federation layer: actors, keys, follows, the inbox, the outbox
and the delivery queue, domain policy and health.

These tables speak ActivityPub only; they know nothing of structures,
listings or pages (the ``domain`` package links its rows to :class:`Actor`
by foreign key, never the other way round).

* :class:`Actor` — every actor we know, local (``local=True``) or remote, by
  its ActivityPub id (``uri``). A local actor's document is built from the
  domain tables; a remote actor's document is cached in ``document``.
* :class:`ActorKey` — public keys of actors (RSA for Mastodon, Ed25519
  Multikeys of FEP-521a) and, for local actors, the private key. Rotation
  marks the old key ``revoked_at`` and adds a new one.
* :class:`Follow` — ``follower`` follows ``followed``; ``state`` is
  pending/accepted/rejected, changed by ``federation.follow_states.transition``.
  The territory actor's follows to and from other territories are the node's
  peerings.
* :class:`InboxItem` — every activity received, stored raw and idempotently
  (unique on the activity id) before we answer 202; workers process the
  stored rows.
* :class:`Activity` — every activity we publish, served at its id.
* :class:`Delivery` — one row per (activity, remote inbox): the durable queue
  (states in ``federation.delivery_states``).
* :class:`DomainPolicy` — block / allow / silence by domain.
* :class:`DomainHealth` — per remote domain: last success, failures,
  unavailable since (deliveries to it are skipped until it answers again).
* :class:`Tombstone` — ids of deleted objects, so a late or replayed Create
  cannot resurrect them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from federation import follow_states
from federation.delivery_states import DELIVERY
from federation.delivery_states import DeliveryState as DeliveryState
from federation.follow_states import FOLLOW
from federation.follow_states import FollowState as FollowState

URI_LENGTH = 2048
URI = String(URI_LENGTH)
DOMAIN = String(255)

ActorType = Literal["Application", "Service", "Organization", "Group", "Person"]
InboxState = Literal["pending", "done", "failed", "ignored"]
PolicyKind = Literal["block", "allow", "silence"]


class Actor(Base):
    """An ActivityPub actor, local or remote."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(URI, unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(32), default="Person")
    handle: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str] = mapped_column(DOMAIN, index=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(URI, default=None)
    inbox_url: Mapped[str] = mapped_column(URI, default="")
    shared_inbox_url: Mapped[str | None] = mapped_column(URI, default=None)
    outbox_url: Mapped[str | None] = mapped_column(URI, default=None)
    followers_url: Mapped[str | None] = mapped_column(URI, default=None)
    following_url: Mapped[str | None] = mapped_column(URI, default=None)
    manually_approves: Mapped[bool] = mapped_column(Boolean, default=False)
    is_territory: Mapped[bool] = mapped_column(Boolean, default=False)
    document: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    moved_to: Mapped[str | None] = mapped_column(URI, default=None)
    # A local actor's former accounts on other nodes (FEP-7628 ``alsoKnownAs``), set by
    # ``entraide structure alias`` before the old node moves it here.
    also_known_as: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Moderators' word on a remote actor: "" (none), "silenced" (kept out of search
    # and public pages) or "blocked" (its deliveries refused, its content hidden).
    moderation: Mapped[str] = mapped_column(String(16), default="", server_default="")
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    keys: Mapped[list[ActorKey]] = relationship(
        back_populates="actor", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (Index("ix_actors_handle_domain", "handle", "domain"),)

    @property
    def delivery_inbox(self) -> str:
        """Where to deliver to this actor: its server's shared inbox when it has one."""
        return self.shared_inbox_url or self.inbox_url


class ActorKey(Base):
    """A key of an actor; the private half is kept for local actors only."""

    __tablename__ = "actor_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(URI, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "rsa" or "ed25519"
    public_key: Mapped[str] = mapped_column(Text)  # PEM for RSA, multibase for Ed25519
    private_key: Mapped[str | None] = mapped_column(Text, default=None)  # PEM, local only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    actor: Mapped[Actor] = relationship(back_populates="keys")


class Follow(Base):
    """``follower`` follows ``followed``."""

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    followed_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[FollowState] = mapped_column(FOLLOW.column_type(), default="pending")
    activity_uri: Mapped[str | None] = mapped_column(URI, default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    follower: Mapped[Actor] = relationship(foreign_keys=[follower_id], lazy="joined")
    followed: Mapped[Actor] = relationship(foreign_keys=[followed_id], lazy="joined")

    __table_args__ = (UniqueConstraint("follower_id", "followed_id"),)


def _follows_changed(*_args: object) -> None:
    follow_states.changed()


for _event in ("after_insert", "after_update", "after_delete"):
    event.listen(Follow, _event, _follows_changed)


class InboxItem(Base):
    """An activity as received, processed later from this row."""

    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(URI, unique=True)
    activity_type: Mapped[str] = mapped_column(String(64))
    actor_uri: Mapped[str] = mapped_column(URI)
    domain: Mapped[str] = mapped_column(DOMAIN, index=True)
    recipient_uri: Mapped[str | None] = mapped_column(URI, default=None)
    key_id: Mapped[str] = mapped_column(URI, default="")
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index("ix_inbox_items_state_next", "state", "next_attempt_at"),)


class Activity(Base):
    """An activity published by a local actor, served at ``uri``."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(URI, unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    object_uri: Mapped[str | None] = mapped_column(URI, default=None, index=True)
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One activity to one remote inbox: a row of the durable delivery queue."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    inbox_url: Mapped[str] = mapped_column(URI)
    domain: Mapped[str] = mapped_column(DOMAIN, index=True)
    state: Mapped[DeliveryState] = mapped_column(DELIVERY.column_type(), default="pending")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    activity: Mapped[Activity] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_url"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )


class DomainPolicy(Base):
    """The administrator's word on a remote domain."""

    __tablename__ = "domain_policies"

    domain: Mapped[str] = mapped_column(DOMAIN, primary_key=True)
    policy: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainHealth(Base):
    """How deliveries to a remote domain have been going."""

    __tablename__ = "domain_health"

    domain: Mapped[str] = mapped_column(DOMAIN, primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unavailable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Tombstone(Base):
    """An object that was deleted and must stay deleted."""

    __tablename__ = "tombstones"

    uri: Mapped[str] = mapped_column(URI, primary_key=True)
    actor_uri: Mapped[str] = mapped_column(URI, default="")
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
