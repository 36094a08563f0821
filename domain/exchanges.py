"""Exchanges between structures: one typed state machine and the table that keeps it.

A structure proposes an exchange on a listing (FEP-0837: an ``Offer`` of an
``Agreement``); the listing's structure (the *responder*) accepts or declines;
the *proposer* may withdraw while it is proposed. Once accepted, either side
marks it done — the first ``done`` is recorded in ``done_marked_by`` and the
exchange stays ``accepted`` until the other side's ``done`` makes it
``done`` — or either side cancels it::

    proposed ──accept (responder)──▶ accepted ──done (either, then the other)──▶ done
       │    ──decline (responder)──▶ declined      └──cancel (either)──▶ cancelled
       └────withdraw (proposer)───▶ withdrawn

Every change goes through :func:`transition`, whoever asks (a person through
the API or a page, a remote node through the inbox). A refused change raises
an :class:`ExchangeError`: :class:`NotYourTurn` (403: not a party, or the
other party's move) or :class:`NotAllowedNow` (409: not from this state).

Who provides and who receives is derived from the listing's kind: on an offer
the listing's structure provides; on a need the proposer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Float, ForeignKey, Index, Numeric, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.database import Base, UTCDateTime, utcnow
from config.states import StateType
from domain.models import Listing
from federation.models import URI, Actor

State = Literal["proposed", "accepted", "declined", "withdrawn", "done", "cancelled"]
STATES: tuple[State, ...] = ("proposed", "accepted", "declined", "withdrawn", "done", "cancelled")
Action = Literal["accept", "decline", "withdraw", "done", "cancel"]
ACTIONS: tuple[Action, ...] = ("accept", "decline", "withdraw", "done", "cancel")
Side = Literal["proposer", "responder"]
Who = Literal["proposer", "responder", "either"]

# (state, action) -> (who may, next state). A pair that is not here is refused (409).
TRANSITIONS: dict[tuple[State, Action], tuple[Who, State]] = {
    ("proposed", "accept"): ("responder", "accepted"),
    ("proposed", "decline"): ("responder", "declined"),
    ("proposed", "withdraw"): ("proposer", "withdrawn"),
    ("accepted", "done"): ("either", "done"),
    ("accepted", "cancel"): ("either", "cancelled"),
}


class ExchangeError(Exception):
    """A refused change of an exchange; ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotYourTurn(ExchangeError):
    """Not a party to the exchange, or the other party's move."""

    status = 403


class NotAllowedNow(ExchangeError):
    """The exchange's state does not allow this change."""

    status = 409


@dataclass(frozen=True)
class Step:
    """The result of an allowed change."""

    state: State
    done_marked_by: Side | None
    completed: bool  # the exchange became ``done`` with this step


def transition(
    state: State, done_marked_by: Side | None, action: Action, side: Side | None
) -> Step:
    """The exchange after ``side`` does ``action``, or a typed refusal.

    ``side`` is None for someone who is not a party: refused whatever the state.
    """
    if side is None:
        raise NotYourTurn("only the two structures of an exchange may change it")
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise NotAllowedNow(f"an exchange that is {state} cannot be {PAST[action]}")
    who, following = rule
    if who != "either" and who != side:
        raise NotYourTurn(f"only the {who} may do this ({action})")
    if action == "done":
        if done_marked_by is None:
            return Step("accepted", side, completed=False)
        if done_marked_by == side:
            raise NotAllowedNow("already marked done by this side: the other must confirm")
        return Step("done", done_marked_by, completed=True)
    return Step(following, done_marked_by, completed=False)


PAST: dict[Action, str] = {
    "accept": "accepted",
    "decline": "declined",
    "withdraw": "withdrawn",
    "done": "marked done",
    "cancel": "cancelled",
}


async def locked(session: AsyncSession, exchange_id: int) -> Exchange | None:
    """The exchange, its row locked for this transaction (PostgreSQL; SQLite has one
    writer), so two changes of one exchange are made one after the other."""
    await session.execute(select(Exchange.id).where(Exchange.id == exchange_id).with_for_update())
    return await session.get(Exchange, exchange_id)


class Exchange(Base):
    """An exchange proposed on a listing, as both nodes keep it.

    ``ap_id`` is the ``Agreement`` (made on the proposer's node), ``offer_ap_id``
    the ``Offer`` activity that carried it. The listing may go (SET NULL): its
    id, title, kind and category stay on the exchange.
    """

    __tablename__ = "exchanges"
    __table_args__ = (
        Index("ix_exchanges_proposer_id", "proposer_id"),
        Index("ix_exchanges_responder_id", "responder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(URI, unique=True)
    offer_ap_id: Mapped[str] = mapped_column(URI, unique=True)
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="SET NULL"), default=None, index=True
    )
    listing_ap_id: Mapped[str] = mapped_column(URI)
    listing_kind: Mapped[str] = mapped_column(String(8))
    listing_title: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(32), default="")
    modality: Mapped[str] = mapped_column(String(16), default="")
    proposer_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    responder_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    state: Mapped[State] = mapped_column(StateType(STATES), default="proposed")
    done_marked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="SET NULL"), default=None
    )
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3), default=None)
    unit: Mapped[str] = mapped_column(String(32), default="")
    value_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    value_currency: Mapped[str] = mapped_column(String(3), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Impact, recorded when done (domain.impact); distance_km is known from the
    # proposal on (the listing's position and the proposer's).
    value_eur: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    co2e_kg: Mapped[float | None] = mapped_column(Float, default=None)
    distance_km: Mapped[float | None] = mapped_column(Float, default=None)

    listing: Mapped[Listing | None] = relationship(lazy="joined")
    proposer: Mapped[Actor] = relationship(foreign_keys=[proposer_id], lazy="joined")
    responder: Mapped[Actor] = relationship(foreign_keys=[responder_id], lazy="joined")

    @property
    def provider(self) -> Actor:
        """Who gives: the listing's structure for an offer, the proposer for a need."""
        return self.responder if self.listing_kind == "offer" else self.proposer

    @property
    def receiver(self) -> Actor:
        return self.proposer if self.listing_kind == "offer" else self.responder

    def side_of(self, actor_id: int | None) -> Side | None:
        """Which party ``actor_id`` is, or None for anyone else."""
        if actor_id is None:
            return None
        if actor_id == self.proposer_id:
            return "proposer"
        if actor_id == self.responder_id:
            return "responder"
        return None

    @property
    def done_marked_by(self) -> Side | None:
        return self.side_of(self.done_marked_by_id)

    def actor_of(self, side: Side) -> Actor:
        return self.proposer if side == "proposer" else self.responder

    def apply(self, step: Step) -> None:
        """Record an allowed step (from :func:`transition`)."""
        self.state = step.state
        marked = step.done_marked_by
        self.done_marked_by_id = None if marked is None else self.actor_of(marked).id
        now = utcnow()
        self.updated_at = now
        if step.completed:
            self.done_at = now

    def may(self, action: Action, side: Side | None) -> bool:
        """Whether ``side`` may do ``action`` now (the buttons a page shows)."""
        try:
            transition(self.current, self.done_marked_by, action, side)
        except ExchangeError:
            return False
        return True

    @property
    def current(self) -> State:
        state = self.state
        assert state in STATES, state
        return state
