"""Placing what a person typed in a form: a commune must name one commune we know.

The JSON API records ``placed: none`` for a commune it cannot place; a page can ask
instead: a name several communes share gets the candidates to choose from (« Pau
(64) »), an unknown name a message — unless coordinates were typed too.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.places import resolve
from domain.validation import FieldError, Invalid


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
