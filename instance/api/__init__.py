"""The JSON API under ``/api/v1`` (docs/interface.md, "JSON API").

Bodies are JSON in and out; errors have the shape of ``instance.errors``.
Writes need ``Authorization: Bearer TOKEN``; reads of public data accept an
absent token but refuse a bad one (401). The OpenAPI document is generated
by quart-schema from the ``document_*`` decorators and the pydantic models of
``instance.api.schemas`` (the models document; validation is
``domain.validation``, shared with the forms). The blueprint is in
``instance.api.blueprint``, the reading of bodies in ``instance.api.body``.
"""

from __future__ import annotations

# Importing the modules registers their routes on the blueprint.
from instance.api import (
    communities,
    exchanges,
    followers,
    follows,
    idempotency,
    listings,
    mail_choice,
    matches,
    messages,
    meta,
    notifications,
    places,
    replies,
    reports,
    saved_searches,
    stats,
    structures,
    timeline,
)
from instance.api.blueprint import blueprint
from instance.api.body import json_body

__all__ = [
    "blueprint",
    "communities",
    "exchanges",
    "followers",
    "follows",
    "idempotency",
    "json_body",
    "listings",
    "mail_choice",
    "matches",
    "messages",
    "meta",
    "notifications",
    "places",
    "replies",
    "reports",
    "saved_searches",
    "stats",
    "structures",
    "timeline",
]
