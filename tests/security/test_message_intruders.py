"""A third node against a private conversation between two others.

Three nodes for the module (on the databases of ``module_db``): the structure
``menuiserie`` of a.test writes privately to ``ressourcerie`` of b.test, with a
secret in the message. ``intrus`` of c.test is a genuine structure of a genuine
node: it can sign, but only as itself. It tries to read the message, to slip a
message into the thread, and to speak in a participant's name.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain.social import Conversation, Message, Participant
from federation.errors import FetchError
from federation.fetch import fetch_json
from federation.keystore import actor_signing_key
from federation.models import Actor
from tests.fedinet import FediNet, network
from tests.security.helpers import inbox_count, signed_headers
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "Code-de-la-grange-5521"
A_INBOX = "https://a.test/inbox"


@dataclass
class World:
    net: FediNet
    a: TestNode
    b: TestNode
    c: TestNode
    message: str  # ap id of menuiserie's message to ressourcerie
    conversation: int  # its conversation on a.test
    context: str
    intruder_create: dict[str, Any]  # a genuine Create of a message from intrus to a.test


async def _key(node: TestNode, handle: str) -> Any:
    async with node.node.db.session() as session:
        actor = (await session.execute(select(Actor).where(Actor.handle == handle))).scalar_one()
        return actor_signing_key(actor)


async def _send(node: TestNode, owner: str, sender: str, to: str, text: str) -> dict[str, Any]:
    response = await node.api(
        "POST",
        "/api/v1/messages",
        token=await node.token(owner),
        json={"from": sender, "to": to, "content": text},
    )
    assert response.status_code == 201, await response.get_data()
    sent: dict[str, Any] = await response.get_json()
    return sent


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("intruders")
    async with network(path, module_db, ["a.test", "b.test", "c.test"]) as (net, (a, b, c)):
        await a.structure("menuiserie", owner="m@a.example")
        await b.structure("ressourcerie", owner="r@b.example")
        await c.structure("intrus", owner="i@c.example")
        sent = await _send(
            a, "m@a.example", "menuiserie", "acct:ressourcerie@b.test", f"Voici : {SECRET}"
        )
        # The intruder also writes to menuiserie, openly: its genuine Create is the raw
        # material of the forgeries below.
        await _send(c, "i@c.example", "intrus", "acct:menuiserie@a.test", "Bonjour")
        await net.settle()
        create = next(
            act
            for act in net.activities_to("a.test")
            if act.get("type") == "Create" and act.get("actor") == "https://c.test/actors/intrus"
        )
        async with a.node.db.session() as session:
            message = await session.scalar(select(Message).where(Message.ap_id == sent["ap_id"]))
            assert message is not None
            conversation = message.conversation
        yield World(net, a, b, c, sent["ap_id"], conversation.id, conversation.context, create)


async def _thread(node: TestNode, conversation: int) -> tuple[list[str], set[str]]:
    """(message ids, participant actor uris) of a conversation."""
    async with node.node.db.session() as session:
        messages = await session.scalars(
            select(Message.ap_id).where(Message.conversation_id == conversation)
        )
        participants = await session.scalars(
            select(Actor.uri)
            .join(Participant, Participant.actor_id == Actor.id)
            .where(Participant.conversation_id == conversation)
        )
        return sorted(messages), set(participants)


async def _post_signed_by_intrus(world: World, activity: dict[str, Any]) -> Any:
    body = json.dumps(activity).encode()
    key = await _key(world.c, "intrus")
    return await world.net.post(A_INBOX, body, signed_headers(A_INBOX, body, key))


async def test_third_node_fetching_a_private_message_is_not_found(world: World) -> None:
    """Attack: c.test's structure, a real actor with a real key, fetches the message's id
    with a signed GET, as a participant would. 404, as for an id that does not exist; the
    participant on b.test does read it (so the 404 is the refusal, not a broken id)."""
    with pytest.raises(FetchError, match="404"):
        await fetch_json(
            world.c.node.http,
            world.message,
            key=await _key(world.c, "intrus"),
            allow_private=True,
            allow_http=True,
        )
    note = await fetch_json(
        world.b.node.http,
        world.message,
        key=await _key(world.b, "ressourcerie"),
        allow_private=True,
        allow_http=True,
    )
    assert SECRET in note["content"]


async def test_third_node_replying_into_a_thread_gets_its_own_conversation(
    world: World,
) -> None:
    """Attack: c.test's structure answers "in" the a↔b thread: its message names the
    thread's ``context`` and replies to its message (``inReplyTo``), addressed to both
    participants, signed with its own key (so the inbox accepts it). On a.test the message
    lands in a conversation of its own with ``intrus``: the a↔b thread keeps its one
    message and its two participants, and ``intrus`` gains no access to it."""
    before = await _thread(world.a, world.conversation)
    assert before == (
        [world.message],
        {"https://a.test/actors/menuiserie", "https://b.test/actors/ressourcerie"},
    )
    forged = json.loads(json.dumps(world.intruder_create))
    forged["id"] += "-into-the-thread"
    note = forged["object"]
    note["id"] += "-into-the-thread"
    note["inReplyTo"] = world.message
    note["context"] = note["conversation"] = world.context
    note["content"] = "<p>Je m'invite</p>"
    note["to"] = forged["to"] = [
        "https://a.test/actors/menuiserie",
        "https://b.test/actors/ressourcerie",
    ]
    response = await _post_signed_by_intrus(world, forged)
    assert response.status_code == 202, response.text
    await world.net.settle()

    assert await _thread(world.a, world.conversation) == before
    async with world.a.node.db.session() as session:
        landed = await session.scalar(select(Message).where(Message.ap_id == note["id"]))
        assert landed is not None, "the reply was dropped: the test would prove nothing"
        assert landed.conversation_id != world.conversation
        contexts = await session.scalars(select(Conversation.context))
        assert list(contexts).count(world.context) == 1


async def test_third_node_signing_as_a_participant_is_refused(world: World) -> None:
    """Attack: c.test's structure sends a message into the thread in the name of b.test's
    participant (actor, activity and object on b.test), signed with its own key. The inbox
    refuses it with 403 ``origin_mismatch`` before storing it, and the thread is
    unchanged."""
    before = await _thread(world.a, world.conversation)
    stored = await inbox_count(world.a)
    forged = json.loads(json.dumps(world.intruder_create))
    forged["id"] = "https://b.test/activities/forged-by-c"
    forged["actor"] = "https://b.test/actors/ressourcerie"
    note = forged["object"]
    note["id"] = "https://b.test/messages/forged-by-c"
    note["attributedTo"] = "https://b.test/actors/ressourcerie"
    note["inReplyTo"] = world.message
    note["context"] = note["conversation"] = world.context
    response = await _post_signed_by_intrus(world, forged)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "origin_mismatch"
    await world.net.settle()
    assert await inbox_count(world.a) == stored
    assert await _thread(world.a, world.conversation) == before
