"""Reads moved out of the pages, on a real database: the home page's and the administration
hub's figures (``instance.services.stats``) and the health of remote domains
(``instance.services.peering``)."""

from __future__ import annotations

from config.database import utcnow
from federation.models import DomainHealth, DomainPolicy
from instance.services.peering import domain_rows
from instance.services.stats import instance_counts, open_counts
from tests.support import TestNode


async def test_figures_count_approved_structures_and_pending_ones(node: TestNode) -> None:
    await node.structure("menuiserie")
    await node.structure("attente", approved=False)
    async with node.node.db.session() as session:
        counts = await instance_counts(session)
        hub = await open_counts(session)
    assert counts == {
        "structures": 1, "listings": 0, "local_listings": 0, "remote_listings": 0, "peers": 0,
    }  # fmt: skip
    # Every node starts with its governance community (instance.bootstrap).
    assert hub == {"pending": 1, "reports": 0, "failing": 0, "peer_requests": 0, "communities": 1}


async def test_remote_domains_failing_ones_first(node: TestNode) -> None:
    now = utcnow()
    async with node.node.transaction() as session:
        session.add(DomainHealth(domain="ok.test", last_success_at=now, failures=0))
        session.add(DomainHealth(domain="down.test", failures=3, unavailable_since=now))
        session.add(DomainPolicy(domain="spam.test", policy="block", reason="spam"))
    async with node.node.db.session() as session:
        rows = await domain_rows(session)
        failing = (await open_counts(session))["failing"]
    assert [(r.domain, r.state) for r in rows] == [
        ("down.test", "unavailable"),
        ("spam.test", "unknown"),
        ("ok.test", "ok"),
    ]
    assert (rows[1].policy, rows[1].reason) == ("block", "spam")
    assert failing == 1
