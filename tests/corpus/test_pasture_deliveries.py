"""Pasture's variants delivered end to end: understood, or refused cleanly."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select, update

from config.database import utcnow
from domain.models import Listing
from domain.social import Message, Post
from federation.models import Actor, Follow, InboxItem
from federation.signatures import sign_request
from inbox.processor import MAX_TRIES
from tests.corpus import inputs
from tests.corpus.pasture_inputs_support import corpus
from tests.databases import DatabaseTemplates
from tests.fedinet import FakeActor, FediNet, network
from tests.support import TestNode

FINAL = ("done", "ignored", "failed")
CONCURRENCY = 16


# ------------------------------------------------------------------ delivering


@cache
def sender_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class ObjectServer:
    """Serves (GET) the objects the senders published, so that an Announce of one, or an
    activity naming it by id, can be fetched from its origin like from a real server."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def publish(self, activity: dict[str, Any]) -> None:
        for document in [activity, *inputs.embedded_objects(activity)]:
            if isinstance(document.get("id"), str):
                self.documents.setdefault(document["id"], document)

    async def __call__(self, request: httpx.Request) -> httpx.Response | None:
        found = self.documents.get(str(request.url.copy_with(fragment=None)))
        if request.method != "GET" or found is None:
            return None
        body = json.dumps(found).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


def pasture_senders() -> list[FakeActor]:
    """Pasture's test actors, served as ``fediverse-pasture`` builds them (our key)."""
    senders = []
    for _, document in inputs.pasture_actor_documents():
        fake = FakeActor(document["id"], sender_key(), key_id=document["publicKey"]["id"])
        fake.extra = {**document, "publicKey": fake.public_key()}
        senders.append(fake)
    return senders


@dataclass
class Run:
    net: FediNet
    node: TestNode
    senders: dict[str, FakeActor]
    statuses: dict[str, int] = field(default_factory=dict)  # variant name -> HTTP status


def sender_for(run: Run, activity: dict[str, Any]) -> FakeActor:
    actor = activity.get("actor")
    uri = actor if isinstance(actor, str) else inputs.FUNFEDI_ACTOR
    if isinstance(actor, dict) and isinstance(actor.get("id"), str):
        uri = actor["id"]
    return run.senders.get(uri) or run.senders[inputs.FUNFEDI_ACTOR]


def pasture_actor_activities() -> list[inputs.Variant]:
    """Each of pasture's actors follows the local structure and writes to it."""
    found = []
    for name, document in inputs.pasture_actor_documents():
        uri = document["id"]
        follow = {
            "id": f"{uri}/follow-1",
            "type": "Follow",
            "actor": uri,
            "object": inputs.RECIPIENT,
        }
        note = {
            "id": f"{uri}/objects/hello",
            "type": "Note",
            "attributedTo": uri,
            "to": [inputs.RECIPIENT],
            "content": f"<p>Bonjour de {name}</p>",
        }
        create = {"id": f"{uri}/create-1", "type": "Create", "actor": uri, "object": note}
        create["to"] = [inputs.RECIPIENT]
        found += [
            inputs.Variant(f"pasture/actor/{name}/follow", "activity", follow),
            inputs.Variant(f"pasture/actor/{name}/direct", "activity", create),
        ]
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(
    templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Run]:
    corpus("activity")

    def sqlite() -> str:
        return templates.sqlite_url(tmp_path_factory.mktemp("db"))

    root: Path = tmp_path_factory.mktemp("corpus")
    async with network(root, sqlite, [inputs.TARGET]) as (net, (node,)):
        for handle in ("ferme_du_bosc", "broc_express"):
            await node.structure(handle, owner="admin@a.example")
        funfedi = FakeActor(inputs.FUNFEDI_ACTOR, sender_key())
        funfedi.extra = {k: v for k, v in inputs.funfedi_profile().items() if k != "id"}
        senders = {fake.uri: fake for fake in [*pasture_senders(), funfedi]}
        server = ObjectServer()
        net.hooks += [*senders.values(), server]
        yield Run(net, node, senders)


async def deliver_all(run: Run, variants: list[inputs.Variant]) -> Counter[int]:
    """POST every variant, signed by its sender, several at a time (as servers deliver)."""
    url = f"https://{inputs.TARGET}/inbox"
    server = next(h for h in run.net.hooks if isinstance(h, ObjectServer))
    statuses: Counter[int] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(transport=run.net) as client:

        async def deliver(variant: inputs.Variant) -> None:
            sender = sender_for(run, variant.document)
            server.publish(variant.document)
            body = json.dumps(variant.document).encode()
            headers = {"Content-Type": "application/activity+json"}
            headers.update(sign_request("POST", url, headers, body, sender.signing_key))
            async with gate:
                response = await client.post(url, content=body, headers=headers)
            run.statuses[variant.name] = response.status_code
            statuses[response.status_code] += 1

        await asyncio.gather(*(deliver(variant) for variant in variants))
    return statuses


