"""Hostile input from public corpora: every variant read, then delivered to a real node.

The corpora (``tests/corpus/inputs.py``: ``fediverse-pasture-inputs`` and
``funfedi-parsing-test-cases``) hold the payload variants that fediverse
software meets: HTML of every kind, attachments, URLs as strings, objects and
lists, ``null`` ids and types, activities without actor, lists where a string
is expected, every ``@context`` and addressing shape.

Reading: objects go through ``listing_from_ap``, activities through
``Incoming.parse`` and ``parse_activity`` (the inbox's body parser), actors
through ``parse_actor``. Each is understood (and then fits the model:
``tests/corpus/bounds.py``) or refused with a ``FederationError`` — never another
exception. An ordinary post (pasture's Note) is never taken for a listing.

Delivering: every activity is signed by a ``FakeActor`` on its sender's host
(pasture's test actors are served in the shape ``fediverse-pasture`` gives
them) and POSTed to ``a.test``'s shared inbox in the in-process network; the
inbox answers 202 or a 4xx, never a 5xx. A local structure follows both
senders, then the network settles (retries made due at once, as the clock
would): no exception escapes the processor, every stored item ends ``done``,
``ignored`` or ``failed`` with a reason, exactly one item per accepted
activity, and every listing or direct message processed ``done`` exists once.
The counts per outcome are printed (``pytest -s``).
"""

from __future__ import annotations

import json
from collections import Counter

from federation.actor_doc import parse_actor
from federation.errors import FederationError
from federation.payload import parse_activity
from inbox.activity import Incoming
from inbox.from_ap import listing_from_ap
from tests.corpus import inputs
from tests.corpus.bounds import actor_problems, listing_problems
from tests.corpus.pasture_inputs_support import corpus


def outcome(error: Exception) -> str:
    return f"refused ({type(error).__name__})"


# ------------------------------------------------------------------ reading


def test_objects_are_listings_that_fit_or_clean_refusals() -> None:
    """listing_from_ap over every object: a listing within the model's bounds, not a
    listing (None), or a FederationError. Pasture's notes and direct messages are
    never listings; each example merged into a listing is a listing unless it changes
    the type, or makes the id or attributedTo something else than a string."""
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    for variant in corpus("object"):
        family = variant.name.rsplit("/", 1)[1]
        try:
            data = listing_from_ap(variant.document)
        except FederationError as exc:
            counts[f"{family}: {outcome(exc)}"] += 1
            # Only a listing without a plain id and author may be refused: attributedTo as
            # a list (pasture's attributed_to table; Mastodon takes a one-element list)
            # is refused as a listing, cleanly.
            plain = all(isinstance(variant.document.get(k), str) for k in ("id", "attributedTo"))
            if plain or family != "listing":
                wrong.append(f"{variant.name}: refused ({exc})")
            continue
        if data is None:
            counts[f"{family}: not a listing"] += 1
            kind = variant.document.get("type")
            kinds = kind if isinstance(kind, list) else [kind]
            if family == "listing" and {"Note", "Article", "Page", "Proposal"} & set(kinds):
                wrong.append(f"{variant.name}: a listing not read as one")
            continue
        counts[f"{family}: listing"] += 1
        if family != "listing":
            wrong.append(f"{variant.name}: an ordinary post taken for a listing")
        wrong += [f"{variant.name}: {problem}" for problem in listing_problems(data)]
    print(f"\nlisting_from_ap over {sum(counts.values())} objects: {dict(sorted(counts.items()))}")
    assert not wrong, wrong
    assert counts["listing: listing"] >= 200


def test_activities_parse_or_are_refused_cleanly() -> None:
    """parse_activity (the inbox's body parser) and Incoming.parse (the processor's) over
    every activity: a dict and an Incoming with string id, type and actor, or a
    FederationError."""
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    for variant in corpus("activity"):
        body = json.dumps(variant.document).encode()
        try:
            parse_activity(body, "application/activity+json", None)
            incoming = Incoming.parse(body.decode())
        except FederationError as exc:
            counts[outcome(exc)] += 1
            continue
        counts["understood"] += 1
        if not all(isinstance(v, str) and v for v in (incoming.id, incoming.type, incoming.actor)):
            wrong.append(f"{variant.name}: {incoming!r}")
        for obj in inputs.embedded_objects(variant.document):
            try:
                data = listing_from_ap(obj)
            except FederationError:
                continue
            if data is not None:
                wrong += [f"{variant.name}: {problem}" for problem in listing_problems(data)]
    print(f"\nIncoming.parse over {sum(counts.values())} activities: {dict(counts)}")
    assert not wrong, wrong
    assert counts["understood"] > 800


def test_actors_parse_within_bounds_or_are_refused_cleanly() -> None:
    """parse_actor over pasture's actors and every example merged into an actor: a
    ParsedActor whose inbox and keys are on its own host, or a FederationError. Each
    of pasture's own test actors (with and without a WebFinger name) is understood."""
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    for variant in corpus("actor"):
        try:
            parsed = parse_actor(variant.document)
        except FederationError as exc:
            counts[outcome(exc)] += 1
            if variant.name.startswith("pasture/actor/"):
                wrong.append(f"{variant.name}: refused ({exc})")
            continue
        counts["understood"] += 1
        wrong += [f"{variant.name}: {problem}" for problem in actor_problems(parsed)]
        if variant.name.startswith("pasture/actor/") and len(parsed.keys) != 1:
            wrong.append(f"{variant.name}: keys {parsed.keys!r}")
    print(f"\nparse_actor over {sum(counts.values())} actors: {dict(counts)}")
    assert not wrong, wrong
    assert counts["understood"] >= 200  # examples that make the type "Article"… are refused
