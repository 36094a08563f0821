"""Places: the gazetteer of French communes shipped with the node, and placing by name.

The node needs no network to turn a commune into coordinates. Every current
commune (and municipal arrondissement) is a :class:`Place` — INSEE code, name,
postcodes, department, a position — loaded by migration ``0012`` from
``domain/data/communes.csv.gz`` (its sources, versions, licences and coverage are
in ``domain/data/README.md``).

Text typed by a person is read by :func:`parse_query`:

* a name, folded like search text (accents, case, hyphens and apostrophes do not
  matter; « St » is « Saint »): ``Orthez``, ``saint jean de luz``;
* a name with its department, ``Pau (64)``, or with a postcode, ``64000 Pau``;
* a postcode or its first digits: ``64000``, ``640``.

:func:`suggest` completes a prefix (the autocomplete of ``GET /api/v1/places``),
best first: an exact name before longer ones, then by population.
:func:`resolve` places a commune exactly: one place when the text names exactly
one (a bare postcode names its most populous commune), ``ambiguous`` with the
candidates when a name is shared (« Saint-Martin » — the forms ask which), or
nothing. :func:`place_of` is what listings and structures record: ``given``
(coordinates were given), ``commune`` (placed from the gazetteer) or ``none``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ColumnElement, Float, ForeignKey, Integer, String, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base
from domain.textsearch import fold

Placed = Literal["given", "commune", "none"]
PLACED: tuple[Placed, ...] = ("given", "commune", "none")
MAX_SUGGESTIONS = 20
MAX_QUERY = 100

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DEPARTMENT = re.compile(r"^(.*?)\s*\(\s*(\d[0-9ab]|\d{3})\s*\)\s*$", re.IGNORECASE)
_POSTCODE = re.compile(r"\b(\d{5})\b")


class Place(Base):
    """A French commune of the gazetteer."""

    __tablename__ = "places"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)  # INSEE
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100), index=True)  # see :func:`name_key`
    postcodes: Mapped[str] = mapped_column(String(200), default="")  # space-separated
    department: Mapped[str] = mapped_column(String(3))
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    population: Mapped[int] = mapped_column(Integer, default=0)
    # geonames, postcode, epci or "": how the position was found (domain/data/README.md)
    source: Mapped[str] = mapped_column(String(10), default="")

    @property
    def label(self) -> str:
        """``Pau (64)``: the name with its department, as the forms show it."""
        return f"{self.name} ({self.department})"

    @property
    def postcode_list(self) -> list[str]:
        return self.postcodes.split()


class PlacePostcode(Base):
    """One postcode of a commune (a commune may have several, a postcode several communes)."""

    __tablename__ = "place_postcodes"

    postcode: Mapped[str] = mapped_column(String(5), primary_key=True)
    code: Mapped[str] = mapped_column(
        String(5), ForeignKey("places.code", ondelete="CASCADE"), primary_key=True
    )


def name_key(text: str) -> str:
    """The searchable form of a name: folded, letters and digits only, « st » → saint.

    ``Saint-Jean-de-Luz``, ``st jean de luz`` and ``SAINT JEAN DE LUZ`` share the key
    ``saintjeandeluz``; keys are plain ASCII, so a range of them is a prefix on every
    database whatever its collation.
    """
    words = _NON_ALNUM.sub(" ", fold(text)).split()
    expanded = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
    return "".join(expanded)


@dataclass(frozen=True)
class PlaceQuery:
    """What a person typed, read: a name key, and perhaps a department or a postcode."""

    key: str = ""
    department: str | None = None
    postcode: str | None = None  # complete (5 digits) or a prefix when alone


def parse_query(text: str) -> PlaceQuery:
    text = text.strip()[:MAX_QUERY]
    department = None
    found = _DEPARTMENT.match(text)
    if found:
        text, department = found.group(1), found.group(2).upper()
    postcode = None
    code = _POSTCODE.search(text)
    if code:
        postcode = code.group(1)
        text = (text[: code.start()] + " " + text[code.end() :]).strip()
    elif text.isdigit():
        postcode, text = text[:5], ""
    return PlaceQuery(key=name_key(text), department=department, postcode=postcode)


def _prefix_range(column: Mapped[str], prefix: str) -> ColumnElement[bool]:
    """``prefix <= column < next``: a prefix match that an ordinary index serves."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


async def suggest(session: AsyncSession, text: str, limit: int = 10) -> list[Place]:
    """Communes whose name or postcode starts with ``text``, best first."""
    query = parse_query(text)
    limit = max(1, min(limit, MAX_SUGGESTIONS))
    statement = select(Place)
    if query.key:
        statement = statement.where(_prefix_range(Place.key, query.key))
    if query.postcode:
        codes = select(PlacePostcode.code).where(
            _prefix_range(PlacePostcode.postcode, query.postcode)
        )
        statement = statement.where(Place.code.in_(codes))
    if query.department:
        statement = statement.where(Place.department == query.department)
    if not (query.key or query.postcode):
        return []
    # Exact names first (« Pau » before « Paulhac »), then the most populous.
    order = [Place.population.desc(), Place.code]
    if query.key:
        order.insert(0, (Place.key == query.key).desc())
    statement = statement.order_by(*order)
    rows = await session.execute(statement.limit(limit))
    return list(rows.scalars())


@dataclass
class Resolution:
    """The outcome of placing a typed commune."""

    place: Place | None = None
    candidates: list[Place] = field(default_factory=list)  # when ambiguous

    @property
    def ambiguous(self) -> bool:
        return self.place is None and len(self.candidates) > 1


async def resolve(session: AsyncSession, text: str) -> Resolution:
    """The one commune ``text`` names exactly, or the candidates when it is ambiguous."""
    query = parse_query(text)
    if not (query.key or (query.postcode and len(query.postcode) == 5)):
        return Resolution()
    statement = select(Place)
    if query.key:
        statement = statement.where(Place.key == query.key)
    if query.postcode:
        if len(query.postcode) != 5:
            return Resolution()
        codes = select(PlacePostcode.code).where(PlacePostcode.postcode == query.postcode)
        statement = statement.where(Place.code.in_(codes))
    if query.department:
        statement = statement.where(Place.department == query.department)
    statement = statement.order_by(Place.population.desc(), Place.code).limit(MAX_SUGGESTIONS)
    found = list((await session.execute(statement)).scalars())
    if len(found) == 1 or (found and not query.key):
        # A postcode alone names the commune it is the main one of (the most populous).
        return Resolution(place=found[0])
    return Resolution(candidates=found)


async def place_of(
    session: AsyncSession, commune: str, lat: float | None, lon: float | None
) -> tuple[float | None, float | None, Placed]:
    """The coordinates to record for a commune and the coordinates given with it."""
    if lat is not None and lon is not None:
        return lat, lon, "given"
    if not commune.strip():
        return None, None, "none"
    resolution = await resolve(session, commune)
    place = resolution.place
    if place is None or place.lat is None or place.lon is None:
        return None, None, "none"
    return place.lat, place.lon, "commune"
