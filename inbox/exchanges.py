"""Exchanges arriving from the other node: a proposal, and each change of its state.

* ``Offer{Agreement}`` (``inbox/handlers/offer.py``): a remote structure proposes
  an exchange on one of our open listings; stored as ``proposed`` (once: the
  Offer and Agreement ids are unique), the listing's structure is told. On a
  listing that is no longer open, or for more than it has left (the proposer's
  copy was behind), it is declined at once (``Reject`` of the Offer).
* ``Accept``/``Reject``/``Undo`` of one of our exchanges' Offer, ``Reject`` of its
  Agreement, ``Create{EconomicEvent}`` realising it: routed here by
  :func:`route` from the handlers of those types before their own work (an
  object that is not one of our exchanges goes on to them unchanged).

Which change an activity asks is fixed by its type and object (one table for
both directions, ``domain.vocabulary.EXCHANGE_ACTIVITIES``: Accept of the
Offer = accept, Reject of the Offer = decline, Undo of the Offer = withdraw,
Reject of the Agreement = cancel, an EconomicEvent = done); whether its actor
may make it is the one transition function of ``domain.exchanges``: the
actor must be the remote party of the exchange (the inbox has checked that
the activity is signed by a key of its server), and it must be its turn. A
third node, a proposer accepting its own Offer, a forged done or cancel: all
refused the same way, the exchange unchanged and the item marked ignored.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select

from domain.exchanges import Action, Exchange, ExchangeError, locked, transition
from domain.impact import distance_between
from domain.models import Listing
from domain.vocabulary import EXCHANGE_ACTION_OF
from federation.models import Actor
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import MalformedObject, agreement_of_event, answer_from_ap, offer_from_ap
from outbox.exchanges import after_change, refuse_offer

log = logging.getLogger(__name__)


async def receive_offer(ctx: Context, act: Incoming) -> str | None:
    """Store a proposal made on one of our listings."""
    try:
        data = offer_from_ap(act.raw, act.actor)
    except MalformedObject as exc:
        log.info("Offer %s from %s refused: %s", act.id, act.actor, exc)
        return "an Offer that is not a valid exchange proposal"
    async with ctx.db.session() as session:
        known = await session.scalar(
            select(Exchange.id).where(
                or_(Exchange.offer_ap_id == data.offer_id, Exchange.ap_id == data.ap_id)
            )
        )
        if known is not None:
            return None  # a replay
    proposer = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        proposer = await session.merge(proposer)
        if proposer.local:
            return "a proposal in the name of a local actor"
        listing = await session.scalar(
            select(Listing).where(Listing.ap_id == data.listing, Listing.local.is_(True))
        )
        if listing is None or listing.hidden or listing.structure is None:
            return "a proposal on no listing of ours"
        if not listing.structure.is_visible:
            return "a proposal on no listing of ours"
        if listing.author_id == proposer.id:
            return "a proposal on the proposer's own listing"
        if listing.status != "open":
            await refuse_offer(session, ctx.settings, listing.author, proposer, data.offer_id)
            return f"a proposal on a listing that is {listing.status}: declined"
        if (
            data.quantity is not None
            and listing.quantity is not None
            and data.quantity > listing.quantity
        ):
            await refuse_offer(session, ctx.settings, listing.author, proposer, data.offer_id)
            return "a proposal for more than remains: declined"
        exchange = Exchange(
            ap_id=data.ap_id,
            offer_ap_id=data.offer_id,
            listing_id=listing.id,
            listing=listing,
            listing_ap_id=listing.ap_id,
            listing_kind=listing.kind,
            listing_title=listing.title,
            category=listing.category,
            modality=listing.modality,
            proposer_id=proposer.id,
            proposer=proposer,
            responder_id=listing.author_id,
            responder=listing.author,
            state="proposed",
            quantity=data.quantity,
            unit=listing.unit,
            value_amount=data.value_amount,
            value_currency=data.value_currency,
            message=data.message,
            distance_km=distance_between((listing.lat, listing.lon), (data.lat, data.lon)),
        )
        session.add(exchange)
        await session.flush()
        await after_change(session, ctx.settings, exchange, None, "proposer")
    return None


async def route(ctx: Context, act: Incoming) -> tuple[bool, str | None]:
    """(whether ``act`` concerns one of our exchanges, the handler's note).

    Called first by the Accept, Reject, Undo and Create handlers.
    """
    target = agreement_of_event(act.object) if act.type == "Create" else act.object_id
    if not target:
        return False, None
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(Exchange.id, Exchange.offer_ap_id).where(
                    or_(Exchange.offer_ap_id == target, Exchange.ap_id == target)
                )
            )
        ).one_or_none()
    if row is None:
        return False, None
    exchange_id, offer_ap_id = row
    action = EXCHANGE_ACTION_OF.get((act.type, "offer" if target == offer_ap_id else "agreement"))
    if action is None:
        return True, f"{act.type} of an exchange's {target}: nothing to do"
    return True, await _change(ctx, act, exchange_id, action)


async def _change(ctx: Context, act: Incoming, exchange_id: int, action: Action) -> str | None:
    async with ctx.transaction() as session:
        exchange = await locked(session, exchange_id)
        if exchange is None:
            return "the exchange is gone"
        if action == "accept":
            answer = answer_from_ap(act.raw)
            if answer.names_result and answer.result != exchange.ap_id:
                return "an Accept naming another agreement"
        actor = await session.scalar(select(Actor).where(Actor.uri == act.actor))
        side = exchange.side_of(actor.id) if actor is not None and not actor.local else None
        try:
            step = transition(exchange.current, exchange.done_marked_by, action, side)
        except ExchangeError as exc:
            log.info("exchange %s: %s by %s refused: %s", exchange.ap_id, action, act.actor, exc)
            return f"{action} refused: {exc.message}"
        assert side is not None
        exchange.apply(step)
        await session.flush()
        await after_change(session, ctx.settings, exchange, action, side)
    return None
