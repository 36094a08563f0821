"""The handler of each activity type (one module per type, in ``inbox.handlers``)."""

from __future__ import annotations

from inbox.context import Handler
from inbox.handlers import (
    accept,
    announce,
    create,
    delete,
    flag,
    follow,
    like,
    move,
    offer,
    reject,
    undo,
    update,
)


def handlers() -> dict[str, Handler]:
    """The handler of each activity type, by the activity's ``type``."""
    return {
        "Follow": follow.handle,
        "Accept": accept.handle,
        "Reject": reject.handle,
        "Undo": undo.handle,
        "Create": create.handle,
        "Update": update.handle,
        "Delete": delete.handle,
        "Announce": announce.handle,
        "Like": like.handle,
        "Move": move.handle,
        "Flag": flag.handle,
        "Offer": offer.handle,
    }
