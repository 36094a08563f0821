"""A listing search as asked: the query string read into a :class:`SearchQuery`, paging.

:func:`parse_query` turns the query string of ``GET /api/v1/listings`` (and of
the search page and the feeds) into a typed :class:`SearchQuery`, with a 422
naming the bad parameter. Pages are cut by cursor: :func:`encode_cursor` makes an
opaque token of the last item's sort key, :func:`decode_cursor` reads it back
(``None`` for anything that is not one). ``instance.search`` runs the query.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.categories import CATEGORY_IDS
from domain.models import LISTING_KINDS, LISTING_STATUSES, MODALITIES, Listing
from domain.places import MAX_QUERY as MAX_PLACE_QUERY
from domain.validation import Collector

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass
class SearchQuery:
    q: str | None = None
    kind: str | None = None
    category: str | None = None
    modality: str | None = None
    status: str | None = "open"
    near: tuple[float, float] | None = None
    near_commune: str | None = None  # near=COMMUNE, placed by search_listings
    radius_km: float | None = None
    origin: str | None = None
    structure: str | None = None
    available_on: date | None = None
    sort: str = "recent"
    limit: int = DEFAULT_LIMIT
    cursor: dict[str, Any] | None = None
    own_domain: str = ""
    timeline_of: int | None = None  # an actor id: only what it follows
    # Withdrawn listings are shown only to their structure's people and to moderators:
    # the ids of the structures whose withdrawn listings this search may return (by
    # default none), or None for all of them. Set by the API from who asks.
    withdrawn_of: tuple[int, ...] | None = ()
    ids: list[int] | None = None  # only these listings (does one listing fit a saved search?)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    listing: Listing
    distance_km: float | None = None


@dataclass
class Page:
    items: list[Hit]
    next_cursor: str | None


def encode_cursor(values: Mapping[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def parse_query(args: Mapping[str, str]) -> SearchQuery:
    """Read the listing filters from a query string; raise ``Invalid`` on a bad one."""
    c = Collector()
    query = SearchQuery()
    q = c.text(args, "q", max_length=500)
    query.q = q or None
    query.kind = c.choice(args, "kind", LISTING_KINDS, required=False)
    query.category = c.choice(args, "category", CATEGORY_IDS, required=False)
    query.modality = c.choice(args, "modality", MODALITIES, required=False)
    status = args.get("status")
    if status == "any":
        query.status = None
    elif status:
        query.status = c.choice(args, "status", LISTING_STATUSES, required=False)
    near = args.get("near")
    if near:
        try:
            lat_s, lon_s = near.split(",", 1)
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            if any(ch.isalpha() for ch in near) or near.strip().isdigit():
                query.near_commune = c.text(args, "near", max_length=MAX_PLACE_QUERY)
            else:
                c.add("near", "must be LAT,LON or a commune")
        else:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                c.add("near", "must be LAT,LON")
            else:
                query.near = (lat, lon)
    query.radius_km = c.number(args, "radius_km", minimum=0, maximum=20_000)
    origin = c.text(args, "origin", max_length=255)
    query.origin = origin.lower() if origin else None
    query.structure = c.text(args, "structure", max_length=2048)
    query.available_on = c.date(args, "available_on")
    sort = c.choice(args, "sort", ("recent", "distance", "relevance"), required=False)
    if (
        sort == "distance"
        and query.near is None
        and not query.near_commune
        and "near" not in c.errors
    ):
        c.add("sort", "sort=distance needs near=LAT,LON")
    query.sort = sort or ("relevance" if query.q else "recent")
    limit = c.number(args, "limit", minimum=1, maximum=MAX_LIMIT)
    if limit is not None:
        if limit != int(limit):
            c.add("limit", "must be an integer")
        query.limit = int(limit)
    cursor = args.get("cursor")
    if cursor:
        query.cursor = decode_cursor(cursor)
        if query.cursor is None:
            c.add("cursor", "is not a cursor from a previous page")
    c.raise_if_any()
    return query
