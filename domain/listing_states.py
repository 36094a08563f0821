"""The status of a listing and the changes allowed between them.

A local listing is published ``open``. Its structure may mark it ``fulfilled`` or
``expired`` and open it again (a PATCH of ``status``); it expires by itself
(``instance.expiry``: ``open`` → ``expired``); an exchange done on it for its whole
quantity makes it ``fulfilled``. Withdrawing it (its structure, or a moderator who
hides it) is final: a ``withdrawn`` listing no longer changes.

====================  =====================================================
from                  to
====================  =====================================================
(new)                 open (published)
open                  fulfilled, expired, withdrawn
fulfilled             open, expired, withdrawn
expired               open, fulfilled, withdrawn
withdrawn             (none: final)
====================  =====================================================

Every change of a local listing goes through :func:`transition`. A listing received
from another node takes the status its node gives it (:func:`mirror`): that node
keeps the table above for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from domain.models import Listing

ListingStatus = Literal["open", "fulfilled", "expired", "withdrawn"]
LISTING_STATUSES: tuple[ListingStatus, ...] = ("open", "fulfilled", "expired", "withdrawn")

# from -> the states it may change to; None is a listing being published.
TRANSITIONS: dict[ListingStatus | None, set[ListingStatus]] = {
    None: {"open"},
    "open": {"fulfilled", "expired", "withdrawn"},
    "fulfilled": {"open", "expired", "withdrawn"},
    "expired": {"open", "fulfilled", "withdrawn"},
    "withdrawn": set(),
}

LISTING = StateMachine[ListingStatus]("listing", LISTING_STATUSES, TRANSITIONS, attribute="status")


def transition(listing: Listing, to: ListingStatus) -> None:
    """Change a local listing's status to ``to``; raises :class:`StateError` on a refused
    change."""
    LISTING.transition(listing, to)


def mirror(listing: Listing, status: str) -> None:
    """A remote listing takes the status its own node gives it (any known status; an
    unknown one raises :class:`StateError`)."""
    listing.status = LISTING.parse(status)


__all__ = [
    "LISTING",
    "LISTING_STATUSES",
    "TRANSITIONS",
    "ListingStatus",
    "StateError",
    "mirror",
    "transition",
]
