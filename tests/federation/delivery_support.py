"""Helpers shared by the test_delivery modules."""

from __future__ import annotations

from sqlalchemy import select

from actors.local import territory_actor
from federation.delivery import enqueue
from federation.models import Activity, Delivery
from tests.support import TestNode

ALMOST_ONE = 0.9999


async def deliveries(node: TestNode, domain: str | None = None) -> list[Delivery]:
    async with node.node.db.session() as session:
        query = select(Delivery).order_by(Delivery.id)
        if domain:
            query = query.where(Delivery.domain == domain)
        return list((await session.execute(query)).scalars())


# ------------------------------------------------------------------ claims and leases


async def queue(node: TestNode, count: int, domain: str = "peer.test") -> list[int]:
    """``count`` due deliveries of one activity of the territory, to distinct inboxes."""
    async with node.node.db.session() as session:
        territory = await territory_actor(session)
        activity = Activity(
            uri=f"{node.base_url}/activities/queued-{count}-{domain}",
            actor_id=territory.id,
            type="Create",
            body={"id": "x", "type": "Create"},
        )
        session.add(activity)
        inboxes = [f"https://{domain}/users/{i}/inbox" for i in range(count)]
        await enqueue(session, activity, inboxes, own_domain=node.domain)
    return [d.id for d in await deliveries(node, domain)]
