"""Federating an exchange's life (FEP-0837), and what a change does on this node.

Shapes sent (the reverse is ``inbox/exchange_from_ap.py``), each addressed
only to the other party (``to``: its actor; not public, not to followers):

* propose → ``Offer{actor: proposer, object: Agreement}``; the Agreement::

      {"type": "Agreement", "id": "https://b.example/agreements/…",
       "attributedTo": PROPOSER,
       "stipulates": {"type": "Commitment", "id": "…#commitment",
                      "satisfies": "https://a.example/listings/42#primary",
                      "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "20"}},
       "entraide:listing": "https://a.example/listings/42",
       "entraide:value": {"amount": "50", "currency": "EUR"},
       "entraide:unit": "kg",
       "location": {"type": "Place", "latitude": 43.3, "longitude": -0.4},
       "content": "<p>the message</p>", "published": "…"}

  (``location`` is the proposer structure's position, so that both nodes
  compute the same distance);
* accept → ``Accept{object: Offer id, result: Agreement id}`` (FEP-0837);
  decline → ``Reject{object: Offer id}``; withdraw → ``Undo{object: Offer id}``;
* done → ``Create{object: EconomicEvent}`` (ValueFlows: the event that
  ``fulfills`` the Agreement's commitment, ``action: transfer``) by the side
  that marks it; cancel → ``Reject{object: Agreement id}``.

:func:`after_change` is what any change does here, whoever made it (a person,
or the other node through the inbox): notifications of kind ``exchange`` to
the local structures that did not act, and when the exchange becomes done its
impact (``domain.impact``) and the listing's remaining quantity (a local
listing fulfilled when nothing remains, federated as an ``Update``).
"""

from __future__ import annotations

import html
import uuid
from decimal import Decimal
from typing import Any

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
from outbox.publish import emit, new_activity
from outbox.to_ap import AS_CONTEXT, OM2, VF, iso


def exchange_context(settings: Settings) -> list[Any]:
    """The JSON-LD context of exchange activities (FEP-0837 terms and ours)."""
    return [
        AS_CONTEXT,
        {
            "om2": OM2,
            "vf": VF,
            "Agreement": "vf:Agreement",
            "Commitment": "vf:Commitment",
            "EconomicEvent": "vf:EconomicEvent",
            "stipulates": "vf:stipulates",
            "satisfies": {"@id": "vf:satisfies", "@type": "@id"},
            "fulfills": {"@id": "vf:fulfills", "@type": "@id"},
            "realizationOf": {"@id": "vf:realizationOf", "@type": "@id"},
            "action": "vf:action",
            "resourceQuantity": "vf:resourceQuantity",
            "hasUnit": "om2:hasUnit",
            "hasNumericalValue": "om2:hasNumericalValue",
            "entraide": f"{settings.base_url}/ns#",
        },
    ]


def number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _quantity(exchange: Exchange) -> dict[str, str]:
    quantity: dict[str, str] = {"hasUnit": "one"}
    if exchange.quantity is not None:
        quantity["hasNumericalValue"] = number(exchange.quantity)
    return quantity


def message_html(text: str) -> str:
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def agreement_object(
    exchange: Exchange, position: tuple[float | None, float | None]
) -> dict[str, Any]:
    """The ``Agreement`` the proposer offers (see the module docstring)."""
    obj: dict[str, Any] = {
        "id": exchange.ap_id,
        "type": "Agreement",
        "attributedTo": exchange.proposer.uri,
        "to": [exchange.responder.uri],
        "stipulates": {
            "type": "Commitment",
            "id": f"{exchange.ap_id}#commitment",
            "satisfies": f"{exchange.listing_ap_id}#primary",
            "resourceQuantity": _quantity(exchange),
        },
        "entraide:listing": exchange.listing_ap_id,
        "content": message_html(exchange.message),
        "published": iso(exchange.created_at),
    }
    if exchange.unit:
        obj["entraide:unit"] = exchange.unit
    if exchange.value_amount is not None:
        obj["entraide:value"] = {
            "amount": number(exchange.value_amount),
            "currency": exchange.value_currency,
        }
    lat, lon = position
    if lat is not None and lon is not None:
        obj["location"] = {"type": "Place", "latitude": lat, "longitude": lon}
    return obj


def _other(exchange: Exchange, side: Side) -> Actor:
    return exchange.responder if side == "proposer" else exchange.proposer


async def send_offer(
    session: AsyncSession,
    settings: Settings,
    exchange: Exchange,
    position: tuple[float | None, float | None],
) -> None:
    """Deliver the proposal to the listing's structure when it lives on another node."""
    if exchange.responder.local:
        return
    body = new_activity(
        settings,
        "Offer",
        exchange.proposer,
        agreement_object(exchange, position),
        to=[exchange.responder.uri],
        context=exchange_context(settings),
    )
    body["id"] = exchange.offer_ap_id
    await emit(
        session,
        settings,
        exchange.proposer,
        body,
        to_followers=False,
        recipients=[exchange.responder],
        public=False,
    )


def answer_body(
    settings: Settings, exchange: Exchange, action: Action, actor: Actor
) -> dict[str, Any]:
    """The activity that tells the other party of ``action`` (not for a proposal)."""
    other = exchange.responder if actor.id == exchange.proposer_id else exchange.proposer
    to = [other.uri]
    context = exchange_context(settings)
    if action == "accept":
        return new_activity(
            settings, "Accept", actor, exchange.offer_ap_id, to=to, context=context,
            result=exchange.ap_id,
        )  # fmt: skip
    if action == "decline":
        return new_activity(settings, "Reject", actor, exchange.offer_ap_id, to=to, context=context)
    if action == "withdraw":
        return new_activity(settings, "Undo", actor, exchange.offer_ap_id, to=to, context=context)
    if action == "cancel":
        return new_activity(settings, "Reject", actor, exchange.ap_id, to=to, context=context)
    event = {
        "id": f"{settings.base_url}/economic-events/{uuid.uuid4()}",
        "type": "EconomicEvent",
        "attributedTo": actor.uri,
        "to": to,
        "action": "transfer",
        "fulfills": f"{exchange.ap_id}#commitment",
        "realizationOf": exchange.ap_id,
        "resourceQuantity": _quantity(exchange),
        "published": iso(utcnow()),
    }
    return new_activity(settings, "Create", actor, event, to=to, context=context)


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
    body = new_activity(
        settings, "Reject", author, offer_id, to=[proposer.uri], context=exchange_context(settings)
    )
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
