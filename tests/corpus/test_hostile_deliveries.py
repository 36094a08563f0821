"""The documents that broke a parser (``test_properties.py``), delivered end to end.

Each is a listing (or an actor) that a remote server could send, signed by
its honest ``FakeActor`` and POSTed to ``a.test``'s shared inbox, then
processed, on both databases: the inbox answers 202 or a 4xx, no exception
escapes the processor (``settle`` drains it), and the item ends ``done``,
``ignored`` or ``failed`` with a reason — a parser bug must cost one item, not
the inbox loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from config.database import utcnow
from federation.models import Actor, Follow, InboxItem
from federation.signatures import sign_request
from inbox.processor import MAX_TRIES
from tests.corpus.inputs import PUBLIC, listing_skeleton
from tests.corpus.test_properties import KNOWN_LISTING_BUGS
from tests.fedinet import FakeActor, FediNet, network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # hostile payloads stored

TARGET = "a.test"
SENDER = "https://hostile.test/actors/mallory"
FINAL = ("done", "ignored", "failed")


@cache
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def relocated(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """A known-bug listing, moved to the sender's host under an id of its own."""
    text = json.dumps(obj).replace("https://remote.test/actors/alice", SENDER)
    moved: dict[str, Any] = json.loads(text.replace("https://remote.test", "https://hostile.test"))
    if "a" * 3000 not in str(moved.get("id")):
        moved["id"] = moved["url"] = f"https://hostile.test/listings/{name}"
    return moved


def create(obj: dict[str, Any], name: str, actor: str = SENDER) -> dict[str, Any]:
    return {
        "id": f"{actor}/activities/{name}",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "object": obj,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FediNet, TestNode]]:
    async with network(tmp_path_factory.mktemp("hostile"), module_db, [TARGET]) as (net, (a,)):
        await a.structure("ferme_du_bosc", owner="admin@a.example")
        net.hooks.append(FakeActor(SENDER, key()))
        yield net, a


async def deliver(net: FediNet, activity: dict[str, Any], signer: FakeActor) -> int:
    body = json.dumps(activity).encode()
    url = f"https://{TARGET}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, signer.signing_key))
    return (await net.post(url, body, headers)).status_code


async def follow(node: TestNode, uri: str) -> None:
    async with node.node.db.session() as session:
        follower = await session.scalar(select(Actor).where(Actor.handle == "ferme_du_bosc"))
        sender = await session.scalar(select(Actor).where(Actor.uri == uri))
        assert follower is not None and sender is not None
        known = await session.scalar(
            select(Follow).where(Follow.follower_id == follower.id, Follow.followed_id == sender.id)
        )
        if known is None:
            session.add(Follow(follower_id=follower.id, followed_id=sender.id, state="accepted"))


async def settle_item(net: FediNet, node: TestNode, activity_id: str) -> InboxItem | None:
    """Settle (an exception escaping the processor fails the test), retries due at once."""
    item = None
    for _ in range(MAX_TRIES + 1):
        await net.settle()
        async with node.node.db.session() as session:
            item = await session.scalar(
                select(InboxItem).where(InboxItem.activity_uri == activity_id)
            )
            if item is None or item.state != "pending":
                return item
            await session.execute(
                update(InboxItem)
                .where(InboxItem.id == item.id)
                .values(next_attempt_at=utcnow(), locked_by=None, locked_until=None)
            )
    return item


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("bug", sorted(KNOWN_LISTING_BUGS))
async def test_a_listing_that_breaks_the_parser_costs_one_item(
    receiver: tuple[FediNet, TestNode], bug: str
) -> None:
    """Accepted (202) or refused with a 4xx; once processed the item is final, with the
    parser's failure as its reason, and the inbox keeps processing what follows."""
    net, node = receiver
    sender = next(h for h in net.hooks if isinstance(h, FakeActor))
    activity = create(relocated(KNOWN_LISTING_BUGS[bug], bug), bug)
    status = await deliver(net, activity, sender)
    assert status == 202 or 400 <= status < 500, status
    if status != 202:
        return
    await follow(node, SENDER)
    item = await settle_item(net, node, activity["id"])
    assert item is not None
    assert item.state in FINAL, (item.state, item.error)
    if item.state != "done":
        assert item.error

    after = create(relocated(listing_skeleton("", ""), f"after-{bug}"), f"after-{bug}")
    after["object"]["attributedTo"] = SENDER
    assert await deliver(net, after, sender) == 202
    processed = await settle_item(net, node, after["id"])
    assert processed is not None and processed.state == "done", processed and processed.error


@pytest.mark.asyncio(loop_scope="module")
async def test_an_actor_whose_type_breaks_the_parser_is_refused_with_a_4xx(
    receiver: tuple[FediNet, TestNode],
) -> None:
    """The signer's document has ``"type": [{"@id": "Person"}]`` (an expanded JSON-LD
    shape): verifying the signature fetches and parses it, and the inbox answers 4xx."""
    net, _ = receiver
    uri = "https://odd-actor.test/actors/bob"
    odd = FakeActor(uri, key(), extra={"type": [{"@id": "Person"}]})
    net.hooks.append(odd)
    try:
        note = {"id": f"{uri}/notes/1", "type": "Note", "attributedTo": uri, "content": "x"}
        status = await deliver(net, create(note, "odd", actor=uri), odd)
    finally:
        net.hooks.remove(odd)
    assert 400 <= status < 500, status
