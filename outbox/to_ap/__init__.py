"""Local rows to ActivityStreams documents: every shape this node sends.

One module per object family; each function is pure (no database, no I/O)
and returns the JSON document to store and deliver (``outbox.publish.emit``):

* ``activities`` — the envelope (:func:`new_activity`), dates, decimals,
  paragraphs, tombstones;
* ``listings`` — a listing's Note with FEP-0837 fields, its Create, Update,
  Delete and the territory's Announce;
* ``notes`` — direct messages (Note, Create) and community posts (Note,
  Create with ``audience``);
* ``communities`` — the group's Announces (FEP-1b12), their Undo, a post's
  Delete;
* ``follows`` — Follow, Accept, Reject, Undo;
* ``reports`` — Flag;
* ``exchanges`` — Offer{Agreement}, its answers, Create{EconomicEvent}
  (FEP-0837);
* ``actors`` — actor documents, their collections, Update and Delete.

The reverse direction is ``inbox/from_ap``; the tables both directions use
are in ``domain/vocabulary.py``.
"""

from __future__ import annotations

from outbox.to_ap.activities import iso, new_activity, number, paragraphs, tombstone
from outbox.to_ap.listings import listing_content, listing_context, listing_object

__all__ = [
    "iso",
    "listing_content",
    "listing_context",
    "listing_object",
    "new_activity",
    "number",
    "paragraphs",
    "tombstone",
]
