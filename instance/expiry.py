"""Listings expire: past their ``available_until``, or past the node's default
lifetime (``listings.default_lifetime_days``, 90 days).

A local listing's ``expires_at`` is computed when it is published or edited;
the expiry loop marks due ones ``expired`` and federates an ``Update`` with
the new status, so followers elsewhere see it too. Remote listings expire
here by the same rules when their origin has not said so itself (a node that
went silent must not leave stale offers in our search).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from config.database import utcnow
from domain import listing_states
from domain.listing_states import LISTING
from domain.matches import prune_closed
from domain.models import Listing
from instance.node import Node
from outbox import listings as listing_activities

log = logging.getLogger(__name__)
BATCH = 200


async def expire_due(node: Node) -> int:
    """Expire what is due now; returns how many listings changed."""
    now = utcnow()
    changed = 0
    while True:
        async with node.transaction() as session:
            rows = await session.execute(
                select(Listing)
                .where(
                    Listing.local.is_(True),
                    Listing.status == "open",
                    Listing.expires_at.is_not(None),
                    Listing.expires_at <= now,
                )
                .limit(BATCH)
                # Several processes may expire at once on PostgreSQL: each takes its own rows.
                .with_for_update(skip_locked=True, of=Listing)
            )
            due = list(rows.scalars().unique())
            for listing in due:
                listing_states.transition(listing, "expired")
                listing.updated_at = now
                await session.flush()
                await listing_activities.updated(session, node.settings, listing)
        changed += len(due)
        if len(due) < BATCH:
            break
    lifetime = timedelta(days=node.settings.listings.default_lifetime_days)
    async with node.transaction() as session:
        # Remote listings expire here too (their node may be gone): open ones only.
        result = await session.execute(
            LISTING.bulk(
                update(Listing).where(
                    Listing.local.is_(False),
                    Listing.status == "open",
                    or_(
                        Listing.available_until < now.date(),
                        Listing.published_at < now - lifetime,
                    ),
                ),
                Listing.status,
                "expired",
            )
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if changed:
        async with node.transaction() as session:
            await prune_closed(session)
        log.info("%d listings expired", changed)
    return changed
