"""The delivery benchmarks' receiver (``bench/receiver.py``) reads HTTP/1.1 as a sender
writes it: a request split over several reads, several requests in one read, keep-alive.

Its counts are what ``bench/delivery.py``, ``bench/workers.py`` and
``test_scale_out.py`` conclude from (every delivery arrived, none twice), so a request
it misread would make those figures lie.
"""

from __future__ import annotations

import asyncio
import json
import socket

from bench.receiver import ACCEPTED, BAD, Inbox, ReceiverProcess, Tally


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True


def _post(path: str, activity_id: str, *, extra: str = "") -> bytes:
    body = json.dumps({"id": activity_id, "type": "Create", "content": "é" * 300}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: {len(body)}\r\n"
        f"Content-Type: application/activity+json\r\n{extra}\r\n"
    )
    return head.encode() + body


def _connection() -> tuple[Tally, Inbox, Transport]:
    tally, transport = Tally(), Transport()
    inbox = Inbox(tally)
    inbox.connection_made(transport)
    return tally, inbox, transport


def test_requests_split_anywhere_and_pipelined_are_each_counted_once() -> None:
    sent = [("/users/a/inbox", "https://x/1"), ("/users/b/inbox", "https://x/1")]
    sent += [("/users/a/inbox", "https://x/2"), ("/users/a/inbox", "https://x/1")]
    stream = b"".join(_post(path, activity) for path, activity in sent)
    for size in (1, 7, 100, len(stream)):  # byte by byte, ..., all four in one read
        tally, inbox, transport = _connection()
        for start in range(0, len(stream), size):
            inbox.data_received(stream[start : start + size])
        assert transport.written == ACCEPTED * 4
        assert not transport.closed
        counts = tally.counts()
        assert (counts.received, counts.unique, counts.duplicates) == (4, 3, 1)


def test_connection_close_a_get_and_an_unreadable_request() -> None:
    tally, inbox, transport = _connection()
    inbox.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    inbox.data_received(_post("/i", "https://x/1", extra="Connection: close\r\n"))
    assert transport.written.startswith(b"HTTP/1.1 405 ")
    assert transport.written.endswith(b"Connection: close\r\n\r\n")
    assert transport.closed and tally.received == 1

    tally, inbox, transport = _connection()
    inbox.data_received(b"POST /i HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
    assert (transport.written, transport.closed, tally.received) == (BAD, True, 0)


def test_the_child_process_answers_on_its_ports_and_reports_its_counts() -> None:
    with ReceiverProcess(ports=2) as receiver:
        assert len(set(receiver.ports)) == 2
        with socket.create_connection(("127.0.0.1", receiver.ports[1]), timeout=10) as sock:
            sock.sendall(_post("/u/1/inbox", "https://x/1") + _post("/u/1/inbox", "https://x/1"))
            answers = b""
            while answers.count(b"\r\n\r\n") < 2:
                answers += sock.recv(4096)
        counts = receiver.wait(2, 10)
        assert answers == ACCEPTED * 2
        assert (counts.received, counts.unique, counts.duplicates) == (2, 1, 1)
        assert counts.first <= counts.last
        assert receiver.cpu_ms() > 0
