"""Captured payloads delivered end to end, and what they mean once received."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from bovine.crypto.multibase import encode_public_key_to_multibase
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, update

from config.database import utcnow
from domain.models import Listing
from federation.keys import host_of
from federation.models import Actor, Follow, InboxItem, Tombstone
from federation.origin import object_id
from federation.signatures import sign_request
from inbox.processor import MAX_TRIES
from tests.federation.payload_fixtures_support import ACTIVITIES, ACTORS, HERE, load, names
from tests.fedinet import FakeActor, FediNet, network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # real payloads stored in JSON columns

TARGET = "a.test"


# ------------------------------------------------------------------ delivering

REMOTE_HOST = re.compile(
    r"https?://((?:[a-z0-9-]+\.)*"
    r"(?:example|lemmy\.ml|mymath\.rocks|mobilizon\.org|mobilizon\.fr|nomagic\.uk|framapiaf\.org)"
    r"|localhost:8080)"
    r"(?=[/\"#?\\]|$)"
)


def relocate(text: str, stem: str, sender: str) -> str:
    """Move a fixture's hosts into the test network (see the module doc)."""
    own = stem.replace("_", "-") + ".test"

    def move(match: re.Match[str]) -> str:
        host = match.group(1)
        if host == sender:
            return f"https://{own}"
        if host == "entraide.example":
            return f"https://{TARGET}"
        return "https://" + host.replace(".", "-").replace(":", "-") + ".test"

    text = REMOTE_HOST.sub(move, text)
    # Entraide's actors live at /actors/<handle> here, not /u/<handle>, and handles
    # are snake_case.
    return re.sub(
        rf"https://{TARGET}/u/([a-z0-9-]+)",
        lambda m: f"https://{TARGET}/actors/{m.group(1).replace('-', '_')}",
        text,
    )


@cache
def sender_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def actor_fixture(uri: str) -> dict[str, Any] | None:
    for path in ACTORS:
        document = load(path)
        if document["id"] == uri:
            return document
    return None


def sender_of(stem: str, document: dict[str, Any]) -> FakeActor:
    """The activity's sender, served in the shape of its actor fixture when there is one."""
    original = document["actor"] if isinstance(document["actor"], str) else document["actor"]["id"]
    sender_host = httpx.URL(original).netloc.decode()
    uri = json.loads(relocate(json.dumps(original), stem, sender_host))
    shape = actor_fixture(original)
    if shape is None:
        return FakeActor(uri, sender_key())
    shape = json.loads(relocate(json.dumps(shape), stem, sender_host))
    key_id = shape["publicKey"]["id"]
    fake = FakeActor(uri, sender_key(), key_id=key_id)
    pem = shape["publicKey"].get("publicKeyPem", "")
    shape["publicKey"] = {**shape["publicKey"], **fake.public_key()}
    if pem.startswith("-----BEGIN RSA PUBLIC KEY-----"):  # Mobilizon: PKCS#1, then a blank line
        pkcs1 = sender_key().public_key().public_bytes(Encoding.PEM, PublicFormat.PKCS1)
        shape["publicKey"]["publicKeyPem"] = pkcs1.decode() + "\n"
    for method in shape.get("assertionMethod", []):
        if method.get("id") == key_id:  # Mitra: the RSA key again, as a Multikey
            method["publicKeyMultibase"] = encode_public_key_to_multibase(sender_key().public_key())
    fake.extra = shape
    return fake


@dataclass
class Receiver:
    net: FediNet
    node: TestNode
    follower: Actor  # the local structure that follows every sender


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Receiver]:
    async with network(tmp_path_factory.mktemp("fixtures"), module_db, [TARGET]) as (net, (a,)):
        for handle in ("ferme_du_bosc", "broc_express"):
            await a.structure(handle, owner="admin@a.example")
        async with a.node.db.session() as session:
            follower = (
                await session.execute(select(Actor).where(Actor.handle == "ferme_du_bosc"))
            ).scalar_one()
        yield Receiver(net, a, follower)


