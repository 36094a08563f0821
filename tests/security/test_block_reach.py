"""What a domain block does to what is already here, subdomains included.

Attack: a blocked server's accounts live on under ``x.evil.example`` (or its
second server on another port): their follows would keep receiving our
activities, their listings stay in search, and deliveries queued before the
block would still be sent. ``block_domain`` reaches them all, and nothing
beyond (``notevil.example`` is another server).
"""

from __future__ import annotations

from sqlalchemy import select

from actors.local import territory_actor
from federation.models import Activity, Actor, Delivery, Follow
from instance.services.peering import block_domain
from tests.support import TestNode

HOSTS = ["evil.example", "x.evil.example", "evil.example:8443", "notevil.example"]


async def test_block_reaches_subdomains_and_queued_deliveries(node: TestNode) -> None:
    async with node.node.db.session() as session:
        territory = await territory_actor(session)
        activity = Activity(
            uri="https://a.test/activities/b1", actor_id=territory.id, type="Create", body={}
        )
        session.add(activity)
        for host in HOSTS:
            actor = Actor(
                uri=f"https://{host}/users/u",
                domain=host,
                handle="u",
                inbox_url=f"https://{host}/inbox",
            )
            session.add(actor)
            await session.flush()
            session.add(Follow(follower_id=actor.id, followed_id=territory.id, state="accepted"))
            session.add(
                Delivery(activity_id=activity.id, inbox_url=f"https://{host}/inbox", domain=host)
            )

    async with node.node.transaction() as session:
        await block_domain(session, "evil.example", "spam")

    async with node.node.db.session() as session:
        followers = (
            await session.scalars(select(Actor.domain).join(Follow, Follow.follower_id == Actor.id))
        ).all()
        assert followers == ["notevil.example"]
        states = dict((await session.execute(select(Delivery.domain, Delivery.state))).all())
    assert states == {
        "evil.example": "dead",
        "x.evil.example": "dead",
        "evil.example:8443": "dead",
        "notevil.example": "pending",
    }
