"""``/api/v1/exchanges``: propose an exchange, list a structure's, change one.

Thin: the use cases are ``instance.services.exchanges`` and the state machine
``domain.exchanges``. Every call needs a token of a member of the structure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response

from domain.exchanges import Exchange
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.paging import id_cursor, page_limit
from instance.auth import api_person
from instance.node import current_node
from instance.search import MAX_LIMIT, encode_cursor
from instance.services import exchanges as service


class Value(BaseModel):
    amount: str
    currency: str = Field(default="EUR", description="ISO 4217 code")


class ExchangeCreate(BaseModel):
    listing: int | str = Field(
        description="a local listing id, or the ActivityPub id of a remote one"
    )
    from_: str = Field(alias="from", description="handle of the structure you act for")
    quantity: str | None = None
    value: Value | None = None
    message: str = ""


class ExchangeAction(BaseModel):
    actor: str = Field(description="handle of the structure you act for")


class ImpactOut(BaseModel):
    value_eur: str | None
    co2e_kg: float | None
    distance_km: float | None


class ExchangeOut(BaseModel):
    id: int
    ap_id: str
    listing: str = Field(description="the listing's ActivityPub id")
    listing_id: int | None = Field(description="the listing here, while it exists")
    listing_title: str
    provider: str
    receiver: str
    proposer: str
    responder: str
    state: str
    done_marked_by: str | None
    quantity: str | None
    unit: str
    value: Value | None
    message: str
    created_at: str
    done_at: str | None
    impact: ImpactOut | None


class ExchangePage(BaseModel):
    items: list[ExchangeOut]
    next: str | None


class ExchangesQuery(BaseModel):
    actor: str
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def exchange_json(exchange: Exchange) -> dict[str, Any]:
    marked = exchange.done_marked_by
    return {
        "id": exchange.id,
        "ap_id": exchange.ap_id,
        "listing": exchange.listing_ap_id,
        "listing_id": exchange.listing_id,
        "listing_title": exchange.listing_title,
        "provider": exchange.provider.uri,
        "receiver": exchange.receiver.uri,
        "proposer": exchange.proposer.uri,
        "responder": exchange.responder.uri,
        "state": exchange.state,
        "done_marked_by": exchange.actor_of(marked).uri if marked else None,
        "quantity": _decimal(exchange.quantity),
        "unit": exchange.unit,
        "value": (
            {"amount": _decimal(exchange.value_amount), "currency": exchange.value_currency}
            if exchange.value_amount is not None
            else None
        ),
        "message": exchange.message,
        "created_at": exchange.created_at.isoformat(),
        "done_at": exchange.done_at.isoformat() if exchange.done_at else None,
        "impact": (
            {
                "value_eur": _decimal(exchange.value_eur),
                "co2e_kg": exchange.co2e_kg,
                "distance_km": exchange.distance_km,
            }
            if exchange.state == "done"
            else None
        ),
    }


@blueprint.post("/exchanges")
@document_request(ExchangeCreate)
@document_response(ExchangeOut, 201)
async def propose_exchange() -> tuple[dict[str, Any], int]:
    """A structure proposes an exchange on a listing (here or on another node)."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        exchange = await service.propose(session, node, person, data)
        return exchange_json(exchange), 201


@blueprint.get("/exchanges")
@document_querystring(ExchangesQuery)
@document_response(ExchangePage)
async def list_exchanges() -> dict[str, Any]:
    """A structure's exchanges, both sides, newest first, paged (members only)."""
    node = current_node()
    limit = page_limit(request.args.get("limit"))
    before = id_cursor(request.args.get("cursor"))
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure = await service.acting_for(session, person, request.args.get("actor"), "actor")
        found = await service.exchanges_of(session, structure, limit=limit, before=before)
        more = len(found) > limit
        return {
            "items": [exchange_json(e) for e in found[:limit]],
            "next": encode_cursor({"id": found[limit - 1].id}) if more else None,
        }


@blueprint.post("/exchanges/<int:exchange_id>/<action>")
@document_request(ExchangeAction)
@document_response(ExchangeOut)
async def change_exchange(exchange_id: int, action: str) -> dict[str, Any]:
    """accept · decline · withdraw · done · cancel, by the party whose turn it is."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        exchange = await service.act(session, node, person, exchange_id, data.get("actor"), action)
        return exchange_json(exchange)
