"""Tools shared by the attack suite: keys, forged activities, signed posts, counters.

The attacker is always a :class:`~tests.fedinet.FakeActor` (or a plain hook of
:class:`~tests.fedinet.FediNet`) whose private key the test holds, so a request
can be forged at will and sent through the real inbox of a node of the
in-process network.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from federation.keys import SigningKey
from federation.models import Actor, Follow, InboxItem
from federation.signatures import SignatureScheme, sign_request
from tests.fedinet import FediNet
from tests.support import TestNode

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"


@cache
def rsa_key(n: int) -> rsa.RSAPrivateKey:
    """Throwaway RSA keys, made once per test session (key generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_id(host: str, kind: str = "activities") -> str:
    return f"https://{host}/{kind}/{uuid.uuid4().hex}"


def signed_headers(
    url: str, body: bytes, key: SigningKey, *, scheme: SignatureScheme = "cavage"
) -> dict[str, str]:
    """The headers of a correctly signed ActivityPub POST of ``body`` to ``url``."""
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, key, scheme=scheme))
    return headers


async def deliver(
    net: FediNet, url: str, activity: dict[str, Any], key: SigningKey
) -> httpx.Response:
    """POST ``activity`` to ``url`` through the network, correctly signed with ``key``."""
    body = json.dumps(activity).encode()
    return await net.post(url, body, signed_headers(url, body, key))


def note(actor: str, **fields: Any) -> dict[str, Any]:
    """A Note by ``actor`` on its own host (public unless ``to`` is given)."""
    host = httpx.URL(actor).netloc.decode()
    return {
        "id": new_id(host, "notes"),
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>Bonjour</p>",
        "to": [PUBLIC],
        **fields,
    }


def create(actor: str, obj: dict[str, Any] | str, **fields: Any) -> dict[str, Any]:
    """A ``Create`` of ``obj`` (embedded, or by reference) by ``actor``."""
    host = httpx.URL(actor).netloc.decode()
    addressed = obj.get("to", [PUBLIC]) if isinstance(obj, dict) else [PUBLIC]
    return {
        "@context": AS,
        "id": new_id(host),
        "type": "Create",
        "actor": actor,
        "object": obj,
        "to": addressed,
        **fields,
    }


async def inbox_count(node: TestNode) -> int:
    async with node.node.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxItem)) or 0)


async def follow(node: TestNode, follower_handle: str, remote_uri: str) -> None:
    """Make the local actor ``follower_handle`` follow a remote actor (accepted), as
    if the follow had gone through: the remote actor is fetched and stored."""
    remote = await node.node.remote.actor(remote_uri)
    async with node.node.db.session() as session:
        local_id = await session.scalar(
            select(Actor.id).where(Actor.local.is_(True), Actor.handle == follower_handle)
        )
        assert local_id is not None, follower_handle
        session.add(
            Follow(
                follower_id=local_id,
                followed_id=remote.id,
                state="accepted",
                activity_uri=new_id(node.domain, "follows"),
            )
        )


class Recorder(logging.Handler):
    """Every log record of the process, formatted, kept in memory."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def all_logs() -> Iterator[Recorder]:
    """Record every log line written while the block runs, at DEBUG, from every logger
    (their levels are lowered for the block), tracebacks included."""
    recorder = Recorder()
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    root.addHandler(recorder)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
        for logger, level in levels:
            logger.setLevel(level)
