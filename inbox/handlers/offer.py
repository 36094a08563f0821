"""Offer: a remote structure proposes an exchange on one of our listings (FEP-0837).

An ``Offer`` of an ``Agreement``; anything else offered is ignored. See
``inbox.exchanges``.
"""

from __future__ import annotations

from inbox.activity import Incoming
from inbox.context import Context
from inbox.exchanges import receive_offer


async def handle(ctx: Context, act: Incoming) -> str | None:
    if act.object_type != "Agreement":
        return f"an Offer of {act.object_type or 'a reference'}: not an exchange proposal"
    return await receive_offer(ctx, act)
