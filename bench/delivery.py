"""Delivery benchmark: signed deliveries per second from one ``entraide serve``, set
against this machine's RSA-2048 signing rate per core.

Every delivery is one POST signed with the sending actor's RSA-2048 key
(draft-cavage, as Mastodon expects), so signing bounds what one process can
send; the ratio of the two figures says how close the queue comes to that.

How it runs, all on 127.0.0.1:

1. **Signing rate.** ``cryptography`` signs a 200-byte message with an
   RSA-2048 key (PKCS#1 v1.5, SHA-256: what ``HttpSignatureAuth`` does per
   POST) in a loop for about one second, on one thread: signatures per second
   per core, measured in the same run, before any server starts.
2. **Sender.** ``entraide init`` then ``entraide serve`` on SQLite (the real
   console script; rate limits off, delivery settings at their defaults: 32
   POSTs in flight, at most 4 per host).
3. **Receiver.** ``bench/receiver.py``: a bare HTTP/1.1 keep-alive server on
   ``asyncio`` protocols, in a child process of its own, listening on 16 ports of
   127.0.0.1 — 16 "servers" for the sender's per-host limit. It answers 202 to
   every POST without checking anything, and counts POSTs by activity id and
   inbox path, so a duplicate or a missing delivery shows; its own CPU per POST
   is printed too (``delivery_receiver_cpu_per_post``).
4. **Queue.** Once the sender serves, this process opens the sender's SQLite
   file and, in one transaction, adds 10 ``Create(Note)`` activities by the
   territory actor (about 1 KB each) and queues each for N/10 follower inboxes
   spread over the receiver's ports with the project's own
   ``federation.delivery.enqueue``: exactly the rows a publication to N remote
   followers on 16 servers leaves (the simplest honest path: no need to make
   N remote actors follow first). The server sees them at its next poll
   (0.2 s), then claims, signs and POSTs them.
5. **Rate** = N / (time of the last POST received - time of the commit).

``python bench/delivery.py [--quick]`` (N = 400 quick, 10,000 full);
``bench/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, Row, format_row, free_port, init_node, serving
from bench.receiver import PORTS, Counts, ReceiverProcess

ACTIVITIES = 10
QUICK_N = 400
FULL_N = 10_000
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def rsa_sign_rate(seconds: float = 1.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures of a 200-byte message per second, one core."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = bytes(range(200))
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 20
    return count / elapsed


def note_activity(base: str, actor_uri: str, i: int) -> dict[str, Any]:
    """A Create(Note) of about 1 KB, as the territory would publish it."""
    note = f"{base}/bench/notes/{i}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": f"{base}/bench/activities/{i}",
        "type": "Create",
        "actor": actor_uri,
        "published": "2026-01-01T00:00:00Z",
        "to": [PUBLIC],
        "cc": [f"{actor_uri}/followers"],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": actor_uri,
            "url": note,
            "published": "2026-01-01T00:00:00Z",
            "to": [PUBLIC],
            "cc": [f"{actor_uri}/followers"],
            "content": "<p>"
            + "Prêt de matériel entre structures du territoire : bétonnière, échafaudage, "
            "remorque, perceuse à colonne. " * 6 + "</p>",
        },
    }


def database_url(data_dir: Path) -> str:
    """The node's database URL, as its settings say."""
    from config.settings import load_settings

    return load_settings(data_dir, environ={}).database_url


async def enqueue_deliveries(
    data_dir: Path, base: str, inbox_ports: list[int], n: int, *, first: int = 0
) -> None:
    """Queue ``n`` deliveries (``ACTIVITIES`` activities x n/ACTIVITIES inboxes) in one
    transaction, with the project's own ``federation.delivery.enqueue``."""
    from sqlalchemy import select

    from config.database import Database
    from federation.delivery import enqueue
    from federation.models import Activity, Actor

    db = Database(database_url(data_dir))
    try:
        async with db.session() as session:
            actor = (
                await session.execute(
                    select(Actor).where(Actor.is_territory.is_(True), Actor.local.is_(True))
                )
            ).scalar_one()
            per_activity = n // ACTIVITIES
            for i in range(ACTIVITIES):
                body = note_activity(base, actor.uri, first + i)
                activity = Activity(
                    uri=body["id"],
                    actor_id=actor.id,
                    type="Create",
                    object_uri=body["object"]["id"],
                    body=body,
                    public=True,
                )
                session.add(activity)
                inboxes = [
                    f"http://{HOST}:{inbox_ports[j % len(inbox_ports)]}/users/f{j}/inbox"
                    for j in range(per_activity)
                ]
                await enqueue(session, activity, inboxes, own_domain=base.split("://", 1)[1])
    finally:
        await db.dispose()


