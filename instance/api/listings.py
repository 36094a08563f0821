"""``/api/v1/listings``: publish, read, edit and withdraw offers and needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quart import request
from quart_schema import document_querystring, document_request, document_response
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Person
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.schemas import (
    Error,
    ListingCreate,
    ListingOut,
    ListingPage,
    ListingPatch,
    ListingQuery,
)
from instance.auth import api_person, bearer_token
from instance.errors import ApiError
from instance.node import Node, current_node
from instance.search import parse_query, search_listings
from instance.services import listings


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def listing_json(listing: Listing, distance_km: float | None = None) -> dict[str, Any]:
    """A listing as the API shows it."""
    author = listing.author
    body: dict[str, Any] = {
        "id": listing.id,
        "ap_id": listing.ap_id,
        "url": listing.url or listing.ap_id,
        "kind": listing.kind,
        "title": listing.title,
        "description": listing.description,
        "category": listing.category,
        "modality": listing.modality,
        "quantity": _decimal(listing.quantity),
        "unit": listing.unit,
        "price": (
            {"amount": _decimal(listing.price_amount), "currency": listing.price_currency or "EUR"}
            if listing.price_amount is not None
            else None
        ),
        "available_from": listing.available_from.isoformat() if listing.available_from else None,
        "available_until": listing.available_until.isoformat() if listing.available_until else None,
        "location": (
            {
                "commune": listing.commune or None,
                "lat": listing.lat,
                "lon": listing.lon,
                "placed": listing.placed,
            }
            if listing.commune or listing.lat is not None
            else None
        ),
        "radius_km": listing.radius_km,
        "status": listing.status,
        "origin": listing.origin,
        "local": listing.local,
        "structure": listing.structure.handle if listing.structure else None,
        "author": {
            "id": author.uri,
            "handle": author.handle,
            "name": author.name,
            "domain": author.domain,
        },
        "published": listing.published_at.isoformat(),
        "updated": listing.updated_at.isoformat(),
        "expires_at": listing.expires_at.isoformat() if listing.expires_at else None,
    }
    if distance_km is not None:
        body["distance_km"] = round(distance_km, 3)
    return body


def _withdrawn_of(person: Person) -> tuple[int, ...] | None:
    """The structures whose withdrawn listings ``person`` sees (None: all, for moderators)."""
    return None if person.is_moderator else tuple(m.structure_id for m in person.memberships)


async def withdrawn_readable(node: Node) -> tuple[int, ...] | None:
    """Check the optional token; the structures whose withdrawn listings the reader sees.

    Public reads need no token, but a bad one is refused (401). Checked on a read-only
    connection (``api_person`` notes the token's use, hourly, in a writing session of its
    own). A withdrawn listing is shown only to its structure's people (the ids returned)
    and to moderators (None: all); anonymous readers and everyone else get none (``()``).
    """
    if bearer_token() is None:
        return ()
    async with node.db.read() as session:
        person = await api_person(session, required=False)
        return () if person is None else _withdrawn_of(person)


async def _get_listing(
    session: AsyncSession, listing_id: int, withdrawn_of: tuple[int, ...] | None = None
) -> Listing:
    """The listing, 404 when hidden, of a structure not approved, or withdrawn and the
    reader is not among those who still see it (``withdrawn_of``: None is everyone)."""
    listing = await listings.listing_by_id(session, listing_id)
    if listing is None or listing.hidden:
        raise ApiError(404, "no such listing")
    if listing.structure is not None and not listing.structure.is_visible:
        raise ApiError(404, "no such listing")
    if (
        listing.status == "withdrawn"
        and withdrawn_of is not None
        and listing.structure_id not in withdrawn_of
    ):
        raise ApiError(404, "no such listing")
    return listing


@blueprint.post("/listings")
@document_request(ListingCreate)
@document_response(ListingOut, 201)
@document_response(Error, 422)
async def create_listing() -> tuple[dict[str, Any], int]:
    """Publish an offer or a need for a structure you act for."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        listing = await listings.create_listing(session, node, person, data)
        body = listing_json(listing)
    return body, 201


@blueprint.get("/listings")
@document_querystring(ListingQuery)
@document_response(ListingPage)
@document_response(Error, 422)
async def list_listings() -> dict[str, Any]:
    """Local and federated listings, filtered and paged.

    422 ``invalid`` names a bad parameter; 422 ``query_too_expensive`` is a search stopped at
    the node's time limit (``listings.search_time_limit``): narrow it.
    """
    node = current_node()
    query = parse_query(request.args)
    query.withdrawn_of = await withdrawn_readable(node)
    limit = node.settings.listings.search_time_limit
    async with node.db.read() as session:
        page = await search_listings(session, node.db.dialect, query, time_limit=limit)
        return {
            "items": [listing_json(item.listing, item.distance_km) for item in page.items],
            "next": page.next_cursor,
        }


@blueprint.get("/listings/<int:listing_id>")
@document_response(ListingOut)
async def get_listing(listing_id: int) -> dict[str, Any]:
    """One listing (a withdrawn one: for its structure's people and moderators only)."""
    node = current_node()
    withdrawn_of = await withdrawn_readable(node)
    async with node.db.read() as session:
        return listing_json(await _get_listing(session, listing_id, withdrawn_of))


@blueprint.patch("/listings/<int:listing_id>")
@document_request(ListingPatch)
@document_response(ListingOut)
async def patch_listing(listing_id: int) -> dict[str, Any]:
    """Edit a listing (its structure's members or a moderator); federates an Update."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        listing = await _get_listing(session, listing_id, _withdrawn_of(person))
        await listings.update_listing(session, node, person, listing, data)
        return listing_json(listing)


@blueprint.delete("/listings/<int:listing_id>")
@document_response(ListingOut)
async def delete_listing(listing_id: int) -> dict[str, Any]:
    """Withdraw a listing; federates a Delete."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        listing = await _get_listing(session, listing_id, _withdrawn_of(person))
        await listings.withdraw_listing(session, node, person, listing)
        return listing_json(listing)
