"""Open data: ``/data/listings.csv|geojson``, ``/data/structures.csv|geojson``, the catalogue.

Public content only, the same that anonymous pages show: open listings of this
territory and of its peers that are visible here (not hidden, of an approved
structure or a remote author), and approved structures of this territory. Never
a person, an e-mail address (a structure's public contact is not exported
either), a message, a pending, rejected or suspended structure, or a hidden
listing. ``since=ISO-DATETIME`` keeps what was published (listings) or approved
(structures) since then.

Each dataset is **streamed**: rows are read from the database in batches of
:data:`BATCH` by id and written as they come, so memory stays flat whatever
the size. CSV is UTF-8 with a header row; GeoJSON is an RFC 7946
``FeatureCollection`` (coordinates ``[lon, lat]``, ``null`` geometry for a
listing without a position). ``/data/catalog.jsonld`` is a DCAT-AP catalogue of
the four datasets with their licence (setting ``opendata.licence``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, Response, request
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from domain.models import Listing, Structure
from instance.errors import ApiError
from instance.node import Node, current_node

blueprint = Blueprint("opendata", __name__)
BATCH = 500

LISTING_COLUMNS = [
    "id", "url", "kind", "title", "description", "category", "modality", "quantity", "unit",
    "price_amount", "price_currency", "available_from", "available_until", "commune", "lat",
    "lon", "radius_km", "status", "origin", "structure", "author", "published", "updated",
]  # fmt: skip
STRUCTURE_COLUMNS = [
    "handle", "id", "name", "kind", "description", "commune", "lat", "lon", "website",
    "approved",
]  # fmt: skip


def _since() -> datetime | None:
    raw = request.args.get("since")
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, "some fields are invalid", fields={"since": "must be an ISO date-time"}
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _public_listings(since: datetime | None) -> Select[Any]:
    approved = select(Structure.id).where(Structure.is_visible)
    stmt = select(Listing).where(
        Listing.status == "open",
        Listing.hidden.is_(False),
        (Listing.structure_id.is_(None) & Listing.local.is_(False))
        | Listing.structure_id.in_(approved),
    )
    if since is not None:
        stmt = stmt.where(Listing.published_at >= since)
    return stmt.options(joinedload(Listing.author), joinedload(Listing.structure))


def _public_structures(since: datetime | None) -> Select[Any]:
    stmt = select(Structure).where(Structure.is_visible, Structure.actor_id.is_not(None))
    if since is not None:
        stmt = stmt.where(Structure.decided_at >= since)
    return stmt


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def listing_row(listing: Listing) -> dict[str, Any]:
    return {
        "id": listing.ap_id,
        "url": listing.url or listing.ap_id,
        "kind": listing.kind,
        "title": listing.title,
        "description": listing.description,
        "category": listing.category,
        "modality": listing.modality,
        "quantity": _text(listing.quantity) or None,
        "unit": listing.unit,
        "price_amount": _text(listing.price_amount) or None,
        "price_currency": listing.price_currency or None,
        "available_from": _text(listing.available_from) or None,
        "available_until": _text(listing.available_until) or None,
        "commune": listing.commune,
        "lat": listing.lat,
        "lon": listing.lon,
        "radius_km": listing.radius_km,
        "status": listing.status,
        "origin": listing.origin,
        "structure": listing.structure.handle if listing.structure else None,
        "author": listing.author.uri,
        "published": listing.published_at.isoformat(),
        "updated": listing.updated_at.isoformat() if listing.updated_at else None,
    }


def structure_row(structure: Structure) -> dict[str, Any]:
    assert structure.actor is not None
    return {
        "handle": structure.handle,
        "id": structure.actor.uri,
        "name": structure.name,
        "kind": structure.kind,
        "description": structure.description,
        "commune": structure.commune,
        "lat": structure.lat,
        "lon": structure.lon,
        "website": structure.website,
        "approved": structure.decided_at.isoformat() if structure.decided_at else None,
    }


async def _rows(
    node: Node, stmt: Select[Any], id_column: Any, convert: Callable[[Any], dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    """Rows by id in batches, each batch in a short read of its own."""
    last = 0
    while True:
        async with node.db.read() as session:
            batch = list(
                (
                    await session.execute(
                        stmt.where(id_column > last).order_by(id_column).limit(BATCH)
                    )
                )
                .scalars()
                .unique()
            )
            rows = [convert(item) for item in batch]
        for row in rows:
            yield row
        if len(batch) < BATCH:
            return
        last = batch[-1].id


async def _csv(rows: AsyncIterator[dict[str, Any]], columns: list[str]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    async for row in rows:
        writer.writerow({k: _text(v) for k, v in row.items()})
        count += 1
        if count % 200 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


async def _geojson(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    async for row in rows:
        lat, lon = row.get("lat"), row.get("lon")
        geometry = (
            {"type": "Point", "coordinates": [lon, lat]}
            if lat is not None and lon is not None
            else None
        )
        properties = {k: v for k, v in row.items() if k not in ("lat", "lon")}
        feature = {
            "type": "Feature",
            "id": row["id"],
            "geometry": geometry,
            "properties": properties,
        }
        text = json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
        yield (text if first else "," + text).encode("utf-8")
        first = False
    yield b"]}"


def _streamed(body: AsyncIterator[bytes], content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Access-Control-Allow-Origin"] = "*"  # open data: readable from anywhere
    response.timeout = None  # a large export may take longer than the default response timeout
    return response


@blueprint.get("/data/listings.<any(csv, geojson):fmt>")
async def listings_dataset(fmt: str) -> Response:
    node = current_node()
    rows = _rows(node, _public_listings(_since()), Listing.id, listing_row)
    if fmt == "csv":
        return _streamed(_csv(rows, LISTING_COLUMNS), "text/csv; charset=utf-8", "listings.csv")
    return _streamed(_geojson(rows), "application/geo+json", "listings.geojson")


@blueprint.get("/data/structures.<any(csv, geojson):fmt>")
async def structures_dataset(fmt: str) -> Response:
    node = current_node()
    rows = _rows(node, _public_structures(_since()), Structure.id, structure_row)
    if fmt == "csv":
        return _streamed(_csv(rows, STRUCTURE_COLUMNS), "text/csv; charset=utf-8", "structures.csv")
    return _streamed(_geojson(rows), "application/geo+json", "structures.geojson")


@blueprint.get("/data/catalog.jsonld")
async def catalogue() -> Response:
    """A DCAT-AP catalogue of the four datasets, with their licence."""
    node = current_node()
    settings = node.settings
    base = settings.base_url
    licence = {"@id": settings.opendata.licence_url, "dct:title": settings.opendata.licence}

    def dataset(name: str, title_fr: str, title_en: str) -> dict[str, Any]:
        distributions = [
            {
                "@type": "dcat:Distribution",
                "dcat:accessURL": {"@id": f"{base}/data/{name}.{fmt}"},
                "dcat:downloadURL": {"@id": f"{base}/data/{name}.{fmt}"},
                "dcat:mediaType": media,
                "dct:format": fmt.upper(),
                "dct:license": licence,
            }
            for fmt, media in (("csv", "text/csv"), ("geojson", "application/geo+json"))
        ]
        return {
            "@type": "dcat:Dataset",
            "@id": f"{base}/data/{name}",
            "dct:title": [
                {"@language": "fr", "@value": title_fr},
                {"@language": "en", "@value": title_en},
            ],
            "dct:publisher": {"@type": "foaf:Agent", "foaf:name": settings.instance.name},
            "dct:license": licence,
            "dcat:distribution": distributions,
        }

    document = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
        },
        "@type": "dcat:Catalog",
        "@id": f"{base}/data/catalog.jsonld",
        "dct:title": f"{settings.instance.name} — données ouvertes / open data",
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": settings.instance.name},
        "dct:license": licence,
        "dcat:dataset": [
            dataset(
                "listings",
                "Annonces ouvertes (offres et besoins)",
                "Open listings (offers and needs)",
            ),
            dataset("structures", "Structures du territoire", "Structures of the territory"),
        ],
    }
    return Response(
        json.dumps(document, ensure_ascii=False),
        content_type="application/ld+json; charset=utf-8",
        headers={"Access-Control-Allow-Origin": "*"},
    )
