"""Each structure's e-mail choice: at once, a daily digest (tested with a chosen clock),
or never; decisions about one's own account go at once whatever the choice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.notify import notify_structure
from domain.validation import Invalid
from instance.mail import send_pending
from instance.services.mail_notifications import frequency, set_frequency
from tests.smtp import SmtpServer, text
from tests.support import TestNode, make_settings, running_node

# Tomorrow, midnight UTC: the test's clock runs ahead of the mails queued now.
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def mailing(db_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[TestNode]:
    settings = make_settings(tmp_path / "n", db_url, mail=smtp.settings(digest_hour=7))
    async with running_node(settings) as node:
        yield node


async def _notify(node: TestNode, structure_id: int, kind: str, **data: str) -> None:
    async with node.node.db.session() as session:
        await notify_structure(session, structure_id, kind, data, "/notifications")


async def _choose(node: TestNode, structure_id: int, value: str) -> None:
    async with node.node.db.session() as session:
        await set_frequency(session, structure_id, value)


async def test_daily_digest_once_a_day(mailing: TestNode, smtp: SmtpServer) -> None:
    ferme = await mailing.structure("ferme", owner="ana@example.org")
    await _choose(mailing, ferme.id, "digest")
    early = DAY + timedelta(hours=5)
    await _notify(mailing, ferme.id, "follower", name="Bob")
    await _notify(mailing, ferme.id, "message", **{"from": "Carole"})
    assert await send_pending(mailing.node, now=early) == 0  # not before the digest hour
    morning = DAY + timedelta(hours=7, minutes=1)
    assert await send_pending(mailing.node, now=morning) == 1
    [digest] = smtp.messages
    assert digest["To"] == "ana@example.org"
    assert digest["Subject"] == "Territoire A — Votre résumé du jour"
    body = text(digest)
    assert "Bob" in body and "Carole" in body
    noon = DAY + timedelta(hours=12)
    await _notify(mailing, ferme.id, "follower", name="Denis")
    assert await send_pending(mailing.node, now=noon) == 0  # one digest a day
    assert await send_pending(mailing.node, now=DAY + timedelta(hours=23)) == 0
    tomorrow = DAY + timedelta(days=1, hours=8)
    assert await send_pending(mailing.node, now=tomorrow) == 1
    assert "Denis" in text(smtp.messages[1]) and "Bob" not in text(smtp.messages[1])
    assert await send_pending(mailing.node, now=tomorrow + timedelta(hours=1)) == 0


async def test_never_and_decisions_always(mailing: TestNode, smtp: SmtpServer) -> None:
    ferme = await mailing.structure("ferme", owner="ana@example.org")
    await _choose(mailing, ferme.id, "never")
    now = DAY + timedelta(hours=9)
    await _notify(mailing, ferme.id, "follower", name="Bob")
    await _notify(mailing, ferme.id, "structure_rejected", name="Ferme", reason="Adresse inconnue")
    assert await send_pending(mailing.node, now=now) == 1
    assert await send_pending(mailing.node, now=now + timedelta(days=1)) == 0
    [decision] = smtp.messages
    assert "Adresse inconnue" in text(decision)


async def test_at_once_is_the_default_and_choices_are_checked(
    mailing: TestNode, smtp: SmtpServer
) -> None:
    ferme = await mailing.structure("ferme", owner="ana@example.org")
    await mailing.person("bea@example.org")
    async with mailing.node.db.session() as session:
        assert await frequency(session, ferme.id) == "now"
        with pytest.raises(Invalid):
            await set_frequency(session, ferme.id, "weekly")
    now = DAY + timedelta(hours=3)
    await _notify(mailing, ferme.id, "follower", name="Bob")
    assert await send_pending(mailing.node, now=now) == 1
    assert "Bob" in text(smtp.messages[0])
