"""Values written on both sides of the wire, each table once.

The outgoing converters (``outbox/to_ap``) write the left-hand side, the
incoming ones (``inbox/from_ap``) read it back: every inverse table here is
computed from its source, so a value added to one direction is known to the
other.
"""

from __future__ import annotations

from typing import Literal

from domain.exchanges import Action

# The hashtag of each modality in a federated listing (``#pret``…), which
# Mastodon links and which tells another server the modality.
MODALITY_HASHTAGS: dict[str, str] = {
    "lend": "pret",
    "mutualise": "mutualisation",
    "give": "don",
    "sell": "vente",
    "barter": "troc",
}
MODALITY_BY_HASHTAG: dict[str, str] = {tag: m for m, tag in MODALITY_HASHTAGS.items()}

# The Wikidata items of the currencies a listing can be priced in (FEP-0837
# names the currency as the ``resourceConformsTo`` of the reciprocal Intent).
CURRENCY_ITEMS: dict[str, str] = {
    "EUR": "https://www.wikidata.org/wiki/Q4916",
    "USD": "https://www.wikidata.org/wiki/Q4917",
    "CHF": "https://www.wikidata.org/wiki/Q25344",
    "GBP": "https://www.wikidata.org/wiki/Q25224",
}
# Keyed by the item's id (``Q4916``), whatever the form of its URI.
CURRENCY_BY_ITEM: dict[str, str] = {
    uri.rsplit("/", 1)[-1]: code for code, uri in CURRENCY_ITEMS.items()
}
# The prefix of a currency that has no item above (ISO 4217 code as a URN).
ISO_4217 = "urn:iso:std:iso:4217:"

# A listing's kind as the ``purpose`` of a FEP-0837 Proposal.
PURPOSES: dict[str, str] = {"offer": "offer", "need": "request"}
KIND_BY_PURPOSE: dict[str, str] = {purpose: k for k, purpose in PURPOSES.items()}

# Each change of an exchange (FEP-0837) as the activity that carries it to the
# other party, and what its object is: the Offer, or the Agreement (a ``Create``
# carries an EconomicEvent realising the Agreement).
ExchangeObject = Literal["offer", "agreement"]
EXCHANGE_ACTIVITIES: dict[Action, tuple[str, ExchangeObject]] = {
    "accept": ("Accept", "offer"),
    "decline": ("Reject", "offer"),
    "withdraw": ("Undo", "offer"),
    "cancel": ("Reject", "agreement"),
    "done": ("Create", "agreement"),
}
EXCHANGE_ACTION_OF: dict[tuple[str, ExchangeObject], Action] = {
    carried: action for action, carried in EXCHANGE_ACTIVITIES.items()
}