async def follow_sender(receiver: Receiver, uri: str) -> None:
    """ferme_du_bosc follows the sender (so that its listings are wanted), once it is known."""
    async with receiver.node.node.db.session() as session:
        sender = (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one_or_none()
        if sender is not None:
            session.add(
                Follow(follower_id=receiver.follower.id, followed_id=sender.id, state="accepted")
            )


async def settle_item(receiver: Receiver, activity_id: str | None) -> InboxItem | None:
    """Process until the item is no longer pending (retries made due at once)."""
    item = None
    for _ in range(MAX_TRIES + 1):
        await receiver.net.settle()
        async with receiver.node.node.db.session() as session:
            query = select(InboxItem).order_by(InboxItem.id.desc()).limit(1)
            if activity_id:
                query = select(InboxItem).where(InboxItem.activity_uri == activity_id)
            item = (await session.execute(query)).scalar_one_or_none()
            if item is None or item.state != "pending":
                return item
            await session.execute(
                update(InboxItem)
                .where(InboxItem.id == item.id)
                .values(next_attempt_at=utcnow(), locked_by=None, locked_until=None)
            )
    return item


def relocated(path: Path, stem: str) -> tuple[FakeActor, dict[str, Any]]:
    """A fixture's sender and the fixture itself, moved to the test hosts of ``stem``."""
    original = load(path)
    sender = sender_of(stem, original)
    sender_host = host_of(original["actor"] if isinstance(original["actor"], str) else "")
    return sender, json.loads(relocate(json.dumps(original), stem, sender_host))


async def post_signed(
    receiver: Receiver, sender: FakeActor, document: dict[str, Any]
) -> httpx.Response:
    """``document`` signed by ``sender`` and POSTed to the shared inbox."""
    body = json.dumps(document).encode()
    url = f"https://{TARGET}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, sender.signing_key))
    return await receiver.net.post(url, body, headers)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("path", ACTIVITIES, ids=names(ACTIVITIES))
async def test_fixture_delivered_end_to_end(receiver: Receiver, path: Path) -> None:
    """Signed by its (fake) sender and POSTed to the shared inbox, each payload is accepted or
    refused cleanly, and once processed its item is done, ignored or failed with a reason."""
    sender, document = relocated(path, path.stem)
    receiver.net.hooks.append(sender)
    try:
        response = await post_signed(receiver, sender, document)
        # Every sender here is honest: its signature, key shape and origin must pass.
        assert response.status_code == 202, response.text
        await follow_sender(receiver, sender.uri)
        item = await settle_item(receiver, document.get("id"))
    finally:
        receiver.net.hooks.remove(sender)
    assert item is not None
    assert item.actor_uri == sender.uri
    assert item.state in ("done", "ignored", "failed"), (item.state, item.error)
    if item.state != "done":
        assert item.error, item.state
    if path.stem in OUTCOMES:
        assert (item.state, item.error) == OUTCOMES[path.stem]
    if document["type"] == "Follow" and item.state == "done":
        answers = [json.loads(r.content)["type"] for r in sender.received]
        assert answers == ["Accept"]


OUTCOMES: dict[str, tuple[str, str | None]] = {
    "entraide_create_listing_offer_lend": ("done", None),
    "entraide_create_listing_offer_sell": ("done", None),
    "fep0837_proposal_as_note_create": ("done", None),
    "entraide_delete_listing_withdrawn": ("done", None),
    "gotosocial_delete_note": ("done", None),  # no id: stored under one of its content
    "mastodon_delete_actor": ("done", None),
    "mastodon_follow": ("done", None),
    "gotosocial_follow": ("done", None),
    # A followed actor's public post is kept for its followers' timelines (issue 17).
    "mastodon_create_note_public": ("done", None),
    "mastodon_announce": ("ignored", "announce of one of our own objects"),
    "mitra_follow": ("done", None),
    "mitra_delete_note": ("done", None),
    "mitra_update_note": ("ignored", "update of an object that is not a listing"),
    "gotosocial_update_person": ("done", None),
    "lemmy_delete_page": ("done", None),
    "lemmy_update_page": ("ignored", "update of an object that is not a listing"),
    # Signed with a key its actor publishes as PKCS#1, as Mobilizon does.
    "mobilizon_create_event": ("done", None),  # a followed actor's public post
    "mobilizon_create_event_group": ("ignored", "note attributed to another actor"),
}


# ------------------------------------------------------------------ meaning

FOLLOWS = ["mastodon_follow", "gotosocial_follow", "mitra_follow"]
DELETES = [
    "mastodon_delete_note_tombstone",  # object: a Tombstone
    "gotosocial_delete_note",  # no id, object: a bare URI
    "mitra_delete_note",  # object: a Tombstone with formerType
    "lemmy_delete_page",  # object: a bare URI, community in cc and audience
    "entraide_delete_listing_withdrawn",
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", FOLLOWS)
async def test_follow_fixture_is_accepted(receiver: Receiver, name: str) -> None:
    """A Follow of a structure (Mastodon's bare-UUID id, GoToSocial's and Mitra's ``to``)
    becomes an accepted follow, and the sender gets one Accept that embeds its Follow."""
    sender, document = relocated(HERE / f"{name}.json", f"{name}_accepted")
    receiver.net.hooks.append(sender)
    try:
        response = await post_signed(receiver, sender, document)
        assert response.status_code == 202, response.text
        item = await settle_item(receiver, document["id"])
    finally:
        receiver.net.hooks.remove(sender)
    assert item is not None and (item.state, item.error) == ("done", None)
    async with receiver.node.node.db.session() as session:
        follow = (
            await session.execute(
                select(Follow)
                .join(Actor, Follow.follower_id == Actor.id)
                .where(Actor.uri == sender.uri)
            )
        ).scalar_one()
    assert follow.followed_id == receiver.follower.id
    assert (follow.state, follow.activity_uri) == ("accepted", document["id"])
    (answer,) = [json.loads(r.content) for r in sender.received]
    assert (answer["type"], answer["actor"]) == ("Accept", receiver.follower.uri)
    assert answer["object"]["id"] == document["id"]
    assert answer["object"]["actor"] == sender.uri


async def listing_and_tombstone(receiver: Receiver, uri: str) -> tuple[bool, str | None]:
    """Whether a listing ``uri`` is stored, and who deleted it (None: no tombstone)."""
    async with receiver.node.node.db.session() as session:
        listing = await session.scalar(select(Listing.id).where(Listing.ap_id == uri))
        tombstone = await session.get(Tombstone, uri)
        return listing is not None, tombstone.actor_uri if tombstone else None


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", DELETES)
async def test_delete_fixture_removes_what_it_names(receiver: Receiver, name: str) -> None:
    """Each server's Delete removes the remote listing it names and leaves a tombstone; the same
    Delete sent by an actor of another server is refused (403) and changes nothing."""
    sender, document = relocated(HERE / f"{name}.json", f"{name}_removes")
    named = object_id(document["object"])
    assert named and host_of(named) == sender.host
    impostor = FakeActor(f"https://impostor.test/users/{name}", sender_key())
    forged = {**document, "actor": impostor.uri}
    if "id" in document:
        forged["id"] = f"https://impostor.test/activities/{name}"
    receiver.net.hooks.extend([sender, impostor])
    try:
        author = await receiver.node.node.remote.actor(sender.uri)
        async with receiver.node.node.db.session() as session:
            session.add(
                Listing(
                    ap_id=named,
                    url=named,
                    local=False,
                    origin=author.domain,
                    author_id=author.id,
                    kind="offer",
                    title="Remorque à prêter",
                    category="equipment",
                    modality="lend",
                )
            )
        refused = await post_signed(receiver, impostor, forged)
        assert refused.status_code == 403, refused.text
        assert await listing_and_tombstone(receiver, named) == (True, None)
        response = await post_signed(receiver, sender, document)
        assert response.status_code == 202, response.text
        item = await settle_item(receiver, document.get("id"))
    finally:
        receiver.net.hooks.remove(sender)
        receiver.net.hooks.remove(impostor)
    assert item is not None and item.actor_uri == sender.uri
    assert (item.state, item.error) == ("done", None)
    assert await listing_and_tombstone(receiver, named) == (False, sender.uri)


@pytest.mark.asyncio(loop_scope="module")
async def test_actor_update_fixture_refreshes_the_actor(receiver: Receiver) -> None:
    """GoToSocial's Update of its actor (the Person embedded, followers in ``bcc``) makes us
    fetch the actor again from its origin: the stored profile changes."""
    sender, document = relocated(HERE / "gotosocial_update_person.json", "gotosocial_refresh")
    announced = document["object"]["name"]
    receiver.net.hooks.append(sender)
    try:
        sender.extra = {**sender.extra, "name": "zork before the update"}
        before = await receiver.node.node.remote.actor(sender.uri)
        assert before.name == "zork before the update"
        sender.extra["name"] = announced
        response = await post_signed(receiver, sender, document)
        assert response.status_code == 202, response.text
        item = await settle_item(receiver, document["id"])
    finally:
        receiver.net.hooks.remove(sender)
    assert item is not None and (item.state, item.error) == ("done", None)
    async with receiver.node.node.db.session() as session:
        name = await session.scalar(select(Actor.name).where(Actor.uri == sender.uri))
    assert name == announced == "original zork (he/they)"
