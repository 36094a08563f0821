"""The activities of communities (FEP-1b12 groups), besides the posts' Notes.

* The group shares a member's post by announcing the ``Create`` it received,
  unchanged (:func:`announce_create`), and, as Lemmy does for servers that do
  not understand ``Announce(Create)``, the Note itself (:func:`announce_note`,
  which Mastodon shows as a boost); both to Public, ``cc`` its followers.
* An animator removes a post: the group undoes its announce
  (:func:`undo_announce`); a post of ours is also deleted by its author
  (:func:`delete_post`, ``cc`` the group).

The post's Note and its ``Create`` are in ``outbox/to_ap/notes.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.settings import Settings
from federation.models import Actor
from federation.vocab import PUBLIC
from outbox.to_ap.activities import new_activity, tombstone


def _followers(group: Actor) -> list[str]:
    return [group.followers_url] if group.followers_url else []


def announce_create(settings: Settings, group: Actor, create: dict[str, Any]) -> dict[str, Any]:
    """The group's ``Announce`` of a member's ``Create``, embedded unchanged."""
    return new_activity(settings, "Announce", group, create, to=[PUBLIC], cc=_followers(group))


def announce_note(settings: Settings, group: Actor, note_uri: str) -> dict[str, Any]:
    """The group's ``Announce`` of the post itself (by id)."""
    return new_activity(settings, "Announce", group, note_uri, to=[PUBLIC], cc=_followers(group))


def undo_announce(
    settings: Settings, group: Actor, announce_uri: str, post_uri: str
) -> dict[str, Any]:
    """The group takes a post back: ``Undo`` of its ``Announce``."""
    return new_activity(
        settings,
        "Undo",
        group,
        {"id": announce_uri, "type": "Announce", "actor": group.uri, "object": post_uri},
        to=[PUBLIC],
        cc=[group.followers_url or ""],
    )


def delete_post(
    settings: Settings, author: Actor, post_uri: str, group: Actor, deleted: datetime
) -> dict[str, Any]:
    """The author deletes a post of a community: its Tombstone, ``cc`` the group."""
    return new_activity(
        settings,
        "Delete",
        author,
        tombstone(post_uri, deleted=deleted),
        to=[PUBLIC],
        cc=[group.uri],
    )
