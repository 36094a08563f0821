"""The SQL conditions of a listing search: visibility, structured filters, distance.

:func:`base_filters` is what every search applies (what may be shown, then the
filters asked); :func:`distance_expr` and :func:`bounding_box` measure and
prefilter around a point. ``instance.search`` puts them together with the text
match and the paging.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Structure
from federation.models import Actor, DomainPolicy, Follow
from instance.search_query import SearchQuery


def base_filters(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    """The filters every search applies: visibility and the structured fields."""
    moderated = select(Actor.id).where(Actor.moderation != "")
    silenced = select(DomainPolicy.domain).where(DomainPolicy.policy.in_(("silence", "block")))
    stmt = stmt.outerjoin(Structure, Listing.structure_id == Structure.id).where(
        Listing.hidden.is_(False),
        or_(Listing.structure_id.is_(None), Structure.is_visible),
        Listing.author_id.not_in(moderated),
        or_(Listing.local.is_(True), Listing.origin.not_in(silenced)),
    )
    if query.status:
        stmt = stmt.where(Listing.status == query.status)
    if query.status in (None, "withdrawn") and query.withdrawn_of is not None:
        stmt = stmt.where(
            or_(Listing.status != "withdrawn", Listing.structure_id.in_(query.withdrawn_of))
        )
    if query.kind:
        stmt = stmt.where(Listing.kind == query.kind)
    if query.category:
        stmt = stmt.where(Listing.category == query.category)
    if query.modality:
        stmt = stmt.where(Listing.modality == query.modality)
    if query.origin == "local":
        stmt = stmt.where(Listing.local.is_(True))
    elif query.origin == "remote":
        stmt = stmt.where(Listing.local.is_(False))
    elif query.origin:
        stmt = stmt.where(Listing.origin == query.origin)
    if query.structure:
        if "/" in query.structure:
            stmt = stmt.join(Actor, Listing.author_id == Actor.id).where(
                Actor.uri == query.structure
            )
        else:
            stmt = stmt.where(Structure.handle == query.structure)
    if query.ids is not None:
        stmt = stmt.where(Listing.id.in_(query.ids))
    if query.timeline_of is not None:
        followed = select(Follow.followed_id).where(
            Follow.follower_id == query.timeline_of, Follow.state == "accepted"
        )
        territories = select(Actor.domain).where(
            Actor.id.in_(followed), Actor.is_territory.is_(True)
        )
        stmt = stmt.where(or_(Listing.author_id.in_(followed), Listing.origin.in_(territories)))
    if query.available_on:
        day = query.available_on
        stmt = stmt.where(
            or_(Listing.available_from.is_(None), Listing.available_from <= day),
            or_(Listing.available_until.is_(None), Listing.available_until >= day),
        )
    return stmt


EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.195


def distance_expr(lat: float, lon: float) -> ColumnElement[float]:
    """Great-circle distance in km from (lat, lon) to a listing (haversine, in SQL)."""
    dlat = func.radians(Listing.lat - lat) / 2
    dlon = func.radians(Listing.lon - lon) / 2
    a = func.pow(func.sin(dlat), 2) + math.cos(math.radians(lat)) * func.cos(
        func.radians(Listing.lat)
    ) * func.pow(func.sin(dlon), 2)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def bounding_box(
    lat: float, lon: float, radius_km: float, *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    """An index-friendly prefilter: the box around the circle of ``radius_km``.

    ``indexed=False`` writes it on ``lat + 0`` / ``lon + 0``, the same values
    that the (lat, lon) index cannot serve, so that SQLite's planner picks
    another index (see :data:`SQLITE_DENSE_BOX`).
    """
    lat_col: Any = Listing.lat if indexed else Listing.lat + 0
    lon_col: Any = Listing.lon if indexed else Listing.lon + 0
    dlat = radius_km / KM_PER_DEGREE
    conditions: list[ColumnElement[bool]] = [lat_col.between(lat - dlat, lat + dlat)]
    cos_lat = math.cos(math.radians(lat))
    if cos_lat > 0.01 and dlat < 80:
        dlon = radius_km / (KM_PER_DEGREE * cos_lat)
        if dlon < 180:
            low, high = lon - dlon, lon + dlon
            if low < -180 or high > 180:  # the box crosses the antimeridian
                conditions.append(
                    or_(
                        lon_col >= (low + 360 if low < -180 else low),
                        lon_col <= (high - 360 if high > 180 else high),
                    )
                )
            else:
                conditions.append(lon_col.between(low, high))
    return conditions


# PostgreSQL ranks by relevance only this many matches, the last arrived, when a search
# has many more (see many_matches, best_candidates): a common word matches a quarter of
# the listings, and ranking them all read each one's row and search vector (60-300 ms at
# 100,000 listings).
RANKED_CANDIDATES = 1_000


async def many_matches(session: AsyncSession, matching: ColumnElement[bool]) -> bool:
    """Whether PostgreSQL's planner expects the text match to hold for so many listings
    that reading the last arrived until ``RANKED_CANDIDATES`` matched costs less than
    reading every match: ``N × listings / matches`` rows against ``matches``, so from
    ``√(N × listings)`` matches (10,000 of 100,000).

    The planner's own estimate (``EXPLAIN``, from the search vector's statistics, a
    fraction of a millisecond): left to itself, it walks the primary key for a word of a
    few percent too (its costs take a row's test as nearly free, where reading the search
    vector is not), and reads 40 % of the table to find 1,000.
    """
    probe: Select[Any] = select(literal_column("1")).select_from(Listing.__table__).where(matching)
    dialect = session.get_bind().dialect
    sql = str(probe.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    conn = await session.connection()
    plan = (await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    if isinstance(plan, str | bytes):  # the driver may decode JSON itself
        plan = json.loads(plan)
    expected = float(plan[0]["Plan"]["Plan Rows"])
    total = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'listings'::regclass")
    )
    return expected * expected >= RANKED_CANDIDATES * max(float(total or 0), 0.0)


def best_candidates(stmt: Select[Any], query: SearchQuery, rank: Any) -> Subquery:
    """The listings of ``stmt`` (every filter and the text match, and here the radius)
    reduced to the ``RANKED_CANDIDATES`` last arrived, with their ``rank``: ``(id, rank)``,
    for a search ranked by relevance on PostgreSQL.

    By id, descending: the order of arrival, which the table's pages follow, so that a
    common word reads the last pages of the table, backwards along the primary key, until
    enough rows matched, instead of every match; a rarer word is still read from the GIN
    index (the planner chooses, from the index's statistics). The rank is computed in the
    same pass, for at most that many rows. A search with fewer matches ranks them all.
    """
    if query.near is not None and query.radius_km is not None:
        lat, lon = query.near
        box = bounding_box(lat, lon, query.radius_km)
        stmt = stmt.where(*box, distance_expr(lat, lon) <= query.radius_km)
    return (
        stmt.add_columns(rank.label("rank"))
        .order_by(Listing.id.desc())
        .limit(RANKED_CANDIDATES)
        .subquery("best")
    )
