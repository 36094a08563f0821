"""Same-host attacks where Mallory signs as herself, about another account's things."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from federation.models import InboxItem
from tests.security import same_host_support
from tests.security.helpers import (
    create,
    deliver,
    inbox_count,
    new_id,
)
from tests.security.helpers import note as make_note
from tests.security.same_host_support import FERME, INBOX, SOCIAL, World, _activity, snapshot

world = same_host_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
