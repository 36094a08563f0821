"""What may be shown: one answer for every door (pages, API, feeds, ActivityPub).

Taking something down — a moderator hiding a listing or a post, a structure
withdrawing a listing, an animator removing a post, a moderator suspending a
structure — must hold wherever a reader can go, including the activities that
published it: a ``Create`` or an ``Update`` carries the whole text, and an
``Announce`` (by the territory, or by a community) points to it.

These are SQL conditions, so that lists, counts and single rows apply the same
rule in the database. Withdrawn listings, which their structure's people and
the moderators still read, are a matter of who asks (``instance.search``'s
``withdrawn_of``); this module says what nobody outside sees.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, not_, or_, select
from sqlalchemy.orm import aliased

from domain.models import Listing, Structure
from domain.social import Post
from federation.models import Activity, Actor

# The activities that carry (or point to) content; the others — Delete, Undo, Follow,
# Accept… — say that something ended, or concern actors, and stay readable.
CONTENT_ACTIVITIES = ("Create", "Update", "Announce")


def suspended_actor(actor_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """Whether the actor ``actor_id`` (a local structure's) is suspended."""
    author = aliased(Actor)
    return exists().where(author.id == actor_id, author.suspended_at.is_not(None))


def post_shown() -> ColumnElement[bool]:
    """A community post that is shown: not removed, not hidden, its author not suspended."""
    return and_(Post.removed.is_(False), Post.hidden.is_(False), ~suspended_actor(Post.author_id))


def _post_taken_down(match: ColumnElement[bool]) -> ColumnElement[bool]:
    author = aliased(Actor)
    return exists().where(
        match,
        author.id == Post.author_id,
        or_(Post.removed.is_(True), Post.hidden.is_(True), author.suspended_at.is_not(None)),
    )


def _listing_taken_down() -> ColumnElement[bool]:
    """A listing (of ours: only ours are published by our activities) no longer shown."""
    return exists().where(
        Listing.ap_id == Activity.object_uri,
        or_(
            Listing.hidden.is_(True),
            Listing.status == "withdrawn",
            Listing.structure_id.in_(select(Structure.id).where(~Structure.is_visible)),
        ),
    )


def activity_shown() -> ColumnElement[bool]:
    """An activity of ours that may still be served, at its id or in an outbox.

    A ``Create``, ``Update`` or ``Announce`` is withheld when its object is a listing
    or a post taken down, or when its actor is suspended; a community's
    ``Announce(Create)`` of a post is matched to the post by ``announce_uri``.
    """
    return or_(
        Activity.type.not_in(CONTENT_ACTIVITIES),
        not_(
            or_(
                suspended_actor(Activity.actor_id),
                _listing_taken_down(),
                _post_taken_down(Post.ap_id == Activity.object_uri),
                _post_taken_down(Post.announce_uri == Activity.uri),
            )
        ),
    )
