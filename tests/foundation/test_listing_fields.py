"""One list of a listing's authored fields (domain.listings.LISTING_FIELDS) for the form,
the API's validation and a peer's Note."""

from __future__ import annotations

from dataclasses import fields

from domain.listings import LISTING_FIELDS, ListingInput
from domain.models import Listing
from inbox.from_ap import ListingData
from instance.web.forms import LISTING_FIELDS as FORM_FIELDS


def test_every_authored_field_is_a_column_and_travels() -> None:
    columns = set(Listing.__table__.columns.keys())
    assert set(LISTING_FIELDS) <= columns
    assert set(LISTING_FIELDS) <= {f.name for f in fields(ListingData)}
    assert tuple(f.name for f in fields(ListingInput)) == LISTING_FIELDS
    assert {"title", "description", "price_amount", "lat", "status"} <= set(LISTING_FIELDS)


def test_the_form_reads_the_same_fields_and_its_structure() -> None:
    assert ("structure", *LISTING_FIELDS) == FORM_FIELDS