async def follow_senders(run: Run) -> None:
    """ferme_du_bosc follows every sender the node now knows (their listings are wanted)."""
    async with run.node.node.db.session() as session:
        follower = await session.scalar(select(Actor).where(Actor.handle == "ferme_du_bosc"))
        assert follower is not None
        known = await session.scalars(select(Actor).where(Actor.uri.in_(list(run.senders))))
        for sender in known:
            session.add(Follow(follower_id=follower.id, followed_id=sender.id, state="accepted"))


async def settle_with_retries(run: Run) -> None:
    """Settle; then make retries due at once (what the clock does) until nothing is pending."""
    for _ in range(MAX_TRIES + 2):
        await run.net.settle(rounds=50)
        async with run.node.node.db.session() as session:
            result = await session.execute(
                update(InboxItem)
                .where(InboxItem.state == "pending")
                .values(next_attempt_at=utcnow(), locked_by=None, locked_until=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return
    raise AssertionError("inbox items still pending after every retry")


def delivered_share(variants: tuple[inputs.Variant, ...]) -> list[inputs.Variant]:
    """Every funfedi activity, and each pasture example once, as a public note, a direct
    message or a listing in turn (each table gets all three shapes); all three shapes
    of every example with ``ENTRAIDE_CORPUS=full`` (about three times slower)."""
    if os.environ.get("ENTRAIDE_CORPUS") == "full":
        return list(variants)
    shapes = ("note", "direct", "listing")
    share = []
    for variant in variants:
        parts = variant.name.split("/")
        if parts[0] == "pasture" and parts[-1] == "create":
            index, shape = int(parts[2]), parts[3]
            if shapes[index % 3] != shape:
                continue
        share.append(variant)
    return share


@pytest.mark.asyncio(loop_scope="module")
async def test_every_variant_delivered_is_understood_or_refused_cleanly(run: Run) -> None:
    variants = [*delivered_share(corpus("activity")), *pasture_actor_activities()]
    statuses = await deliver_all(run, variants)
    server_errors = {n: s for n, s in run.statuses.items() if s >= 500}
    assert not server_errors, server_errors
    assert set(statuses) <= {202} | set(range(400, 500)), statuses

    await follow_senders(run)
    await settle_with_retries(run)  # raises if an exception escapes the processor

    async with run.node.node.db.session() as session:
        items = list(await session.scalars(select(InboxItem)))
        listings = {
            ap_id: count
            for ap_id, count in await session.execute(
                select(Listing.ap_id, func.count()).group_by(Listing.ap_id)
            )
        }
        messages = {
            ap_id: count
            for ap_id, count in await session.execute(
                select(Message.ap_id, func.count()).group_by(Message.ap_id)
            )
        }
        # A public note of a followed sender that is neither a listing nor a message is
        # kept once for the timeline of the structure that follows it (``done`` too).
        posts = set(await session.scalars(select(Post.ap_id)))
    states = Counter(item.state for item in items)
    unfinished = [(i.activity_uri, i.state) for i in items if i.state not in FINAL]
    no_reason = [i.activity_uri for i in items if i.state != "done" and not i.error]
    assert not unfinished, unfinished
    assert not no_reason, no_reason
    assert len(items) == statuses[202], (len(items), statuses[202])

    by_id = {i.activity_uri: i for i in items}
    missing: list[str] = []
    for variant in variants:
        item = by_id.get(str(variant.document.get("id")))
        obj = variant.document.get("object")
        public = variant.name.endswith("/note/create") and isinstance(obj, dict)
        if public and obj.get("id") in messages:  # never kept as a private message
            missing.append(f"{variant.name}: a public note stored as a message")
        if item is None or item.state != "done" or not isinstance(obj, dict):
            continue
        if obj.get("id") in posts and obj.get("id") not in listings | messages:
            continue  # kept as a followed account's post
        if variant.name.endswith("/listing/create") and listings.get(obj["id"]) != 1:
            missing.append(f"{variant.name}: listing {listings.get(obj['id'])} times")
        if variant.name.endswith("/direct/create") and messages.get(obj["id"]) != 1:
            missing.append(f"{variant.name}: message {messages.get(obj['id'])} times")
    assert not missing, missing
    assert all(count == 1 for count in [*listings.values(), *messages.values()])
    # Each of pasture's actors (with or without a WebFinger name) had its Follow accepted.
    answers = [r.content.decode() for fake in run.senders.values() for r in fake.received]
    accepts = [body for body in answers if json.loads(body).get("type") == "Accept"]
    for _, document in inputs.pasture_actor_documents():
        follow_id = f"{document['id']}/follow-1"
        assert by_id[follow_id].state == "done", by_id[follow_id].error
        assert any(follow_id in body for body in accepts), follow_id

    reasons = Counter(
        f"{i.state}: {(i.error or '').split(':', 1)[0][:60]}" for i in items if i.state != "done"
    )
    print(
        f"\ndelivered {len(variants)} activities: HTTP {dict(sorted(statuses.items()))}; "
        f"items {dict(states)}; {len(listings)} listings, {len(messages)} messages stored"
    )
    for reason, count in reasons.most_common():
        print(f"  {count:4d}  {reason}")
    assert states["done"] >= len(items) // 3  # the listings and direct messages
