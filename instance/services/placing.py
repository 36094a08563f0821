"""Placing what a person typed in a form: a commune must name one commune we know.

The JSON API records ``placed: none`` for a commune it cannot place; a page can ask
instead: a name several communes share gets the candidates to choose from (« Pau
(64) »), an unknown name a message — unless coordinates were typed too.

:func:`commune_position` and :func:`known_places` serve the search page: where a
commune is, and which communes and territories to suggest.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Structure
from domain.places import resolve
from domain.validation import FieldError, Invalid

KNOWN_MAX = 300


async def check_commune(
    session: AsyncSession, commune: str, lat: str, lon: str, field: str = "commune"
) -> None:
    """Raise ``Invalid`` on ``field`` when the typed commune does not name one commune."""
    if not commune.strip() or (lat.strip() and lon.strip()):
        return
    resolution = await resolve(session, commune)
    if resolution.place is not None:
        return
    if resolution.ambiguous:
        names = ", ".join(p.label for p in resolution.candidates[:6])
        raise Invalid(
            {
                field: FieldError(
                    "Several communes have this name: %(names)s. Add the department.",
                    {"names": names},
                )
            }
        )
    raise Invalid(
        {
            field: FieldError(
                "This is not a French commune we know: check the spelling, or give its "
                "latitude and longitude."
            )
        }
    )


async def commune_position(session: AsyncSession, commune: str) -> tuple[float, float] | None:
    """Where a commune is: from the gazetteer (``domain.places``), else from the
    structures and listings this node knows there (a place outside France)."""
    place = (await resolve(session, commune)).place
    if place is not None and place.lat is not None and place.lon is not None:
        return place.lat, place.lon
    name = commune.strip().lower()
    for model in (Structure, Listing):
        row = (
            await session.execute(
                select(func.avg(model.lat), func.avg(model.lon)).where(
                    func.lower(model.commune) == name,
                    model.lat.is_not(None),
                    model.lon.is_not(None),
                )
            )
        ).one()
        if row[0] is not None and row[1] is not None:
            return float(row[0]), float(row[1])
    return None


async def known_places(session: AsyncSession) -> tuple[list[str], list[str]]:
    """Communes to suggest, and the other territories listings came from."""
    communes = await session.execute(
        select(Listing.commune)
        .where(Listing.commune != "", Listing.lat.is_not(None))
        .union(select(Structure.commune).where(Structure.commune != "", Structure.is_visible))
        .limit(KNOWN_MAX)
    )
    origins = await session.execute(
        select(Listing.origin).where(Listing.local.is_(False)).distinct().limit(KNOWN_MAX)
    )
    return sorted({c for (c,) in communes}, key=str.casefold), sorted(o for (o,) in origins)