async def delivery_states(data_dir: Path) -> dict[str, int]:
    from sqlalchemy import func, select

    from config.database import Database
    from federation.models import Delivery

    db = Database(database_url(data_dir))
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Delivery.state, func.count()).group_by(Delivery.state)
            )
            return {state: int(count) for state, count in rows.all()}
    finally:
        await db.dispose()


async def measure(data_dir: Path, base: str, n: int, timeout: float) -> tuple[float, Counts, float]:
    """Run the receiver (a child process), queue ``n`` deliveries, wait for them; returns
    (seconds from the commit to the last POST, the receiver's counts, its CPU in ms)."""
    with ReceiverProcess(PORTS) as receiver:
        cpu_before = receiver.cpu_ms()
        await enqueue_deliveries(data_dir, base, receiver.ports, n)
        committed = time.time()
        await receiver.wait_async(n, timeout)
        cpu = receiver.cpu_ms() - cpu_before
        await asyncio.sleep(0.5)  # anything sent twice would arrive now
        counts = receiver.counts()
        return counts.last - committed, counts, cpu


def run(quick: bool) -> list[Row]:
    """Rows ``(name, value, unit, bound)``."""
    n = QUICK_N if quick else FULL_N
    sign_rate = rsa_sign_rate(1.0)
    with tempfile.TemporaryDirectory(prefix="entraide-bench-delivery-") as tmp:
        data_dir = Path(tmp) / "sender"
        port = free_port()
        began = time.monotonic()
        init_node(data_dir, port, "Expéditeur")
        initialised = time.monotonic()
        with serving(data_dir, port) as sender:
            ready = time.monotonic()
            cpu_before = sender.cpu_seconds()
            seconds, received, receiver_cpu = asyncio.run(
                measure(data_dir, sender.base_url, n, timeout=60 if quick else 600)
            )
            cpu = sender.cpu_seconds() - cpu_before
            rss = sender.rss_mb()
        states = asyncio.run(delivery_states(data_dir))
    print(
        f"delivery: init {initialised - began:.1f} s, serve ready {ready - initialised:.1f} s, "
        f"{n} delivered in {seconds:.1f} s",
        file=sys.stderr,
    )
    rate = n / seconds
    problems = []
    if received.duplicates:
        problems.append(f"{received.duplicates} duplicates")
    if received.unique != n:
        problems.append(f"{received.unique} distinct deliveries received of {n}")
    if states.get("done", 0) != n:
        problems.append(f"queue states {states}")
    if problems:
        print(f"delivery: {'; '.join(problems)}", file=sys.stderr)
    shape = f"{n} POSTs: {ACTIVITIES} activities x {n // ACTIVITIES} inboxes on {PORTS} hosts"
    return [
        (
            "delivery_rate",
            rate,
            "deliveries/s",
            f"target >= 1000; {shape}; one process, 32 in flight, 4 per host",
        ),
        (
            "delivery_cpu_per_post",
            1000 * cpu / n,
            "ms",
            "sender CPU per delivery; a busy machine does not inflate it",
        ),
        (
            "delivery_receiver_cpu_per_post",
            receiver_cpu / n,
            "ms",
            "the benchmark's receiver (a child process), from /proc: small next to the sender",
        ),
        ("rsa2048_sign_rate", sign_rate, "signatures/s", "one core, 200-byte message"),
        ("delivery_over_rsa_sign", rate / sign_rate, "x", "ceiling 1: one RSA signature per POST"),
        ("delivery_duplicates", float(received.duplicates), "POSTs", "expected 0"),
        ("delivery_sender_rss", rss, "MB", "target <= 300 MB loaded; after the run"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N} deliveries")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
