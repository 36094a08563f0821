"""The activities of an exchange (FEP-0837), sent only to the other party.

Each is addressed only to the other party (``to``: its actor; not public, not
to followers). The reverse is ``inbox/from_ap/exchanges.py``.

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
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from config.database import utcnow
from config.settings import Settings
from domain.exchanges import Action, Exchange
from domain.vocabulary import EXCHANGE_ACTIVITIES
from federation.models import Actor
from federation.vocab import AS_CONTEXT
from outbox.to_ap.activities import iso, new_activity, number, paragraphs
from outbox.to_ap.listings import OM2, VF


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


def _quantity(exchange: Exchange) -> dict[str, str]:
    quantity: dict[str, str] = {"hasUnit": "one"}
    if exchange.quantity is not None:
        quantity["hasNumericalValue"] = number(exchange.quantity)
    return quantity


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
        "content": paragraphs(exchange.message),
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


def answer_body(
    settings: Settings, exchange: Exchange, action: Action, actor: Actor
) -> dict[str, Any]:
    """The activity that tells the other party of ``action`` (not for a proposal)."""
    other = exchange.responder if actor.id == exchange.proposer_id else exchange.proposer
    to = [other.uri]
    context = exchange_context(settings)
    kind, about = EXCHANGE_ACTIVITIES[action]
    if action != "done":
        target = exchange.offer_ap_id if about == "offer" else exchange.ap_id
        extra = {"result": exchange.ap_id} if action == "accept" else {}
        return new_activity(settings, kind, actor, target, to=to, context=context, **extra)
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
    return new_activity(settings, kind, actor, event, to=to, context=context)


def offer_activity(
    settings: Settings, exchange: Exchange, position: tuple[float | None, float | None]
) -> dict[str, Any]:
    """The proposer's ``Offer`` of the Agreement, under the id the exchange keeps."""
    body = new_activity(
        settings,
        "Offer",
        exchange.proposer,
        agreement_object(exchange, position),
        to=[exchange.responder.uri],
        context=exchange_context(settings),
    )
    body["id"] = exchange.offer_ap_id
    return body


def speaks_entraide(actor: Actor) -> bool:
    """Whether ``actor`` is served by an Entraide node, which reads the ``Offer`` itself:
    its document (as fetched) declares our ``entraide`` namespace (every Entraide actor's
    ``@context`` does: ``outbox/to_ap/actors.py``) or carries one of its terms."""
    document = actor.document or {}
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    for entry in contexts:
        if isinstance(entry, dict):
            term = entry.get("entraide")
            if isinstance(term, str) and term.endswith("/ns#"):
                return True
    return any(isinstance(key, str) and key.startswith("entraide:") for key in document)


def _described(exchange: Exchange) -> list[str]:
    """The proposal's terms, as lines of the readable message (in the node's language)."""
    lines = []
    if exchange.quantity is not None:
        lines.append(f"Quantité : {number(exchange.quantity)} {exchange.unit}".rstrip())
    if exchange.value_amount is not None:
        lines.append(f"Valeur : {number(exchange.value_amount)} {exchange.value_currency}")
    return lines


def proposal_note(settings: Settings, exchange: Exchange) -> dict[str, Any]:
    """A direct ``Create(Note)`` telling the proposal in words, for a recipient whose
    software drops the ``Offer`` (Mastodon handles no ``Offer``: its
    ``ActivityPub::Activity`` factory knows Create, Announce, Delete, Follow, Like,
    Block, Update, Undo, Accept, Reject, Flag, Move, Add, Remove…). Addressed and
    mentioned like a direct message; replying to it writes to the proposer."""
    responder = exchange.responder
    href = html.escape(responder.url or responder.uri, quote=True)
    mention = (
        f'<span class="h-card"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(responder.handle)}</span></a></span>"
    )
    listing = html.escape(exchange.listing_ap_id, quote=True)
    title = html.escape(exchange.listing_title)
    parts = [
        f"{mention} {html.escape(exchange.proposer.name or exchange.proposer.handle)} vous "
        f'propose un échange sur votre annonce « <a href="{listing}">{title}</a> ».',
        *(html.escape(line) for line in _described(exchange)),
    ]
    content = "".join(f"<p>{p}</p>" for p in parts) + paragraphs(exchange.message)
    content += "<p>Répondez à ce message pour lui écrire.</p>"
    name = f"@{responder.handle}@{responder.domain}"
    note: dict[str, Any] = {
        "id": f"{exchange.ap_id}#note",
        "type": "Note",
        "attributedTo": exchange.proposer.uri,
        "to": [responder.uri],
        "cc": [],
        "content": content,
        "published": iso(exchange.created_at),
        "tag": [{"type": "Mention", "href": responder.uri, "name": name}],
        "context": exchange.ap_id,
    }
    return new_activity(settings, "Create", exchange.proposer, note, to=[responder.uri], cc=[])


def refusal(settings: Settings, author: Actor, proposer: Actor, offer_id: str) -> dict[str, Any]:
    """``Reject`` of an Offer received on a listing that takes no proposal any more."""
    return new_activity(
        settings, "Reject", author, offer_id, to=[proposer.uri], context=exchange_context(settings)
    )
