"""Report floods: dozens of reports in seconds, to bury the moderators' queue.

Every report notifies each moderator (and a report made here about remote
content sends a ``Flag`` to its node), so reports are bounded in a sliding
hour: from one remote actor and from one remote server (``Flag``), and from
one local structure (the JSON API and the « Signaler » form, which share
``instance.services.moderation.create_report``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.models import Person
from domain.social import Notification, Report
from federation.models import InboxItem
from inbox.handlers.reports import PER_ACTOR_PER_HOUR, PER_DOMAIN_PER_HOUR
from instance.services.moderation import REPORTS_PER_STRUCTURE_PER_HOUR
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import AS, deliver, new_id, rsa_key
from tests.support import TestNode
from tests.web.browser import Browser

TARGET = "a.test"
FERME = f"https://{TARGET}/actors/ferme"


@pytest.fixture
async def territory(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> AsyncIterator[tuple[FediNet, TestNode]]:
    async with network(tmp_path, new_db_url, [TARGET]) as (net, (a,)):
        await a.structure("ferme", owner="f@a.example")
        await a.person("modo@a.example", role="moderator")
        yield net, a


async def _counts(node: TestNode) -> tuple[int, int]:
    """Reports and notifications of reports on the node."""
    async with node.node.db.session() as session:
        reports = await session.scalar(select(func.count()).select_from(Report))
        notices = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "report")
        )
    return int(reports or 0), int(notices or 0)


async def _moderators(node: TestNode) -> int:
    """How many people a report notifies (admins and moderators)."""
    async with node.node.db.session() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.role.in_(["admin", "moderator"]), Person.disabled_at.is_(None))
        )
    assert found
    return int(found)


def flag(actor: str, n: int) -> dict[str, Any]:
    host = actor.split("/")[2]
    return {
        "@context": AS,
        "id": new_id(host, f"flags-{n}"),
        "type": "Flag",
        "actor": actor,
        "object": [FERME],
        "content": f"spam n° {n}",
    }


async def _flags(net: FediNet, sender: FakeActor, count: int) -> list[str]:
    ids = []
    for n in range(count):
        activity = flag(sender.uri, n)
        response = await deliver(net, f"https://{TARGET}/inbox", activity, sender.signing_key)
        assert response.status_code == 202, response.text
        ids.append(activity["id"])
    return ids


async def test_flag_flood_from_one_actor_and_one_server_is_bounded(
    territory: tuple[FediNet, TestNode],
) -> None:
    """Attack: one remote actor files 25 Flags about a structure in seconds (25 reports, 50
    notifications before); then 19 more accounts of its server file 2 each. Only
    ``PER_ACTOR_PER_HOUR`` reports of one actor and ``PER_DOMAIN_PER_HOUR`` of one server
    are kept in an hour; the others are dropped (their inbox items ``ignored`` with the
    reason, no error, no retry), with no notification. Another server's report still
    arrives."""
    net, node = territory
    notified = await _moderators(node)
    loud = FakeActor("https://spam.test/users/loud", rsa_key(81))
    others = [FakeActor(f"https://spam.test/users/u{n}", rsa_key(82)) for n in range(19)]
    honest = FakeActor("https://honest.test/users/modo", rsa_key(83))
    net.hooks.extend([loud, *others, honest])

    ids = await _flags(net, loud, 25)
    await net.settle()
    assert await _counts(node) == (PER_ACTOR_PER_HOUR, PER_ACTOR_PER_HOUR * notified)
    async with node.node.db.session() as session:
        outcomes = list(
            await session.execute(
                select(InboxItem.state, InboxItem.error).where(InboxItem.activity_uri.in_(ids))
            )
        )
    dropped = [error for state, error in outcomes if state == "ignored"]
    assert len(dropped) == 25 - PER_ACTOR_PER_HOUR
    assert all(e and "from this actor in the last hour" in e for e in dropped), dropped
    assert {state for state, _ in outcomes} == {"done", "ignored"}

    for sender in others:
        await _flags(net, sender, 2)
    await net.settle()
    assert (await _counts(node))[0] == PER_DOMAIN_PER_HOUR

    await _flags(net, honest, 1)
    await net.settle()
    assert await _counts(node) == (PER_DOMAIN_PER_HOUR + 1, (PER_DOMAIN_PER_HOUR + 1) * notified)


async def test_report_flood_from_one_structure_is_bounded(
    territory: tuple[FediNet, TestNode],
) -> None:
    """Attack: a structure (or whoever stole its login) files reports in a row through the
    JSON API and the « Signaler » form. Past ``REPORTS_PER_STRUCTURE_PER_HOUR`` in an hour,
    the API answers 429 ``rate_limited`` with ``Retry-After`` and the form says so (429);
    nothing more is stored or notified. Another structure can still report."""
    _, node = territory
    notified = await _moderators(node)
    await node.structure("atelier", owner="at@a.example")
    await node.structure("depot", owner="d@a.example")
    token = await node.token("at@a.example")
    body = {"actor": "atelier", "target": FERME, "reason": "Annonces trompeuses"}
    for _ in range(REPORTS_PER_STRUCTURE_PER_HOUR):
        response = await node.api("POST", "/api/v1/reports", token=token, json=body)
        assert response.status_code == 201, await response.get_data()
    response = await node.api("POST", "/api/v1/reports", token=token, json=body)
    assert response.status_code == 429, await response.get_data()
    assert (await response.get_json())["error"] == "rate_limited"
    assert 3000 <= int(response.headers["Retry-After"]) <= 3601

    browser = Browser(node)
    await browser.login("at@a.example")
    form = await browser.get(f"/report?target={FERME}")
    assert form.status == 200, form.text
    page = await browser.post(
        "/report",
        {"target": FERME, "structure": "atelier", "reason": "Encore"},
        csrf=form.csrf,
    )
    assert page.status == 429, page.text
    assert "de nombreux signalements" in page
    bound = REPORTS_PER_STRUCTURE_PER_HOUR
    assert await _counts(node) == (bound, bound * notified)

    other = await node.token("d@a.example")
    response = await node.api(
        "POST", "/api/v1/reports", token=other, json=body | {"actor": "depot"}
    )
    assert response.status_code == 201, await response.get_data()
