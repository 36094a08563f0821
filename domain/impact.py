"""The impact of exchanges once done: value, distance, and CO2e avoided.

Recorded on each exchange when it becomes ``done`` (both sides marked it), the
same way on both nodes, from what both know: the declared value, the category
and modality of the listing, and the distance between the listing's position
and the proposer structure's position (``None`` when either is unknown).

* **value_eur**: the declared value when it is in euros; a value in another
  currency is left out of the sums (no exchange rates here) and the totals say
  how many were left out (:attr:`Totals.other_currency`).
* **co2e_kg avoided**: reuse and lending avoid buying new. Counted for the
  modalities give, lend, mutualise and barter, and for a sale in the categories
  materials and equipment (a second-hand sale is reuse); not for other sales.
  The estimate is the declared value in euros × a factor per category in
  kg CO2e per euro (:data:`KG_CO2E_PER_EUR`, the one table of this module):
  the emissions of buying the same value new, which the exchange avoided.
  Without a value in euros there is no estimate (``None``).

Sources, honestly: the method is that of ADEME's *monetary ratios* (Base
Carbone, now Base Empreinte: kg CO2e per k€ HT spent, by NAF rev.2 sector, from
the SDES/INSEE carbon footprint of France; documentation page
https://prod-basecarbonesolo.ademe-dri.fr/documentation/UPLOAD_DOC_FR/ratio-monetaires_3.htm).
The figures below are **indicative orders of magnitude, not copied from that
base: they are to be checked against the current ADEME monetary ratios** of the
sectors named beside each one before any public reporting. Monetary ratios
estimate an order of magnitude, not a measure; ADEME says so itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.exchanges import Exchange
from federation.models import Actor

EARTH_RADIUS_KM = 6371.0088

# kg CO2e per euro of new purchase avoided, per category. INDICATIVE, to be checked
# against ADEME's monetary ratios (kg CO2e/k€ HT ÷ 1000) of the sector in brackets.
KG_CO2E_PER_EUR: dict[str, float] = {
    "equipment": 0.5,  # machinery and equipment, tools (NAF C28, C25)
    "vehicles": 0.5,  # motor vehicles and other transport equipment (NAF C29, C30)
    "premises": 0.2,  # real estate, renting (NAF L68)
    "skills": 0.1,  # professional and technical services (NAF M69-M74)
    "materials": 0.6,  # wood, metal, building materials (NAF C16, C23, C24)
    "services": 0.15,  # other services (NAF N, S)
    "food": 1.0,  # agriculture and food products (NAF A01, C10)
    "other": 0.4,  # no sector: a middle value
}
REUSE_MODALITIES = frozenset({"give", "lend", "mutualise", "barter"})
SECOND_HAND_CATEGORIES = frozenset({"materials", "equipment"})


@dataclass(frozen=True)
class Impact:
    value_eur: Decimal | None
    co2e_kg: float | None
    distance_km: float | None


def counts_as_reuse(category: str, modality: str) -> bool:
    """Whether the exchange avoids a new purchase (reuse or lending)."""
    if modality in REUSE_MODALITIES:
        return True
    return modality == "sell" and category in SECOND_HAND_CATEGORIES


def impact_of(
    *,
    category: str,
    modality: str,
    value_amount: Decimal | None,
    value_currency: str,
    distance_km: float | None,
) -> Impact:
    """The impact of a done exchange (pure)."""
    value_eur = value_amount if value_amount is not None and value_currency == "EUR" else None
    co2e: float | None = None
    if value_eur is not None and counts_as_reuse(category, modality):
        factor = KG_CO2E_PER_EUR.get(category, KG_CO2E_PER_EUR["other"])
        co2e = round(float(value_eur) * factor, 3)
    distance = None if distance_km is None else round(distance_km, 3)
    return Impact(value_eur=value_eur, co2e_kg=co2e, distance_km=distance)


def distance_between(
    a: tuple[float | None, float | None], b: tuple[float | None, float | None]
) -> float | None:
    """Great-circle distance in km (haversine), None when a position is unknown."""
    (lat1, lon1), (lat2, lon2) = a, b
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Totals:
    """Done exchanges summed: count, value in euros, CO2e avoided."""

    done: int
    value_eur: Decimal
    co2e_kg: float
    other_currency: int  # done exchanges whose value is in another currency (left out)


async def exchange_totals(session: AsyncSession, *where: object) -> Totals:
    """Done exchanges matching ``where``, summed."""
    row = (
        await session.execute(
            select(
                func.count(Exchange.id),
                func.coalesce(func.sum(Exchange.value_eur), 0),
                func.coalesce(func.sum(Exchange.co2e_kg), 0.0),
                func.count(Exchange.value_amount).filter(Exchange.value_currency != "EUR"),
            ).where(Exchange.state == "done", *where)  # type: ignore[arg-type]
        )
    ).one()
    return Totals(
        done=int(row[0]),
        value_eur=Decimal(row[1] or 0).quantize(Decimal("0.01")),
        co2e_kg=round(float(row[2] or 0), 3),
        other_currency=int(row[3]),
    )


async def actor_impact(session: AsyncSession, actor_id: int) -> Totals:
    """The done exchanges of one structure (by its actor), either side."""
    return await exchange_totals(
        session, or_(Exchange.proposer_id == actor_id, Exchange.responder_id == actor_id)
    )


async def territory_impact(session: AsyncSession) -> Totals:
    """The done exchanges the territory's own structures took part in (each once)."""
    local = select(Actor.id).where(Actor.local.is_(True))
    return await exchange_totals(
        session, or_(Exchange.proposer_id.in_(local), Exchange.responder_id.in_(local))
    )
