"""Federating an exchange's life (FEP-0837), and what a change does on this node.

The shapes sent (an ``Offer{Agreement}`` to propose, then ``Accept``, ``Reject``,
``Undo`` and ``Create{EconomicEvent}``) are built by ``outbox/to_ap/exchanges.py``;
each is addressed only to the other party.

:func:`after_change` is what any change does here, whoever made it (a person,
or the other node through the inbox): notifications of kind ``exchange`` to
the local structures that did not act, and when the exchange becomes done its
impact (``domain.impact``) and the listing's remaining quantity (a local
listing fulfilled when nothing remains, federated as an ``Update``).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain import listing_states
from domain.exchanges import Action, Exchange, Side
from domain.impact import impact_of
from domain.matches import queue_matching
from domain.models import Listing, Structure
from domain.notify import notify_structure
from federation.models import Actor
from outbox import listings as listing_activities
from outbox.publish import emit
from outbox.to_ap.exchanges import (
    answer_body,
    offer_activity,
    proposal_note,
    refusal,
    speaks_entraide,
)


def _other(exchange: Exchange, side: Side) -> Actor:
    return exchange.responder if side == "proposer" else exchange.proposer


async def send_offer(
    session: AsyncSession,
    settings: Settings,
    exchange: Exchange,
    position: tuple[float | None, float | None],
) -> None:
    """Deliver the proposal to the listing's structure when it lives on another node.

    A recipient that is not on an Entraide node (Mastodon and the like drop the
    ``Offer``) also gets the proposal in words, as a direct ``Note``; Entraide nodes
    do not, so their structures are not told twice."""
    if exchange.responder.local:
        return
    body = offer_activity(settings, exchange, position)
    await emit(
        session,
        settings,
        exchange.proposer,
        body,
        to_followers=False,
        recipients=[exchange.responder],
        public=False,
    )
    if not speaks_entraide(exchange.responder):
        note = proposal_note(settings, exchange)
        await emit(
            session,
            settings,
            exchange.proposer,
            note,
            to_followers=False,
            recipients=[exchange.responder],
            public=False,
        )


async def send_answer(
    session: AsyncSession, settings: Settings, exchange: Exchange, action: Action, side: Side
) -> None:
    """Deliver a local party's change to the other party when it is remote."""
    actor = exchange.actor_of(side)
    other = _other(exchange, side)
    if other.local:
        return
    body = answer_body(settings, exchange, action, actor)
    await emit(session, settings, actor, body, to_followers=False, recipients=[other], public=False)


async def refuse_offer(
    session: AsyncSession, settings: Settings, author: Actor, proposer: Actor, offer_id: str
) -> None:
    """Decline at once a proposal received on a listing that takes none any more (no
    longer open, or less left than asked), so the proposer's node does not wait for ever."""
    body = refusal(settings, author, proposer, offer_id)
    await emit(
        session, settings, author, body, to_followers=False, recipients=[proposer], public=False
    )


async def _structure_of(session: AsyncSession, actor: Actor) -> int | None:
    if not actor.local:
        return None
    return await session.scalar(select(Structure.id).where(Structure.actor_id == actor.id))


async def after_change(
    session: AsyncSession, settings: Settings, exchange: Exchange, action: Action | None, side: Side
) -> None:
    """What a change does on this node (``action`` None: a new proposal)."""
    if exchange.state == "done" and exchange.done_at is not None and action == "done":
        await _settle(session, settings, exchange)
    other = _other(exchange, side)
    structure_id = await _structure_of(session, other)
    if structure_id is not None:
        actor = exchange.actor_of(side)
        await notify_structure(
            session,
            structure_id,
            "exchange",
            {
                "exchange": exchange.id,
                "action": action or "propose",
                "state": exchange.state,
                "from": actor.name or actor.handle,
                "domain": actor.domain,
                "listing_title": exchange.listing_title,
            },
            url="/exchanges",
        )


async def _settle(session: AsyncSession, settings: Settings, exchange: Exchange) -> None:
    """The exchange is done: its impact, and the listing's remaining quantity."""
    impact = impact_of(
        category=exchange.category,
        modality=exchange.modality,
        value_amount=exchange.value_amount,
        value_currency=exchange.value_currency,
        distance_km=exchange.distance_km,
    )
    exchange.value_eur, exchange.co2e_kg = impact.value_eur, impact.co2e_kg
    exchange.distance_km = impact.distance_km
    listing = exchange.listing
    if listing is None or not listing.local:
        return  # a remote listing is updated by its own node, which federates it
    if not consume(listing, exchange.quantity):
        return
    listing.updated_at = utcnow()
    await session.flush()
    await listing_activities.updated(session, settings, listing)
    await queue_matching(session, listing.id)


def consume(listing: Listing, quantity: Decimal | None) -> bool:
    """Take ``quantity`` from what remains of ``listing``; fulfilled when nothing remains.

    Only when both quantities are known; returns whether the listing changed.
    """
    if quantity is None or listing.quantity is None or listing.status != "open":
        return False
    listing.quantity = max(listing.quantity - quantity, Decimal(0))
    if listing.quantity == 0:
        listing_states.transition(listing, "fulfilled")
    return True
