"""ActivityStreams documents to typed values: one converter per object we receive.

Each ``*_from_ap`` function takes the JSON of one object (or activity) and
returns a frozen dataclass holding exactly what its handler needs — ids as
strings, text sanitised, numbers and dates parsed and bounded — or raises
:class:`MalformedObject` (a ``PayloadError``) saying why it cannot be read.
Handlers take the dataclass; nothing past this package reads the raw JSON.

* ``listings`` — :func:`listing_from_ap` (a Note with FEP-0837 fields, or a
  Proposal; None for an ordinary post);
* ``notes`` — :func:`note_from_ap` (direct messages, posts sent to our
  communities), :func:`post_from_ap` (posts a remote community announces);
* ``flags`` — :func:`flag_from_ap` (reports);
* ``answers`` — :func:`answer_from_ap`, :func:`undo_from_ap` (what an Accept,
  a Reject or an Undo is about: the embedded Follow's actor or object, an Accept's
  ``result``), :func:`announce_from_ap` (the post a community announces);
* ``exchanges`` — :func:`offer_from_ap` (FEP-0837 ``Offer{Agreement}``),
  :func:`agreement_of_event` (the Agreement an ``EconomicEvent`` realises).

The reverse direction is ``outbox/to_ap``; shared readers of single values
are in ``values``.
"""

from __future__ import annotations

from inbox.from_ap.answers import (
    AnnounceData,
    AnswerData,
    UndoData,
    announce_from_ap,
    answer_from_ap,
    undo_from_ap,
)
from inbox.from_ap.exchanges import OfferData, agreement_of_event, offer_from_ap
from inbox.from_ap.flags import FlagData, flag_from_ap
from inbox.from_ap.listings import ListingData, listing_from_ap
from inbox.from_ap.notes import NoteData, PostData, note_from_ap, post_from_ap
from inbox.from_ap.values import MalformedObject

__all__ = [
    "AnnounceData",
    "AnswerData",
    "FlagData",
    "ListingData",
    "MalformedObject",
    "NoteData",
    "OfferData",
    "PostData",
    "UndoData",
    "agreement_of_event",
    "announce_from_ap",
    "answer_from_ap",
    "flag_from_ap",
    "listing_from_ap",
    "note_from_ap",
    "offer_from_ap",
    "post_from_ap",
    "undo_from_ap",
]
