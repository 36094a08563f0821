"""Listings to ActivityStreams documents: the Note, its Create, Update, Delete, Announce.

A listing as ActivityPub
------------------------
A listing is sent as a ``Note`` that Mastodon shows as an ordinary post **and**
that carries the structured data of FEP-0837 (Federated Marketplace), which
allows ``type: Note`` for interoperability. Mastodon drops objects of unknown
types such as ``Proposal`` (its ``ActivityPub::Activity::Create`` converts only
Note/Question and the media/article types), so the FEP fields ride on a Note:

* ``name`` is the title; Mastodon does not show ``name`` on a Note, so the
  title is repeated in bold at the top of ``content``;
* ``content`` is the description as escaped HTML, with the kind, the place and
  the availability in one line, and the category and modality as hashtags
  (also in ``tag`` as ``Hashtag`` objects, so Mastodon links them);
* ``url`` is the HTML page, ``attributedTo`` the structure's actor,
  ``published``/``updated`` its dates (Mastodon applies an ``Update`` only
  when ``updated`` is present), ``to`` Public and ``cc`` the structure's
  followers;
* ``location`` is a ``Place`` with ``latitude``/``longitude`` and, when set,
  ``radius`` in ``units: "km"``; availability is ``startTime``/``endTime``;
* FEP-0837: ``purpose`` (``offer`` or ``request``), ``publishes`` (the
  primary ``Intent``: ``action: transfer`` — ``deliverService`` for skills
  and services — ``resourceConformsTo`` the category URI,
  ``resourceQuantity``/``availableQuantity`` with OM2 unit ``one`` unless a
  unit is given) and, for a sale, ``reciprocal`` (an ``Intent`` whose
  resource is the currency's Wikidata item and whose quantity is the price);
* our own terms, under the ``entraide:`` prefix of the node's ``/ns``
  context: ``entraide:category``, ``entraide:modality``, ``entraide:status``,
  ``entraide:unit`` (the unit as the structure typed it) and
  ``entraide:description`` (the description as plain text, so that another
  Entraide node shows it as written rather than rebuilt from ``content``).

Example (abridged)::

    {"type": "Note", "id": "https://a.example/listings/42",
     "attributedTo": "https://a.example/actors/menuiserie",
     "name": "Perceuse à prêter",
     "content": "<p><strong>Offre : Perceuse à prêter</strong></p><p>…</p>",
     "tag": [{"type": "Hashtag", "name": "#materiel", "href": "…/tags/materiel"}],
     "location": {"type": "Place", "name": "Orthez", "latitude": 43.49,
                  "longitude": -0.77, "radius": 10, "units": "km"},
     "purpose": "offer",
     "publishes": {"type": "Intent", "id": "…/listings/42#primary",
                   "action": "transfer",
                   "resourceConformsTo": "https://a.example/categories/equipment",
                   "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "1"}},
     "entraide:category": "equipment", "entraide:modality": "lend",
     "entraide:status": "open"}

The reverse conversion is ``inbox/from_ap/listings.py``.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time
from typing import Any

from actors.urls import Urls
from config.settings import Settings
from domain.categories import BY_ID
from domain.models import Listing
from domain.vocabulary import CURRENCY_ITEMS, ISO_4217, MODALITY_HASHTAGS, PURPOSES
from federation.models import Actor
from federation.vocab import AS_CONTEXT, PUBLIC
from outbox.to_ap.activities import iso, new_activity, number, paragraphs, tombstone

VF = "https://w3id.org/valueflows/ont/vf#"
OM2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"

MODALITY_LABELS = {
    "lend": "Prêt",
    "mutualise": "Mutualisation",
    "give": "Don",
    "sell": "Vente",
    "barter": "Troc",
}
KIND_LABELS = {"offer": "Offre", "need": "Besoin"}
# Mastodon applies an Update only when the visible text changes (docs/research-verified.md):
# a status other than open is written into the content.
STATUS_LABELS = {"fulfilled": "Pourvue", "expired": "Expirée", "withdrawn": "Retirée"}
SERVICE_CATEGORIES = frozenset({"skills", "services"})


def listing_context(settings: Settings) -> list[Any]:
    """The JSON-LD context of a listing (FEP-0837 terms and ours)."""
    return [
        AS_CONTEXT,
        {
            "om2": OM2,
            "vf": VF,
            "Proposal": "vf:Proposal",
            "Intent": "vf:Intent",
            "action": "vf:action",
            "purpose": "vf:purpose",
            "unitBased": "vf:unitBased",
            "publishes": {"@id": "vf:publishes", "@type": "@id"},
            "reciprocal": {"@id": "vf:reciprocal", "@type": "@id"},
            "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
            "resourceQuantity": "vf:resourceQuantity",
            "availableQuantity": "vf:availableQuantity",
            "minimumQuantity": "vf:minimumQuantity",
            "hasUnit": "om2:hasUnit",
            "hasNumericalValue": "om2:hasNumericalValue",
            "Hashtag": "as:Hashtag",
            "entraide": f"{settings.base_url}/ns#",
        },
    ]


def _day_start(value: date) -> str:
    return iso(datetime.combine(value, time.min, UTC))


def _day_end(value: date) -> str:
    return iso(datetime.combine(value, time(23, 59, 59), UTC))


def listing_content(listing: Listing, urls: Urls) -> str:
    """The HTML ``content`` a Mastodon user reads."""
    category = BY_ID.get(listing.category)
    kind = KIND_LABELS.get(listing.kind, listing.kind)
    status = STATUS_LABELS.get(listing.status)
    prefix = f"[{status}] " if status else ""
    parts = [f"<p><strong>{html.escape(prefix + kind)} : {html.escape(listing.title)}</strong></p>"]
    parts.append(paragraphs(listing.description))
    facts = [MODALITY_LABELS.get(listing.modality, listing.modality)]
    if listing.quantity is not None:
        facts.append(f"{number(listing.quantity)} {listing.unit}".strip())
    if listing.price_amount is not None:
        facts.append(f"{number(listing.price_amount)} {listing.price_currency}")
    if listing.commune:
        radius = f" (± {listing.radius_km:g} km)" if listing.radius_km else ""
        facts.append(f"{listing.commune}{radius}")
    if listing.available_from or listing.available_until:
        start = listing.available_from.isoformat() if listing.available_from else "…"
        end = listing.available_until.isoformat() if listing.available_until else "…"
        facts.append(f"{start} → {end}")
    parts.append("<p>" + html.escape(" · ".join(facts)) + "</p>")
    tags = []
    if category:
        tags.append(category.hashtag)
    tags.append(MODALITY_HASHTAGS.get(listing.modality, listing.modality))
    links = " ".join(
        f'<a href="{html.escape(urls.tag(t))}" class="mention hashtag" rel="tag">'
        f"#<span>{t}</span></a>"
        for t in tags
    )
    parts.append(f"<p>{links}</p>")
    return "".join(parts)


def _quantity(listing: Listing) -> dict[str, str]:
    value = number(listing.quantity) if listing.quantity is not None else "1"
    return {"hasUnit": "one", "hasNumericalValue": value}


def listing_object(
    listing: Listing, settings: Settings, *, with_context: bool = False
) -> dict[str, Any]:
    """The ``Note`` (with FEP-0837 fields) of a local listing."""
    urls = Urls(settings.base_url)
    assert listing.structure is not None
    assert listing.structure.actor is not None
    actor = listing.structure.actor
    category = BY_ID.get(listing.category)
    tags = []
    if category:
        tags.append(
            {"type": "Hashtag", "name": f"#{category.hashtag}", "href": urls.tag(category.hashtag)}
        )
    modality_tag = MODALITY_HASHTAGS.get(listing.modality, listing.modality)
    tags.append({"type": "Hashtag", "name": f"#{modality_tag}", "href": urls.tag(modality_tag)})
    intent: dict[str, Any] = {
        "type": "Intent",
        "id": f"{listing.ap_id}#primary",
        "action": "deliverService" if listing.category in SERVICE_CATEGORIES else "transfer",
        "resourceConformsTo": urls.category(listing.category),
        "resourceQuantity": _quantity(listing),
    }
    if listing.kind == "offer":
        available = _quantity(listing)
        if listing.status != "open":
            available = {"hasUnit": available["hasUnit"], "hasNumericalValue": "0"}
        intent["availableQuantity"] = available
    obj: dict[str, Any] = {
        "id": listing.ap_id,
        "type": "Note",
        "url": listing.url or listing.ap_id,
        "attributedTo": actor.uri,
        "published": iso(listing.published_at),
        "updated": iso(listing.updated_at),
        "to": [PUBLIC],
        "cc": [actor.followers_url] if actor.followers_url else [],
        "name": listing.title,
        "content": listing_content(listing, urls),
        "contentMap": {"fr": listing_content(listing, urls)},
        "mediaType": "text/html",
        "tag": tags,
        "replies": f"{listing.ap_id}/replies",
        "purpose": PURPOSES.get(listing.kind, "request"),
        "publishes": intent,
        "unitBased": False,
        "entraide:category": listing.category,
        "entraide:modality": listing.modality,
        "entraide:status": listing.status,
        "entraide:description": listing.description,
    }
    if listing.unit:
        obj["entraide:unit"] = listing.unit
    if listing.available_from:
        obj["startTime"] = _day_start(listing.available_from)
    if listing.available_until:
        obj["endTime"] = _day_end(listing.available_until)
    if listing.lat is not None and listing.lon is not None:
        place: dict[str, Any] = {"type": "Place", "latitude": listing.lat, "longitude": listing.lon}
        if listing.commune:
            place["name"] = listing.commune
        if listing.radius_km:
            place["radius"] = listing.radius_km
            place["units"] = "km"
        obj["location"] = place
    elif listing.commune:
        obj["location"] = {"type": "Place", "name": listing.commune}
    if listing.modality == "sell" and listing.price_amount is not None:
        currency = listing.price_currency or "EUR"
        obj["reciprocal"] = {
            "type": "Intent",
            "id": f"{listing.ap_id}#reciprocal",
            "action": "transfer",
            "resourceConformsTo": CURRENCY_ITEMS.get(currency, f"{ISO_4217}{currency}"),
            "resourceQuantity": {
                "hasUnit": "one",
                "hasNumericalValue": number(listing.price_amount),
            },
        }
    if with_context:
        obj = {"@context": listing_context(settings), **obj}
    return obj


def _author(listing: Listing) -> Actor:
    assert listing.structure is not None
    assert listing.structure.actor is not None
    return listing.structure.actor


def create_listing(settings: Settings, listing: Listing) -> dict[str, Any]:
    """``Create`` of a listing by its structure."""
    obj = listing_object(listing, settings)
    return new_activity(
        settings,
        "Create",
        _author(listing),
        obj,
        to=obj["to"],
        cc=obj["cc"],
        context=listing_context(settings),
        published=obj["published"],
    )


def announce_listing(
    settings: Settings, territory: Actor, listing: Listing, published: str
) -> dict[str, Any]:
    """The territory's ``Announce`` of a listing just published (its followers see it)."""
    return new_activity(
        settings,
        "Announce",
        territory,
        listing.ap_id,
        to=[PUBLIC],
        cc=[territory.followers_url or "", _author(listing).uri],
        published=published,
    )


def update_listing(settings: Settings, listing: Listing) -> dict[str, Any]:
    """``Update`` of a listing by its structure (the whole object again)."""
    obj = listing_object(listing, settings)
    return new_activity(
        settings,
        "Update",
        _author(listing),
        obj,
        to=obj["to"],
        cc=obj["cc"],
        context=listing_context(settings),
    )


def delete_listing(settings: Settings, listing: Listing, deleted: datetime) -> dict[str, Any]:
    """``Delete`` of a withdrawn listing: its Tombstone."""
    author = _author(listing)
    return new_activity(
        settings,
        "Delete",
        author,
        tombstone(listing.ap_id, deleted=deleted),
        to=[PUBLIC],
        cc=[author.followers_url or ""],
    )
