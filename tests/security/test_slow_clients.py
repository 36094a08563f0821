"""Slow clients and server logs, against a real ``entraide serve`` process on 127.0.0.1.

Slowloris-style attacks live below the app, in Hypercorn and in Quart's body
reading, so they are proven on the real server with raw sockets. The body
deadline is Quart's ``BODY_TIMEOUT``, which ``instance.app`` sets from
``federation.total_timeout`` (30 s by default, instead of Quart's 60); this
node sets it to :data:`DEADLINE` so the proof is quick. Hypercorn closes a
connection whose request line and headers are not complete after its
``keep_alive_timeout`` (5 s).

The node logs at DEBUG, so the same process proves that API tokens never reach
its log.
"""

from __future__ import annotations

import socket
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import tomli_w

from tests.e2e.harness import Cluster, Node

pytestmark = pytest.mark.e2e

DEADLINE = 2.0  # federation.total_timeout of the node under test, hence its BODY_TIMEOUT
HEADER_DEADLINE = 5.0  # Hypercorn's keep_alive_timeout
SLACK = 2.5  # a loaded machine answers late, never early
TRICKLE_FOR = 60.0  # how long the attacker is willing to go on


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One real node: ``total_timeout`` = :data:`DEADLINE`, log level DEBUG, a publisher."""
    with Cluster(tmp_path_factory.mktemp("slow")) as cluster:
        node = cluster.add("slow")
        node.init()
        config_path = node.data_dir / "entraide.toml"
        config = tomllib.loads(config_path.read_text())
        config.setdefault("federation", {})["total_timeout"] = DEADLINE
        config.setdefault("log", {})["level"] = "DEBUG"
        config_path.write_text(tomli_w.dumps(config))
        node.launch()
        node.add_publisher()
        node.wait_ready()
        yield node


def trickle(node: Node, head: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send ``head`` at once, then ``drip`` one byte a second, until the server answers or
    closes (or :data:`TRICKLE_FOR` passes). Returns (seconds after ``head``, answer)."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    try:
        sock.sendall(head)
        started = time.monotonic()
        answer = b""
        for byte in drip:
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
            next_byte = time.monotonic() + 1.0
            while (left := next_byte - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break
                except OSError:
                    return time.monotonic() - started, answer
                if not data:
                    return time.monotonic() - started, answer
                answer += data
            if time.monotonic() - started > TRICKLE_FOR:
                break
        return time.monotonic() - started, answer
    finally:
        sock.close()


def request_head(node: Node, method: str, path: str, content_type: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {node.domain}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


DOORS = [
    ("/inbox", "application/activity+json"),
    ("/actors/territory/inbox", "application/activity+json"),
    ("/login", "application/x-www-form-urlencoded"),
    ("/api/v1/listings", "application/json"),
]


def test_body_trickled_for_60_s_is_cut_at_the_deadline(server: Node) -> None:
    """Attack: send a request's headers at once, then its body one byte a second for a
    minute (per connection, a worker of a threaded server; here, memory and a file
    descriptor each), at the inbox, a form and the API. Each is cut at the body deadline
    with 408 and the connection is closed, and the server answers others meanwhile."""
    body = b"{" + b" " * 999
    with ThreadPoolExecutor(max_workers=len(DOORS)) as pool:
        running = [
            pool.submit(trickle, server, request_head(server, "POST", path, kind, 1000), body)
            for path, kind in DOORS
        ]
        time.sleep(1.0)
        healthy = time.monotonic()
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - healthy < 1.0
        outcomes = [future.result() for future in running]
    for (path, _), (elapsed, answer) in zip(DOORS, outcomes, strict=True):
        assert answer.startswith(b"HTTP/1.1 408"), (path, answer[:200])
        assert DEADLINE - 0.5 <= elapsed <= DEADLINE + SLACK, (path, elapsed)


def test_headers_trickled_are_cut_by_the_server(server: Node) -> None:
    """Attack: the original slowloris — a request line, then headers one byte a second,
    never finishing them. Hypercorn closes the connection after its keep-alive timeout
    (5 s), without an answer."""
    head = f"POST /inbox HTTP/1.1\r\nHost: {server.domain}\r\n".encode()
    elapsed, answer = trickle(server, head, b"X-Slow: " + b"a" * 100)
    assert answer == b""
    assert HEADER_DEADLINE - 0.5 <= elapsed <= HEADER_DEADLINE + SLACK, elapsed


def test_api_token_is_never_written_to_the_server_log(server: Node) -> None:
    """Attack: read the server's log (shipped, kept, readable by operators) for tokens.
    The process runs with ``log.level = "DEBUG"``, the most verbose setting; after calls
    with the token that succeed, fail validation, are not found, and one with a wrong
    token, neither the token nor the ``Authorization`` header is in the log. (In process,
    ``test_accounts.py`` proves the same with every logger at DEBUG, SQL included.)"""
    assert server.token
    created = server.create_listing()
    statuses = [
        server.api("GET", "instance").status_code,
        server.api("GET", f"listings/{created['id']}").status_code,
        server.api("POST", "listings", json={"structure": server.structure}).status_code,
        server.api("GET", "listings/999999").status_code,
        server.client.get(
            "/api/v1/listings", headers={"Authorization": "Bearer ent_" + "B" * 43}
        ).status_code,
    ]
    assert statuses == [200, 200, 422, 404, 401]
    time.sleep(0.5)  # the log is written by another process
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Running on" in log, "the server's log is not where we read it: the proof is void"
    for secret in (server.token, server.token[10:], "ent_" + "B" * 43, "Bearer ", "Authorization"):
        assert secret not in log, secret
