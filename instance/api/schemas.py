"""Pydantic models that document the JSON API in the OpenAPI document.

They describe the contract of docs/interface.md; the validation itself is done by
``domain.validation`` so that the API and the web forms share one set of rules
and messages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["offer", "need"]
ModalityT = Literal["lend", "mutualise", "give", "sell", "barter"]
StatusT = Literal["open", "fulfilled", "expired", "withdrawn"]
CategoryT = Literal[
    "equipment", "vehicles", "premises", "skills", "materials", "services", "food", "other"
]


class Price(BaseModel):
    amount: str = Field(examples=["12.50"], description="Decimal as a string")
    currency: str = Field(default="EUR", min_length=3, max_length=3)


class Location(BaseModel):
    commune: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    placed: str | None = Field(
        default=None,
        description="in answers: given (coordinates sent), commune (placed from the "
        "gazetteer) or none (the commune was not found or is ambiguous)",
    )


class ListingCreate(BaseModel):
    structure: str = Field(description="Handle of the publishing structure")
    kind: Kind
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(max_length=10_000)
    category: CategoryT
    modality: ModalityT
    quantity: str | None = None
    unit: str | None = None
    price: Price | None = None
    available_from: date | None = None
    available_until: date | None = None
    location: Location | None = None
    radius_km: float | None = Field(default=None, ge=0, le=1000)


class ListingPatch(BaseModel):
    kind: Kind | None = None
    title: str | None = None
    description: str | None = None
    category: CategoryT | None = None
    modality: ModalityT | None = None
    quantity: str | None = None
    unit: str | None = None
    price: Price | None = None
    available_from: date | None = None
    available_until: date | None = None
    location: Location | None = None
    radius_km: float | None = None
    status: StatusT | None = None


class Author(BaseModel):
    id: str = Field(description="ActivityPub id of the publishing actor")
    handle: str
    name: str
    domain: str


class ListingOut(BaseModel):
    id: int
    ap_id: str
    url: str
    kind: Kind
    title: str
    description: str
    category: str
    modality: str
    quantity: str | None
    unit: str
    price: Price | None
    available_from: date | None
    available_until: date | None
    location: Location | None
    radius_km: float | None
    status: StatusT
    origin: str = Field(description="Domain the listing comes from")
    local: bool
    structure: str | None = Field(description="Handle of the local structure, if local")
    author: Author
    published: datetime
    updated: datetime
    expires_at: datetime | None
    distance_km: float | None = Field(default=None, description="With near= only")


class ListingPage(BaseModel):
    items: list[ListingOut]
    next: str | None


class ListingQuery(BaseModel):
    q: str | None = None
    kind: Kind | None = None
    category: CategoryT | None = None
    modality: ModalityT | None = None
    status: StatusT | None = None
    near: str | None = Field(default=None, description="LAT,LON")
    radius_km: float | None = None
    origin: str | None = Field(default=None, description="local, remote or a domain")
    structure: str | None = Field(default=None, description="Handle or actor id")
    sort: Literal["recent", "distance", "relevance"] | None = None
    limit: int | None = Field(default=None, ge=1, le=100)
    cursor: str | None = None


class CategoryOut(BaseModel):
    id: str
    label_fr: str
    label_en: str


class Counts(BaseModel):
    structures: int
    listings: int
    local_listings: int
    remote_listings: int
    peers: int


class InstanceOut(BaseModel):
    name: str
    domain: str
    territory: str = Field(description="ActivityPub id of the territory actor")
    software: str
    version: str
    description: str
    federation: str
    counts: Counts


class Error(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None
