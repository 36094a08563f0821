"""Public corpora of real-world fediverse payload variants, as our inputs.

Two packages of the funfedi.dev project (Helge's Fediverse test framework)
hold the variants that fediverse software meets and chokes on:

* ``fediverse-pasture-inputs`` — ``fediverse_pasture_inputs.available`` maps
  each support table (``html_tags``, ``attachments``, ``url``,
  ``necessary_properties``, ``public_addressing``…) to its ``examples``:
  dicts merged into an object (``{**note, "content": "text", **example}``,
  as ``fediverse_pasture.send.modifier`` does, so ``None`` values are JSON
  ``null``). Its dependency ``fediverse-pasture`` also makes the actor
  documents of its test actors (``data_provider.generate_possible_actors``
  and ``bovine_actor_for_actor_data``).
* ``funfedi-parsing-test-cases`` — suites of ``Case`` whose makers build whole
  activities for an ``Environment`` (sender profile, receiving actor):
  ``Create`` without ``id``/``actor``/``type``, with them ``null`` or as
  lists, the actor embedded, every ``@context`` shape, ``to``/``cc``
  variations, ``Announce(Create(Note))``, events and polls without each
  property.

(``funfedi-schema``, JSON schemas rather than payloads, needs Python ≥ 3.12,
and this project supports 3.11: it is not used.)

From them this module makes :class:`Variant` documents aimed at our node:
each pasture example as the public ``Note`` pasture sends, as a direct
message to a local structure, and merged into an Entraide listing (a FEP-0837
``Note``), so that every property variant also lands on the listing parser;
each example merged into an actor document too; and every funfedi activity.
Hosts are moved into the in-process test network the way
``tests/federation/test_payload_fixture_deliveries.py`` does: pasture's
``http://pasture-one-actor`` becomes ``https://pasture-one-actor.test``, funfedi's
sender lives at ``https://funfedi.test``, and the receiving actor is a local
structure of ``a.test``.

A package that is not installed leaves its corpus empty and its reason in
:data:`MISSING`; the tests skip with that reason.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

TARGET = "a.test"
RECIPIENT = f"https://{TARGET}/actors/ferme_du_bosc"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PASTURE_HOST = "pasture-one-actor.test"
PASTURE_ACTOR = f"https://{PASTURE_HOST}/actor"
FUNFEDI_HOST = "funfedi.test"
FUNFEDI_ACTOR = f"https://{FUNFEDI_HOST}/some/actor"
PUBLISHED = "2025-05-01T09:00:00Z"

Kind = Literal["object", "activity", "actor"]
MISSING: dict[str, str] = {}


@dataclass(frozen=True)
class Variant:
    name: str  # "pasture/html_tags/3/listing", "funfedi/create_activity/null id"…
    kind: Kind
    document: dict[str, Any]


def _relocate(value: Any) -> Any:
    """Pasture's sender host moved into the test network (a deep copy)."""
    text = json.dumps(value).replace("http://pasture-one-actor", f"https://{PASTURE_HOST}")
    return json.loads(text)


@cache
def pasture_examples() -> tuple[tuple[str, int, dict[str, Any]], ...]:
    """``(table, index, example)`` for every example of fediverse-pasture-inputs."""
    try:
        from fediverse_pasture_inputs import available
    except ImportError as exc:
        MISSING["fediverse-pasture-inputs"] = f"fediverse-pasture-inputs is not installed ({exc})"
        return ()
    return tuple(
        (table, index, _relocate(example))
        for table, data in sorted(available.items())
        for index, example in enumerate(data.examples)
    )


def pasture_note(table: str, index: int, example: dict[str, Any]) -> dict[str, Any]:
    """The Note pasture sends: its skeleton, ``content: "text"``, the example, and the
    receiving actor added to ``to`` (``ActivitySender.init_create_note`` and ``send``)."""
    skeleton = {
        "type": "Note",
        "attributedTo": PASTURE_ACTOR,
        "to": [PUBLIC],
        "id": f"{PASTURE_ACTOR}/objects/{table}-{index}-note",
        "published": PUBLISHED,
    }
    note = {**skeleton, "content": "text", **copy.deepcopy(example)}
    to = note.get("to")
    note["to"] = [*(to if isinstance(to, list) else [to]), RECIPIENT]
    return note


def pasture_direct(table: str, index: int, example: dict[str, Any]) -> dict[str, Any]:
    """The same Note addressed to the local structure only: a direct message."""
    note = pasture_note(table, index, example)
    note["id"] = f"{PASTURE_ACTOR}/objects/{table}-{index}-dm" if note.get("id") else note["id"]
    if "to" not in example:
        note["to"] = [RECIPIENT]
    note["tag"] = [{"type": "Mention", "href": RECIPIENT}, *_as_list(note.get("tag"))]
    return note


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def listing_skeleton(object_id: str, author: str) -> dict[str, Any]:
    """An Entraide listing (README, "A listing as ActivityPub"), sold for 3 EUR."""
    return {
        "id": object_id,
        "type": "Note",
        "url": object_id,
        "attributedTo": author,
        "published": PUBLISHED,
        "updated": PUBLISHED,
        "to": [PUBLIC],
        "cc": [f"{author}/followers"],
        "name": "Palettes Europe",
        "content": "<p><strong>Offre : Palettes Europe</strong></p><p>Vingt palettes.</p>",
        "tag": [{"type": "Hashtag", "name": "#reemploi", "href": "https://x.test/tags/reemploi"}],
        "location": {"type": "Place", "name": "Mourenx", "latitude": 43.38, "longitude": -0.62},
        "purpose": "offer",
        "publishes": {
            "type": "Intent",
            "id": f"{object_id}#primary",
            "action": "transfer",
            "resourceConformsTo": "https://a.example/categories/materials",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "20"},
            "availableQuantity": {"hasUnit": "one", "hasNumericalValue": "20"},
        },
        "reciprocal": {
            "type": "Intent",
            "id": f"{object_id}#reciprocal",
            "action": "transfer",
            "resourceConformsTo": "https://www.wikidata.org/wiki/Q4916",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "3"},
        },
        "unitBased": False,
        "entraide:category": "materials",
        "entraide:modality": "sell",
        "entraide:status": "open",
        "entraide:unit": "palettes",
    }


