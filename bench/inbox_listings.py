"""The inbox benchmark's burst of listings: FEP-0837 proposals from a followed actor.

A public ``Note`` from nobody followed is the cheapest thing an inbox meets (it is
stored, then ignored). A listing from an actor a local structure follows is the
dearest common one: stored, parsed, indexed for search and queued for matching,
which the worker then runs. :mod:`bench.inbox` measures both in one run; this
module holds the listing's payload and what the benchmark reads of the node's
SQLite database (the node writes it in WAL mode, so another process may read
it, and add the follow that makes the actor's listings welcome).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import hammer

CONNECTIONS = 32


def pool_of(requests: list[bytes]) -> Callable[[], bytes | None]:
    it = iter(requests)
    return lambda: next(it, None)


@dataclass
class Costs:
    """The node's CPU (ms, from ``/proc``) over each phase, and what the database kept."""

    trivial_ms: float = 0.0
    accept_ms: float = 0.0  # during the accept window
    drain_ms: float = 0.0  # after it, until every stored activity is processed
    drain_seconds: float = 0.0
    stored: int = 0  # rows of the load's activities in inbox_items
    unprocessed: int = 0  # of them, still pending when the drain gave up
    burst_ms: float = 0.0  # the burst of listings, until processed and matched
    burst_accepted: int = 0
    burst_seconds: float = 0.0
    burst_left: tuple[int, int, int] = (0, 0, 0)  # stored, unprocessed, match jobs


async def burst(
    actor: Any, node_port: int, listings: list[bytes], cpu: Callable[[], float],
    database: Path, costs: Costs,
) -> None:  # fmt: skip
    """The burst of listings from the actor, now followed: every one sent, then the
    node's CPU until each is processed and matched."""
    follow(database, actor.uri)
    before = cpu()
    began = time.monotonic()
    run = await hammer(node_port, pool_of(listings), connections=CONNECTIONS, duration=120)
    costs.burst_accepted = run.statuses[202]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        costs.burst_left = listing_progress(database, actor.base)
        if not costs.burst_left[1] and not costs.burst_left[2]:
            break
        await asyncio.sleep(0.05)
    costs.burst_ms = cpu() - before
    costs.burst_seconds = time.monotonic() - began


PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    {
        "vf": "https://w3id.org/valueflows/ont/vf#",
        "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
        "Proposal": "vf:Proposal",
        "Intent": "vf:Intent",
        "purpose": "vf:purpose",
        "publishes": "vf:publishes",
        "action": "vf:action",
        "resourceQuantity": "vf:resourceQuantity",
        "hasUnit": "om2:hasUnit",
        "hasNumericalValue": "om2:hasNumericalValue",
    },
]
THINGS = [
    ("offer", "Remorque plateau à prêter", "Remorque 750 kg, plateau 2 m, prêt le week-end."),
    ("request", "Cherche remorque pour déménagement", "Besoin d'une remorque deux jours."),
    ("offer", "Salle de réunion disponible", "Salle de 20 places, vidéoprojecteur, le mardi."),
    ("request", "Cherche palettes en bois", "Une trentaine de palettes pour un chantier."),
    ("offer", "Chariot élévateur", "Chariot 2 t avec cariste, quelques heures par mois."),
]


def proposal_create(base: str, actor: str, i: int) -> dict[str, Any]:
    """A ``Create`` of a listing (FEP-0837 fields on a ``Note``), placed near Mende."""
    purpose, title, text = THINGS[i % len(THINGS)]
    uri = f"{base}/proposals/{i}"
    return {
        "@context": CONTEXT,
        "id": f"{base}/listing-activities/{i}",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "cc": [f"{base}/followers"],
        "object": {
            "id": uri,
            "type": "Note",
            "attributedTo": actor,
            "url": uri,
            "name": f"{title} ({i})",
            "content": f"<p>{text}</p>",
            "purpose": purpose,
            "published": datetime.now(UTC).isoformat(),
            "to": [PUBLIC],
            "cc": [f"{base}/followers"],
            "location": {"type": "Place", "latitude": 44.52 + (i % 50) / 1000, "longitude": 3.5},
            "publishes": {
                "type": "Intent",
                "id": f"{uri}#primary",
                "action": "transfer",
                "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "1"},
            },
        },
    }


def follow(database: Path, actor_uri: str) -> None:
    """Make the node's territory actor follow ``actor_uri`` (known to the node by now)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        (follower,) = db.execute("SELECT id FROM actors WHERE local AND is_territory").fetchone()
        (followed,) = db.execute("SELECT id FROM actors WHERE uri = ?", (actor_uri,)).fetchone()
        db.execute(
            "INSERT INTO follows (follower_id, followed_id, state, created_at, updated_at) "
            "VALUES (?, ?, 'accepted', ?, ?)",
            (follower, followed, now, now),
        )


def listing_progress(database: Path, base: str) -> tuple[int, int, int]:
    """(activities of the burst stored, of them not processed yet, matching jobs left)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        stored, unprocessed = db.execute(
            "SELECT count(*), sum(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END) "
            "FROM inbox_items WHERE activity_uri LIKE ?",
            (f"{base}/listing-activities/%",),
        ).fetchone()
        (jobs,) = db.execute("SELECT count(*) FROM match_jobs").fetchone()
    return int(stored), int(unprocessed or 0), int(jobs)


def listings_stored(database: Path, base: str) -> int:
    """How many of the burst's listings the node holds."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM listings WHERE ap_id LIKE ?", (f"{base}/proposals/%",)
        ).fetchone()
    return int(count)
