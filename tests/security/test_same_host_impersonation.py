"""Impersonation by an actor of the same server: Mallory speaks for Victim.

One node, ``a.test``, in the in-process network (on the databases of ``module_db``, for
the whole module). ``social.test`` is a server with several users: Victim,
Mallory, Mallory's second account and a community (a ``Group``). The tests
hold Mallory's private key only, as someone who owns one account of a server
(and not the server) does.

Before, the inbox took a signature as good when the key's owner was merely on
the activity's actor's host: Mallory, signing with her own key, could post as
Victim, take back Victim's follows, delete Victim's account here, and write,
change or withdraw listings in Victim's name. Now the key's owner must be the
activity's actor (Mastodon's rule; ``federation.origin``).

Two families of attacks, each checked against a snapshot of everything a.test
holds about social.test (follows, actors, listings, tombstones, messages,
posts, reports):

* Mallory signs an activity whose ``actor`` is Victim (or the community):
  refused at the door, 403 ``origin_mismatch``, nothing stored or changed;
* Mallory signs as herself an activity about Victim's things (a follow, a
  listing, a message, the account itself): accepted (it is hers to send) and
  changes nothing of Victim's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from domain.models import Listing
from domain.social import CommunityMember, Message, Post, Report
from federation.models import Actor, Follow, InboxItem, Tombstone
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import (
    AS,
    PUBLIC,
    create,
    deliver,
    follow,
    inbox_count,
    new_id,
    rsa_key,
)
from tests.security.helpers import note as make_note
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"
FERME = f"https://{TARGET}/actors/ferme"
SOCIAL = "social.test"
LISTING_FIELDS: dict[str, Any] = {
    "name": "Palettes",
    "purpose": "offer",
    "publishes": {"type": "Intent", "action": "transfer"},
    "entraide:category": "materials",
}


@dataclass
class World:
    net: FediNet
    node: TestNode
    victim: FakeActor
    mallory: FakeActor
    other: FakeActor  # Mallory's second account, which claims Victim in alsoKnownAs
    group: FakeActor  # a community of social.test, followed by ferme
    listing: dict[str, Any]  # Victim's listing, stored on a.test
    message: dict[str, Any]  # Victim's direct message to ferme
    victim_follow: str  # the id of Victim's Follow of ferme (accepted)
    ferme_follow: str  # the id of ferme's Follow of Victim (accepted)
    post: str  # a post of the community, stored on a.test


def listing_note(actor: str, **fields: Any) -> dict[str, Any]:
    return make_note(actor, **(LISTING_FIELDS | fields))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("same-host")
    async with network(tmp, module_db, [TARGET]) as (net, (a,)):
        victim = FakeActor(f"https://{SOCIAL}/users/victim", rsa_key(11))
        mallory = FakeActor(f"https://{SOCIAL}/users/mallory", rsa_key(12))
        other = FakeActor(
            f"https://{SOCIAL}/users/mallory2",
            rsa_key(13),
            extra={"alsoKnownAs": [f"https://{SOCIAL}/users/victim"]},
        )
        group = FakeActor(f"https://{SOCIAL}/groups/club", rsa_key(14), extra={"type": "Group"})
        net.hooks.extend([victim, mallory, other, group])
        await a.structure("ferme", owner="f@a.example")
        await a.person("modo@a.example", role="moderator")
        await follow(a, "ferme", victim.uri)
        await follow(a, "ferme", group.uri)
        # Victim follows ferme, and publishes a listing and a message: all genuine.
        victim_follow = {
            "@context": AS,
            "id": new_id(SOCIAL, "follows"),
            "type": "Follow",
            "actor": victim.uri,
            "object": FERME,
        }
        listing = listing_note(victim.uri)
        mention = [{"type": "Mention", "href": FERME}]
        message = make_note(victim.uri, to=[FERME], tag=mention, content="<p>Bonjour</p>")
        post = make_note(mallory.uri, to=[PUBLIC, group.uri], audience=group.uri)
        genuine: list[tuple[dict[str, Any], FakeActor]] = [
            (victim_follow, victim),
            (create(victim.uri, listing), victim),
            (create(victim.uri, message), victim),
        ]
        for activity, sender in genuine:
            response = await deliver(net, INBOX, activity, sender.signing_key)
            assert response.status_code == 202, response.text
        await net.settle()
        async with a.node.db.session() as session:
            ferme_follow = await session.scalar(
                select(Follow.activity_uri)
                .join(Actor, Follow.followed_id == Actor.id)
                .where(Actor.uri == victim.uri)
            )
        assert ferme_follow is not None
        world = World(
            net,
            a,
            victim,
            mallory,
            other,
            group,
            listing,
            message,
            victim_follow["id"],
            ferme_follow,
            post["id"],
        )
        await _store_group_post(world, post)
        yield world


async def _store_group_post(world: World, post: dict[str, Any]) -> None:
    """The community announces a post of Mallory's (served by social.test): stored on a.test."""

    async def serve_post(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and str(request.url) == post["id"]:
            return httpx.Response(200, json=post, headers={"Content-Type": "application/json"})
        return None

    world.net.hooks.insert(0, serve_post)
    announce = {
        "@context": AS,
        "id": new_id(SOCIAL),
        "type": "Announce",
        "actor": world.group.uri,
        "object": post["id"],
        "to": [PUBLIC],
    }
    response = await deliver(world.net, INBOX, announce, world.group.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    assert (await snapshot(world))["posts"] == [(post["id"], False)]


async def snapshot(world: World, *, but_mallorys_tombstones: bool = False) -> dict[str, Any]:
    """Everything a.test holds that an activity from social.test could change."""
    follower, followed = aliased(Actor), aliased(Actor)
    async with world.node.node.db.session() as session:
        follows = await session.execute(
            select(follower.uri, followed.uri, Follow.state, Follow.activity_uri)
            .join(follower, Follow.follower_id == follower.id)
            .join(followed, Follow.followed_id == followed.id)
        )
        actors = await session.execute(
            select(Actor.uri, Actor.deleted_at, Actor.moved_to, Actor.name).where(
                Actor.uri.in_([world.victim.uri, world.group.uri])
            )
        )
        listings = await session.execute(
            select(Listing.ap_id, Listing.title, Listing.status, Actor.uri).join(
                Actor, Listing.author_id == Actor.id
            )
        )
        tombstones = await session.execute(select(Tombstone.uri, Tombstone.actor_uri))
        messages = await session.execute(
            select(Message.ap_id, Message.content_text, Actor.uri).join(
                Actor, Message.author_id == Actor.id
            )
        )
        posts = await session.execute(select(Post.ap_id, Post.removed))
        reports = await session.scalar(select(func.count()).select_from(Report))
        members = await session.scalar(select(func.count()).select_from(CommunityMember))
    return {
        "follows": sorted(tuple(row) for row in follows),
        "actors": sorted(tuple(row) for row in actors),
        "listings": sorted(tuple(row) for row in listings),
        "tombstones": sorted(
            tuple(row)
            for row in tombstones
            if not (but_mallorys_tombstones and row[1] == world.mallory.uri)
        ),
        "messages": sorted(tuple(row) for row in messages),
        "posts": sorted(tuple(row) for row in posts),
        "reports": reports,
        "members": members,
    }


# ------------------------------------------------------------------ Mallory signs as Victim


def _activity(world: World, kind: str, actor: str, obj: Any, **fields: Any) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": new_id(SOCIAL),
        "type": kind,
        "actor": actor,
        "object": obj,
        "to": [PUBLIC],
        **fields,
    }


def note_as_victim(w: World) -> dict[str, Any]:
    """A direct message to ferme, as if Victim wrote it (asking for money, say)."""
    dm = make_note(
        w.victim.uri,
        to=[FERME],
        tag=[{"type": "Mention", "href": FERME}],
        content="<p>Virez 500 € à Mallory</p>",
    )
    return create(w.victim.uri, dm)


def reply_in_victims_thread(w: World) -> dict[str, Any]:
    """The same, replying into Victim's conversation with ferme."""
    dm = make_note(
        w.victim.uri,
        to=[FERME],
        inReplyTo=w.message["id"],
        content="<p>Nouveau RIB</p>",
    )
    return create(w.victim.uri, dm)


def undo_victims_follow(w: World) -> dict[str, Any]:
    """Victim's follow of ferme taken back, embedded as Mastodon sends it."""
    inner = {"id": w.victim_follow, "type": "Follow", "actor": w.victim.uri, "object": FERME}
    return _activity(w, "Undo", w.victim.uri, inner)


def undo_victims_follow_by_id(w: World) -> dict[str, Any]:
    """The same, naming the Follow by its id only."""
    return _activity(w, "Undo", w.victim.uri, w.victim_follow)


def delete_victim(w: World) -> dict[str, Any]:
    """Victim's account deleted: its follows and listings here go with it."""
    return _activity(w, "Delete", w.victim.uri, w.victim.uri)


def update_victim(w: World) -> dict[str, Any]:
    """An Update of Victim's actor (we would refetch it: a fetch on Mallory's command)."""
    return _activity(w, "Update", w.victim.uri, w.victim.document() | {"name": "Mallory"})


def create_listing_as_victim(w: World) -> dict[str, Any]:
    """A new listing in Victim's name."""
    return create(w.victim.uri, listing_note(w.victim.uri, name="Arnaque"))


def update_victims_listing(w: World) -> dict[str, Any]:
    """Victim's listing rewritten."""
    changed = w.listing | {"name": "Volé", "updated": "2099-01-01T00:00:00Z"}
    return _activity(w, "Update", w.victim.uri, changed)


def delete_victims_listing(w: World) -> dict[str, Any]:
    """Victim's listing withdrawn."""
    return _activity(w, "Delete", w.victim.uri, {"id": w.listing["id"], "type": "Tombstone"})


def delete_victims_message(w: World) -> dict[str, Any]:
    """Victim's message to ferme deleted."""
    return _activity(w, "Delete", w.victim.uri, w.message["id"])


def follow_as_victim(w: World) -> dict[str, Any]:
    """A Follow in Victim's name (of the territory: a request its admins would see)."""
    return _activity(w, "Follow", w.victim.uri, f"https://{TARGET}/actors/territory")


def reject_ferme_as_victim(w: World) -> dict[str, Any]:
    """Victim "removes" ferme from its followers (Reject of an accepted follow)."""
    return _activity(w, "Reject", w.victim.uri, w.ferme_follow)


def accept_as_victim(w: World) -> dict[str, Any]:
    """An Accept in Victim's name of ferme's follow."""
    return _activity(w, "Accept", w.victim.uri, w.ferme_follow)


def move_victim(w: World) -> dict[str, Any]:
    """Victim "moves" to Mallory's second account, which lists Victim in alsoKnownAs:
    ferme would unfollow Victim and follow Mallory."""
    return _activity(w, "Move", w.victim.uri, w.victim.uri, target=w.other.uri)


def flag_as_victim(w: World) -> dict[str, Any]:
    """A report filed in Victim's name."""
    return _activity(w, "Flag", w.victim.uri, [FERME], content="spam")


def announce_as_group(w: World) -> dict[str, Any]:
    """The community "announces" a post of Mallory's, to have it shown in the community."""
    return _activity(w, "Announce", w.group.uri, make_note(w.mallory.uri)["id"])


def undo_group_announce(w: World) -> dict[str, Any]:
    """The community "takes back" a post it announced: hidden here."""
    inner = {"id": new_id(SOCIAL), "type": "Announce", "actor": w.group.uri, "object": w.post}
    return _activity(w, "Undo", w.group.uri, inner)


AS_VICTIM = [
    note_as_victim,
    reply_in_victims_thread,
    undo_victims_follow,
    undo_victims_follow_by_id,
    delete_victim,
    update_victim,
    create_listing_as_victim,
    update_victims_listing,
    delete_victims_listing,
    delete_victims_message,
    follow_as_victim,
    reject_ferme_as_victim,
    accept_as_victim,
    move_victim,
    flag_as_victim,
    announce_as_group,
    undo_group_announce,
]


@pytest.mark.parametrize("attack", AS_VICTIM, ids=[a.__name__ for a in AS_VICTIM])
async def test_same_host_actor_signing_for_another_is_refused(
    world: World, attack: Callable[[World], dict[str, Any]]
) -> None:
    """Attack: Mallory, who holds the key of one account of social.test, signs an activity
    whose actor is another account of the same server (see the attack's docstring). Refused
    at the door — 403 ``origin_mismatch``, nothing stored — and nothing a.test holds about
    social.test changes."""
    before = await snapshot(world)
    stored = await inbox_count(world.node)
    world.net.log.clear()
    response = await deliver(world.net, INBOX, attack(world), world.mallory.signing_key)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "origin_mismatch"
    assert "signed by" in response.json()["message"]
    assert await inbox_count(world.node) == stored
    await world.net.settle()
    assert await snapshot(world) == before
    # No Accept, Follow or Undo sent anywhere on Mallory's word.
    assert [e.url for e in world.net.sent("POST") if not e.url.startswith(INBOX)] == []


async def test_personal_inbox_refuses_it_too(world: World) -> None:
    """The same through ferme's personal inbox."""
    before = await snapshot(world)
    response = await deliver(
        world.net, f"{FERME}/inbox", delete_victim(world), world.mallory.signing_key
    )
    assert response.status_code == 403, response.text
    await world.net.settle()
    assert await snapshot(world) == before


# ------------------------------------------------------------------ Mallory signs as herself


def undo_of_victims_follow(w: World) -> dict[str, Any]:
    """Mallory's own Undo, embedding Victim's Follow of ferme."""
    inner = {"id": w.victim_follow, "type": "Follow", "actor": w.victim.uri, "object": FERME}
    return _activity(w, "Undo", w.mallory.uri, inner)


def undo_of_victims_follow_by_id(w: World) -> dict[str, Any]:
    """Mallory's own Undo, naming Victim's Follow by its id."""
    return _activity(w, "Undo", w.mallory.uri, w.victim_follow)


def delete_of_victim(w: World) -> dict[str, Any]:
    """Mallory's own Delete, of Victim's account."""
    return _activity(w, "Delete", w.mallory.uri, w.victim.uri)


def delete_of_victims_listing(w: World) -> dict[str, Any]:
    """Mallory's own Delete of Victim's listing (the id is on her server)."""
    return _activity(w, "Delete", w.mallory.uri, w.listing["id"])


def delete_of_victims_message(w: World) -> dict[str, Any]:
    """Mallory's own Delete of Victim's message."""
    return _activity(w, "Delete", w.mallory.uri, w.message["id"])


def update_of_victims_listing(w: World) -> dict[str, Any]:
    """Mallory's own Update of Victim's listing, now attributed to her."""
    changed = w.listing | {"attributedTo": w.mallory.uri, "name": "Volé"}
    return _activity(w, "Update", w.mallory.uri, changed | {"updated": "2099-01-01T00:00:00Z"})


def create_over_victims_listing(w: World) -> dict[str, Any]:
    """Mallory's own Create of a listing with the id of Victim's."""
    return create(w.mallory.uri, w.listing | {"attributedTo": w.mallory.uri, "name": "Volé"})


def create_over_victims_message(w: World) -> dict[str, Any]:
    """Mallory's own Create of a message with the id of Victim's."""
    return create(w.mallory.uri, w.message | {"attributedTo": w.mallory.uri, "content": "RIB"})


def update_of_victims_actor(w: World) -> dict[str, Any]:
    """Mallory's own Update carrying Victim's actor document."""
    return _activity(w, "Update", w.mallory.uri, w.victim.document() | {"name": "Mallory"})


def reject_of_fermes_follow(w: World) -> dict[str, Any]:
    """Mallory's own Reject of ferme's follow of Victim (by its id)."""
    return _activity(w, "Reject", w.mallory.uri, w.ferme_follow)


def reject_of_fermes_follow_embedded(w: World) -> dict[str, Any]:
    """The same, the Follow embedded."""
    inner = {"id": w.ferme_follow, "type": "Follow", "actor": FERME, "object": w.victim.uri}
    return _activity(w, "Reject", w.mallory.uri, inner)


def move_of_victim(w: World) -> dict[str, Any]:
    """Mallory's own Move of Victim's account to her second account."""
    return _activity(w, "Move", w.mallory.uri, w.victim.uri, target=w.other.uri)


def undo_of_group_announce(w: World) -> dict[str, Any]:
    """Mallory's own Undo of the community's Announce of her post."""
    inner = {"id": new_id(SOCIAL), "type": "Announce", "actor": w.group.uri, "object": w.post}
    return _activity(w, "Undo", w.mallory.uri, inner)


AS_HERSELF = [
    undo_of_victims_follow,
    undo_of_victims_follow_by_id,
    delete_of_victim,
    delete_of_victims_listing,
    delete_of_victims_message,
    update_of_victims_listing,
    create_over_victims_listing,
    create_over_victims_message,
    update_of_victims_actor,
    reject_of_fermes_follow,
    reject_of_fermes_follow_embedded,
    move_of_victim,
    undo_of_group_announce,
]


@pytest.mark.parametrize("attack", AS_HERSELF, ids=[a.__name__ for a in AS_HERSELF])
async def test_activity_about_another_actors_things_changes_nothing(
    world: World, attack: Callable[[World], dict[str, Any]]
) -> None:
    """Attack: Mallory signs, as herself, an activity about something of Victim's (see the
    attack's docstring). It is hers to send, so it is stored (202), but each handler acts
    only on what belongs to the verified signer: nothing of Victim's changes, and no
    tombstone keeps Victim's listing from later changes."""
    before = await snapshot(world, but_mallorys_tombstones=True)
    activity = attack(world)
    response = await deliver(world.net, INBOX, activity, world.mallory.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    # A tombstone of Mallory's binds Mallory only (see the next test); nothing else differs.
    assert await snapshot(world, but_mallorys_tombstones=True) == before
    async with world.node.node.db.session() as session:
        state = await session.scalar(
            select(InboxItem.state).where(InboxItem.activity_uri == activity["id"])
        )
    assert state in ("done", "ignored", "failed")


async def test_victim_can_still_change_its_listing_after_mallorys_delete(world: World) -> None:
    """After Mallory's Delete of Victim's listing id, Victim's own Update still applies and
    Victim's own Delete still withdraws it: Mallory's tombstone binds Mallory only."""
    response = await deliver(
        world.net, INBOX, delete_of_victims_listing(world), world.mallory.signing_key
    )
    assert response.status_code == 202
    changed = world.listing | {"name": "Palettes (mises à jour)", "updated": "2098-01-01T00:00:00Z"}
    update = _activity(world, "Update", world.victim.uri, changed)
    response = await deliver(world.net, INBOX, update, world.victim.signing_key)
    assert response.status_code == 202
    await world.net.settle()
    listings = (await snapshot(world))["listings"]
    titles = [row[1] for row in listings if row[0] == world.listing["id"]]
    assert titles == ["Palettes (mises à jour)"]


async def test_an_id_taken_first_by_another_account_does_not_shadow_the_real_one(
    world: World,
) -> None:
    """Attack: Mallory sends first, signed as herself, an activity under the id that Victim's
    account Delete will carry (Mastodon names it ``<actor>#delete``), so that Victim's real
    Delete is taken for a replay and dropped: Victim's account and listings would stay here
    after it deleted itself. An id is unique per actor: Mallory's activity is stored (and
    does nothing), Victim's Delete is stored beside it and processed, and a replay of it is
    still recognised. (Last of the module: Victim is gone afterwards.)"""
    taken = f"{world.victim.uri}#delete"
    squat = _activity(world, "Delete", world.mallory.uri, make_note(world.mallory.uri)["id"])
    squat["id"] = taken
    response = await deliver(world.net, INBOX, squat, world.mallory.signing_key)
    assert response.status_code == 202, response.text
    await world.net.settle()
    stored = await inbox_count(world.node)

    real = _activity(world, "Delete", world.victim.uri, world.victim.uri) | {"id": taken}
    for _ in range(2):  # the second time, a replay
        response = await deliver(world.net, INBOX, real, world.victim.signing_key)
        assert response.status_code == 202, response.text
    await world.net.settle()
    assert await inbox_count(world.node) == stored + 1
    state = await snapshot(world)
    victim = [row for row in state["actors"] if row[0] == world.victim.uri]
    assert victim and victim[0][1] is not None  # deleted_at
    assert [row for row in state["listings"] if row[3] == world.victim.uri] == []