def pasture_listing(table: str, index: int, example: dict[str, Any]) -> dict[str, Any]:
    """The example merged into a listing: every property variant on the listing parser."""
    listing = listing_skeleton(f"{PASTURE_ACTOR}/listings/{table}-{index}", PASTURE_ACTOR)
    return {**listing, **copy.deepcopy(example)}


@cache
def pasture_actor_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    """The actor documents of pasture's test actors (``actor``, ``alice`` … ``frank``:
    with and without a WebFinger name), as ``fediverse-pasture`` builds them."""
    if not pasture_examples():
        return ()
    from fediverse_pasture.data_provider import bovine_actor_for_actor_data
    from fediverse_pasture.data_provider.generate import (
        generate_one_actor,
        generate_possible_actors,
    )

    documents = []
    for data in [generate_one_actor(), *generate_possible_actors()]:
        _, actor = bovine_actor_for_actor_data(f"https://{PASTURE_HOST}/{data.actor_name}", data)
        documents.append((data.actor_name, dict(actor.build())))
    return tuple(documents)


@cache
def objects() -> tuple[Variant, ...]:
    found = []
    for table, index, example in pasture_examples():
        base = f"pasture/{table}/{index}"
        found += [
            Variant(f"{base}/note", "object", pasture_note(table, index, example)),
            Variant(f"{base}/direct", "object", pasture_direct(table, index, example)),
            Variant(f"{base}/listing", "object", pasture_listing(table, index, example)),
        ]
    return tuple(found)


@cache
def actors() -> tuple[Variant, ...]:
    documents = pasture_actor_documents()
    if not documents:
        return ()
    found = [Variant(f"pasture/actor/{name}", "actor", doc) for name, doc in documents]
    _, base = documents[0]
    for table, index, example in pasture_examples():
        document = {**copy.deepcopy(base), **copy.deepcopy(example)}
        found.append(Variant(f"pasture/{table}/{index}/actor", "actor", document))
    return tuple(found)


def wrap_create(variant: Variant) -> dict[str, Any]:
    """A Create of the object by its (pasture) sender, as pasture's ``send`` builds it."""
    obj = variant.document
    context: Any = obj.get("@context") or [
        "https://www.w3.org/ns/activitystreams",
        {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"},
    ]
    return {
        "@context": context,
        "id": f"{PASTURE_ACTOR}/activities/{variant.name.replace('/', '-')}",
        "type": "Create",
        "actor": PASTURE_ACTOR,
        "to": obj.get("to") if isinstance(obj.get("to"), list) else [PUBLIC],
        "object": obj,
    }


def funfedi_profile() -> dict[str, Any]:
    return {"type": "Person", "id": FUNFEDI_ACTOR, "summary": "this is a stub"}


@cache
def funfedi_activities() -> tuple[Variant, ...]:
    """Every case of every funfedi suite, built for our test network."""
    try:
        import funfedi_parsing_test_cases as funfedi
        from funfedi_parsing_test_cases import Environment
    except ImportError as exc:
        MISSING["funfedi-parsing-test-cases"] = (
            f"funfedi-parsing-test-cases is not installed ({exc})"
        )
        return ()
    environment = Environment(sending_actor_profile=funfedi_profile(), receiving_actor=RECIPIENT)
    suites = [funfedi.activity_suite, funfedi.event_suite, funfedi.notes_suite, funfedi.poll_suite]
    found = []
    for suite in suites:
        for short_name, cases in suite.tests.items():
            for case in cases:
                activity, _ = case.maker.activity_and_object(environment)
                name = f"funfedi/{short_name}/{case.name}"
                found.append(Variant(name, "activity", activity))
    return tuple(found)


@cache
def activities() -> tuple[Variant, ...]:
    created = [Variant(f"{v.name}/create", "activity", wrap_create(v)) for v in objects()]
    return (*created, *funfedi_activities())


def embedded_objects(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects embedded in an activity, an Announce(Create(Note)) included."""
    found = []
    value: Any = activity.get("object")
    while isinstance(value, dict) and len(found) < 10:
        found.append(value)
        value = value.get("object")
    return found


def missing_reason(*packages: str) -> str | None:
    """Why a corpus is empty, naming the package (None when it is there)."""
    pasture_examples()
    funfedi_activities()
    reasons = [MISSING[p] for p in packages if p in MISSING]
    return "; ".join(reasons) if reasons else None
