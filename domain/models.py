"""Tables of the node's own data: people, structures, API tokens, listings.

A :class:`Person` has a login and acts for one or more :class:`Structure`
through :class:`Membership` (owner or member). A structure is published as an
``Organization`` actor (``federation.models.Actor``) once an administrator has
approved it; before that it is ``pending`` and invisible. A
:class:`Listing` is an offer or a need: local ones belong to a structure,
remote ones (received by federation) to a remote actor, with ``origin`` the
domain they come from.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    event,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from domain.listing_states import LISTING
from domain.listing_states import LISTING_STATUSES as LISTING_STATUSES
from domain.listing_states import ListingStatus as ListingStatus
from domain.structure_states import STRUCTURE, VISIBLE
from domain.structure_states import StructureStatus as StructureStatus
from domain.textsearch import fold, stem_text
from federation.models import URI, Actor

Role = Literal["admin", "moderator", "animator", "member"]
ROLES: tuple[Role, ...] = ("admin", "moderator", "animator", "member")
StructureKind = Literal["business", "association", "public", "other"]
STRUCTURE_KINDS: tuple[StructureKind, ...] = ("business", "association", "public", "other")
MemberRole = Literal["owner", "member"]
MEMBER_ROLES: tuple[MemberRole, ...] = ("owner", "member")
ListingKind = Literal["offer", "need"]
LISTING_KINDS: tuple[ListingKind, ...] = ("offer", "need")
Modality = Literal["lend", "mutualise", "give", "sell", "barter"]
MODALITIES: tuple[Modality, ...] = ("lend", "mutualise", "give", "sell", "barter")


class Person(Base):
    """Someone with a login."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="member")
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_moderator(self) -> bool:
        return self.role in ("admin", "moderator")

    @property
    def is_animator(self) -> bool:
        return self.role in ("admin", "moderator", "animator")


class Structure(Base):
    """A business, association, public body or other local structure."""

    __tablename__ = "structures"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="business")
    description: Mapped[str] = mapped_column(Text, default="")
    commune: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    # given, commune (placed from the gazetteer, domain.places) or none
    placed: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    website: Mapped[str] = mapped_column(String(500), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    # How to be contacted: a public phone (optional), and whether messages are taken.
    contact_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    accepts_messages: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The logo (``domain.logos``): its type and when it changed (None: no logo); the
    # image itself is a row of ``structure_logos``, loaded only to serve it.
    logo_type: Mapped[str] = mapped_column(String(16), default="", server_default="")
    logo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The profile as it was when an administrator rejected it, and the reason: what
    # changed since is shown to the administrators when it is submitted again.
    rejected_profile: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    status: Mapped[StructureStatus] = mapped_column(
        STRUCTURE.column_type(), default="pending", index=True
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="SET NULL"), unique=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )

    actor: Mapped[Actor | None] = relationship(lazy="joined")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="structure", cascade="all, delete-orphan", lazy="selectin"
    )

    @hybrid_property
    def is_visible(self) -> bool:
        """Approved: visible to all and able to publish (also a SQL expression:
        ``select(Structure).where(Structure.is_visible)``)."""
        return self.status == VISIBLE


class Membership(Base):
    """A person acts for a structure, as an owner or a member.

    Both publish, write and answer in its name; owners also manage its people
    (invite, remove, hand the ownership over: ``instance.services.teams``). A
    structure always keeps at least one owner.
    """

    __tablename__ = "memberships"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="owner")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="memberships", lazy="joined")
    structure: Mapped[Structure] = relationship(back_populates="memberships", lazy="joined")


class StructureLogo(Base):
    """A structure's logo, as this node re-encoded it (never the bytes uploaded)."""

    __tablename__ = "structure_logos"

    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token of the JSON API, stored as a SHA-256 hash."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    person: Mapped[Person] = relationship(lazy="joined")


class WebSession(Base):
    """A person logged in in one browser (``instance.auth``).

    The cookie carries a random secret; the table keeps its SHA-256, so that a
    copy of the database opens no session. Logging out deletes the row: a copy
    of the cookie is worth nothing afterwards.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Listing(Base):
    """An offer or a need, published here or received from another node."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    url: Mapped[str] = mapped_column(URI, default="")
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(255), index=True)
    structure_id: Mapped[int | None] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), default=None, index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3), default=None)
    unit: Mapped[str] = mapped_column(String(32), default="")
    price_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    price_currency: Mapped[str] = mapped_column(String(3), default="")
    available_from: Mapped[date | None] = mapped_column(Date, default=None)
    available_until: Mapped[date | None] = mapped_column(Date, default=None)
    commune: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    # given, commune (placed from the gazetteer, domain.places) or none
    placed: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    radius_km: Mapped[float | None] = mapped_column(Float, default=None)
    status: Mapped[ListingStatus] = mapped_column(LISTING.column_type(), default="open")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    extra: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    # Search forms of title and description (``domain.textsearch``), kept by the
    # mapper events below: folded text for PostgreSQL, stems for SQLite FTS5.
    fold_title: Mapped[str] = mapped_column(Text, default="")
    fold_body: Mapped[str] = mapped_column(Text, default="")
    stem_title: Mapped[str] = mapped_column(Text, default="")
    stem_body: Mapped[str] = mapped_column(Text, default="")

    structure: Mapped[Structure | None] = relationship(lazy="joined")
    author: Mapped[Actor] = relationship(lazy="joined")

    def refresh_search_text(self) -> None:
        self.fold_title = fold(self.title or "")
        self.fold_body = fold(self.description or "")[:20_000]
        self.stem_title = stem_text(self.title or "")
        self.stem_body = stem_text(self.description or "")[:20_000]

    __table_args__ = (
        Index("ix_listings_status_published", "status", "published_at"),
        Index("ix_listings_lat_lon", "lat", "lon"),
    )


@event.listens_for(Listing, "before_insert")
@event.listens_for(Listing, "before_update")
def _keep_search_text(_mapper: Mapper[Listing], _connection: object, listing: Listing) -> None:
    listing.refresh_search_text()
