"""The durable mail queue: queued in the caller's transaction, sent by the worker through a
real SMTP server on 127.0.0.1 (aiosmtpd), retried, never sent twice, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.database import utcnow
from domain.outgoing_mail import OutgoingMail
from instance.housekeeping import prune_mail
from instance.mail import send_due
from instance.services import outgoing_mail
from instance.services.outgoing_mail import MAX_TRIES, backoff, enqueue
from tests.smtp import SmtpServer, text
from tests.support import TestNode, make_settings, running_node


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def mailing(db_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[TestNode]:
    settings = make_settings(tmp_path / "n", db_url, mail=smtp.settings())
    async with running_node(settings) as node:
        yield node


async def _queue(node: TestNode, to: str, key: str | None = None, subject: str = "Bonjour") -> None:
    async with node.node.db.session() as session:
        await enqueue(
            session,
            to=to,
            subject=subject,
            body="Corps du message\n",
            lang="fr",
            kind="test",
            dedupe_key=key,
        )


async def _mails(node: TestNode) -> list[OutgoingMail]:
    async with node.node.db.session() as session:
        rows = await session.execute(select(OutgoingMail).order_by(OutgoingMail.id))
        return list(rows.scalars())


async def test_a_queued_mail_is_sent_once(mailing: TestNode, smtp: SmtpServer) -> None:
    await _queue(mailing, "ana@example.org", subject="Bonjour\r\nBcc: evil@example.org")
    assert await send_due(mailing.node) == 1
    assert await send_due(mailing.node) == 0
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "ana@example.org"
    assert message["From"] == "noreply@a.test"
    assert message["Subject"] == "Bonjour Bcc: evil@example.org"  # one line: no header injected
    assert message["Content-Language"] == "fr"
    assert smtp.envelopes[0][1] == ["ana@example.org"]
    assert text(message) == "Corps du message\n"
    [mail] = await _mails(mailing)
    assert (mail.state, mail.tries, mail.locked_by) == ("sent", 0, None)
    assert mail.sent_at is not None


async def test_queued_in_the_callers_transaction_and_deduplicated(mailing: TestNode) -> None:
    async def fails() -> None:
        async with mailing.node.db.session() as session:
            await enqueue(session, to="a@example.org", subject="s", body="b", lang="en", kind="k")
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        await fails()
    assert await _mails(mailing) == []
    await _queue(mailing, "a@example.org", key="digest:1:2026-12-06")
    await _queue(mailing, "a@example.org", key="digest:1:2026-12-06")
    assert len(await _mails(mailing)) == 1


async def test_server_down_then_up_delivers_once(mailing: TestNode, smtp: SmtpServer) -> None:
    await _queue(mailing, "ana@example.org")
    await _queue(mailing, "bob@example.org")
    smtp.stop()
    with pytest.raises(ConnectionRefusedError):
        await send_due(mailing.node)
    mails = await _mails(mailing)
    assert [(m.state, m.tries, m.locked_by) for m in mails] == [("pending", 0, None)] * 2
    assert all(m.last_error for m in mails)
    smtp.start()  # back, on the same port
    assert await send_due(mailing.node) == 0  # not due yet: it waits a minute
    later = utcnow() + timedelta(minutes=2)
    assert await send_due(mailing.node, now=later) == 2
    assert await send_due(mailing.node, now=later + timedelta(hours=1)) == 0
    assert sorted(m["To"] for m in smtp.messages) == ["ana@example.org", "bob@example.org"]


async def test_refusals_retry_with_backoff_then_fail(mailing: TestNode, smtp: SmtpServer) -> None:
    smtp.refuse["busy@example.org"] = "451 4.3.0 try again later"
    smtp.refuse["nobody@example.org"] = "550 5.1.1 no such mailbox"
    await _queue(mailing, "busy@example.org")
    await _queue(mailing, "nobody@example.org")
    await _queue(mailing, "ana@example.org")
    now = utcnow()
    assert await send_due(mailing.node, now=now) == 1
    busy, nobody, ana = await _mails(mailing)
    assert (busy.state, busy.tries) == ("pending", 1)
    assert abs(busy.next_attempt_at - (now + backoff(1))) < timedelta(seconds=1)
    assert (nobody.state, nobody.tries) == ("failed", 1)
    assert nobody.last_error is not None and nobody.last_error.startswith("550")
    assert ana.state == "sent"
    for _ in range(MAX_TRIES + 2):
        now += timedelta(hours=5)
        await send_due(mailing.node, now=now)
    busy, _, _ = await _mails(mailing)
    assert (busy.state, busy.tries) == ("failed", MAX_TRIES)
    assert [m["To"] for m in smtp.messages] == ["ana@example.org"]


async def test_two_workers_never_send_one_mail_twice(mailing: TestNode, smtp: SmtpServer) -> None:
    for i in range(30):
        await _queue(mailing, f"p{i}@example.org")
    sent = await asyncio.gather(*(send_due(mailing.node, worker=f"mail-w{i}") for i in range(3)))
    assert sum(sent) == 30
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"p{i}@example.org" for i in range(30))


async def test_without_smtp_mails_wait_and_are_given_up_after_a_week(node: TestNode) -> None:
    await _queue(node, "ana@example.org")
    assert await send_due(node.node) == 0
    async with node.node.db.session() as session:
        assert await outgoing_mail.waiting(session) == 1
    assert await send_due(node.node, now=utcnow() + timedelta(days=6)) == 0
    assert [m.state for m in await _mails(node)] == ["pending"]
    await send_due(node.node, now=utcnow() + timedelta(days=8))
    [mail] = await _mails(node)
    assert (mail.state, mail.last_error) == ("failed", "too old: not sent")
    async with node.node.db.session() as session:
        assert await outgoing_mail.waiting(session) == 0


async def test_finished_mails_are_pruned_after_keep_days(mailing: TestNode) -> None:
    await _queue(mailing, "old-sent@example.org")
    await _queue(mailing, "recent-sent@example.org")
    assert await send_due(mailing.node) == 2
    await _queue(mailing, "old-pending@example.org")
    old = utcnow() - timedelta(days=mailing.settings.workers.keep_days + 1)
    async with mailing.node.db.session() as session:
        for mail in (await session.execute(select(OutgoingMail))).scalars():
            if mail.to_address.startswith("old"):
                mail.created_at = old
    assert await prune_mail(mailing.node) == 1
    left = sorted(m.to_address for m in await _mails(mailing))
    assert left == ["old-pending@example.org", "recent-sent@example.org"]
