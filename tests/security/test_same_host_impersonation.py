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

from collections.abc import Callable
from typing import Any

import pytest

from tests.security import same_host_support
from tests.security.helpers import (
    create,
    deliver,
    inbox_count,
    new_id,
)
from tests.security.helpers import note as make_note
from tests.security.same_host_support import (
    FERME,
    INBOX,
    SOCIAL,
    TARGET,
    World,
    _activity,
    listing_note,
    snapshot,
)

world = same_host_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
