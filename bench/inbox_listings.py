"""The inbox benchmark's bursts of listings: FEP-0837 proposals from a followed actor.

A public ``Note`` from nobody followed is the cheapest thing an inbox meets (it is
stored, then ignored). A listing from an actor a local structure follows is the
dearest common one: stored, parsed, indexed for search and queued for matching,
which the worker then runs. :mod:`bench.inbox` measures both in one run; this
module holds the listing's payload and what the benchmark reads of the node's
SQLite database (the node writes it in WAL mode, so another process may read
it, and add the follow that makes the actor's listings welcome).

The node holds :data:`COUNTERPARTS` open listings of its own that answer the
burst's (same words, the other kind, nearby), so matching finds and stores pairs.
The burst is sent twice, with new ids each time: first **without matching** — a
trigger the benchmark adds to the node's database drops each matching job as it
is queued (``RAISE(IGNORE)``), so the worker finds nothing to do: the node then
stores, indexes and queues exactly as it does with matching — then, the trigger
dropped, **with matching**, as a node runs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import hammer

CONNECTIONS = 32


def pool_of(requests: list[bytes]) -> Callable[[], bytes | None]:
    it = iter(requests)
    return lambda: next(it, None)


COUNTERPARTS = 200  # the node's own listings that the burst's listings answer


@dataclass
class Burst:
    """One burst of listings: the node's CPU (ms) until every one is processed (and
    matched), the answers and the rate they were accepted at."""

    cpu_ms: float = 0.0
    accepted: int = 0
    accept_rate: float = 0.0  # 202 answers a second over the sending window
    seconds: float = 0.0  # from the first request until processed and matched
    left: tuple[int, int, int] = (0, 0, 0)  # stored, unprocessed, match jobs

    @property
    def per_listing(self) -> float:
        return self.cpu_ms / max(1, self.accepted)


@dataclass
class Costs:
    """The node's CPU (ms, from ``/proc``) over each phase, and what the database kept."""

    trivial_ms: float = 0.0
    accept_ms: float = 0.0  # during the accept window
    drain_ms: float = 0.0  # after it, until every stored activity is processed
    drain_seconds: float = 0.0
    stored: int = 0  # rows of the load's activities in inbox_items
    unprocessed: int = 0  # of them, still pending when the drain gave up
    without_matching: Burst = field(default_factory=Burst)
    with_matching: Burst = field(default_factory=Burst)


async def bursts(
    actor: Any, node_port: int, listings: list[bytes], cpu: Callable[[], float],
    database: Path, costs: Costs,
) -> None:  # fmt: skip
    """The burst of listings from the actor, now followed, without then with matching
    (each half of ``listings``)."""
    follow(database, actor.uri)
    add_counterparts(database)
    half = len(listings) // 2
    hold_matching(database, True)
    try:
        await burst(node_port, listings[:half], cpu, database, actor.base, costs.without_matching)
    finally:
        hold_matching(database, False)
    await burst(node_port, listings[half:], cpu, database, actor.base, costs.with_matching)


async def burst(
    node_port: int, listings: list[bytes], cpu: Callable[[], float], database: Path,
    base: str, result: Burst,
) -> None:  # fmt: skip
    """Every listing sent, then the node's CPU until each is processed and matched."""
    before = cpu()
    began = time.monotonic()
    run = await hammer(node_port, pool_of(listings), connections=CONNECTIONS, duration=120)
    result.accepted = run.statuses[202]
    result.accept_rate = run.rate(202)
    deadline = time.monotonic() + 300  # a loaded machine takes minutes at full size
    while time.monotonic() < deadline:
        result.left = listing_progress(database, base)
        if not result.left[1] and not result.left[2]:
            break
        await asyncio.sleep(0.05)
    result.cpu_ms = cpu() - before
    result.seconds = time.monotonic() - began


def hold_matching(database: Path, on: bool) -> None:
    """Drop every matching job as it is queued (``on``), or stop doing so."""
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        if on:
            db.execute(
                "CREATE TRIGGER bench_no_matching BEFORE INSERT ON match_jobs "
                "BEGIN SELECT RAISE(IGNORE); END"
            )
        else:
            db.execute("DROP TRIGGER IF EXISTS bench_no_matching")


def add_counterparts(database: Path) -> None:
    """The node's own open listings that answer the burst's: each thing of
    :data:`THINGS` asked for when the burst offers it and the reverse, near Mende, of
    the territory actor (no structure, so nobody is notified)."""
    from domain.textsearch import fold, stem_text

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        (author,) = db.execute("SELECT id FROM actors WHERE local AND is_territory").fetchone()
        rows = []
        for i in range(COUNTERPARTS):
            purpose, title, text = THINGS[i % len(THINGS)]
            kind = "need" if purpose == "offer" else "offer"
            rows.append(
                (
                    f"http://counterparts.invalid/{i}", "counterparts.invalid", author, kind,
                    f"{title} ({i})", text, 44.52 + (i % 40) / 1000, 3.51, now, now,
                    fold(title), fold(text), stem_text(title), stem_text(text),
                )
            )  # fmt: skip
        db.executemany(
            "INSERT INTO listings (ap_id, url, local, origin, author_id, kind, title, "
            "description, category, modality, unit, price_currency, commune, lat, lon, "
            "placed, status, hidden, published_at, updated_at, fold_title, fold_body, "
            "stem_title, stem_body) VALUES (?, '', 1, ?, ?, ?, ?, ?, 'other', 'give', '', '', "
            "'', ?, ?, 'given', 'open', 0, ?, ?, ?, ?, ?, ?)",
            rows,
        )


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
