"""Fan-out: one listing to 1,000 followers spread over 100 servers.

How it runs, all on 127.0.0.1:

1. **Sender.** ``entraide init`` and a structure through the real CLI; then,
   in the sender's database, 1,000 remote actors on 100 "servers" (10 each,
   every server with its shared inbox) that follow the territory — the shape
   a node has when peered territories and fediverse users follow it.
2. **Servers.** A tiny ASGI app under Hypercorn on 100 ports of 127.0.0.1
   (one port = one server) answers 202 and notes, per port, when the
   ``Create`` of the listing arrived.
3. **Publication.** ``POST /api/v1/listings`` on the running ``entraide
   serve``; the figure is the time from the API's 201 until all 100 servers
   have the ``Create`` (shared inboxes: one POST per server, not per follower),
   and until they have the territory's ``Announce`` too.

``python bench/fanout.py [--quick]`` (the same size either way: it is quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, Row, cli, format_row, free_port, http_body, init_node, serving

SERVERS = 100
PER_SERVER = 10


class Servers:
    """Counts, per port, when each kind of activity first arrived."""

    def __init__(self) -> None:
        self.created: dict[int, float] = {}
        self.announced: dict[int, float] = {}
        self.posts = 0
        self.done = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await http_body(scope, receive, send)
        if body is None:
            return
        if scope["method"] == "POST":
            self.posts += 1
            port = scope["server"][1]
            kind = json.loads(body).get("type")
            book = self.created if kind == "Create" else self.announced
            book.setdefault(port, time.time())
            if len(self.created) == SERVERS and len(self.announced) == SERVERS:
                self.done.set()
        await send(
            {"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})


def add_followers(db_path: Path, ports: list[int]) -> None:
    """1,000 remote actors on the 100 servers, following the territory (accepted)."""
    now = "2026-01-01 00:00:00"
    with sqlite3.connect(db_path) as db:
        territory = db.execute("SELECT id FROM actors WHERE is_territory AND local").fetchone()[0]
        for port in ports:
            base = f"http://{HOST}:{port}"
            for j in range(PER_SERVER):
                cursor = db.execute(
                    "INSERT INTO actors (uri, local, type, handle, domain, name, summary,"
                    " inbox_url, shared_inbox_url, manually_approves, is_territory, moderation,"
                    " created_at, updated_at, fetched_at)"
                    " VALUES (?, 0, 'Person', ?, ?, '', '', ?, ?, 0, 0, '', ?, ?, ?)",
                    (
                        f"{base}/users/u{j}",
                        f"u{j}",
                        f"{HOST}:{port}",
                        f"{base}/users/u{j}/inbox",
                        f"{base}/inbox",
                        now,
                        now,
                        now,
                    ),
                )
                db.execute(
                    "INSERT INTO follows (follower_id, followed_id, state, activity_uri,"
                    " created_at, updated_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
                    (cursor.lastrowid, territory, f"{base}/follows/{j}", now, now),
                )


async def publish_and_wait(
    base_url: str, token: str, servers: Servers, ports: list[int]
) -> tuple[float, float]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{HOST}:{port}" for port in ports]
    config.accesslog = None
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(servers, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{base_url}/api/v1/listings",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "structure": "ferme",
                    "kind": "offer",
                    "title": "Broyeur de végétaux",
                    "description": "À prêter le week-end.",
                    "category": "equipment",
                    "modality": "lend",
                },
            )
            response.raise_for_status()
        published = time.time()
        await asyncio.wait_for(servers.done.wait(), 120)
        return max(servers.created.values()) - published, max(
            servers.announced.values()
        ) - published
    finally:
        stop.set()
        await task


def run(quick: bool) -> list[Row]:
    del quick  # one size: it is already quick
    ports: list[int] = []
    while len(ports) < SERVERS:  # distinct: a port freed by the probe may come back
        port = free_port()
        if port not in ports:
            ports.append(port)
    with tempfile.TemporaryDirectory(prefix="entraide-bench-fanout-") as tmp:
        data_dir = Path(tmp) / "sender"
        port = free_port()
        init_node(data_dir, port, "Émetteur")
        cli(data_dir, "user", "create", "--email", "f@bench.test", "--password", "long password 1")
        cli(
            data_dir,
            "structure",
            "create",
            "--handle",
            "ferme",
            "--name",
            "Ferme",
            "--owner",
            "f@bench.test",
        )
        token = cli(data_dir, "token", "create", "--email", "f@bench.test").strip()
        add_followers(data_dir / "entraide.db", ports)
        servers = Servers()
        with serving(data_dir, port, env={"ENTRAIDE_WORKERS__POLL_INTERVAL": "0.2"}) as sender:
            created, announced = asyncio.run(
                publish_and_wait(sender.base_url, token, servers, ports)
            )
    shape = f"{SERVERS * PER_SERVER} followers on {SERVERS} servers, one process"
    return [
        ("fanout_create_all_servers", created, "s", shape),
        ("fanout_announce_all_servers", announced, "s", "the territory's Announce too"),
        ("fanout_posts", float(servers.posts), "POSTs", f"expected {2 * SERVERS}: shared inboxes"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(args.quick):
        print(format_row(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
