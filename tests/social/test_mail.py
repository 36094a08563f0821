"""Notification e-mails: queued, then sent through a real SMTP server on 127.0.0.1
(aiosmtpd); none lost when the server is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.notify import notify_roles
from domain.outgoing_mail import OutgoingMail
from domain.social import Notification
from instance.mail import send_pending
from tests.databases import free_port
from tests.smtp import SmtpServer, text
from tests.support import make_settings, running_node


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


async def test_notifications_are_emailed(db_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    settings = make_settings(tmp_path / "n", db_url, mail=smtp.settings())
    async with running_node(settings) as node:
        await node.person("admin@a.test", role="admin")
        async with node.node.db.session() as session:
            await notify_roles(
                session, ("admin",), "structure_pending", {"name": "Ferme"}, "/admin/structures"
            )
        assert await send_pending(node.node) == 1
        assert await send_pending(node.node) == 0
        assert len(smtp.messages) == 1
        assert smtp.messages[0]["To"] == "admin@a.test"
        assert "https://a.test/admin/structures" in text(smtp.messages[0])


async def test_mail_server_down_loses_nothing(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "n", db_url, mail=SmtpServer(port).settings())
    async with running_node(settings) as node:
        await node.person("admin@a.test", role="admin")
        async with node.node.db.session() as session:
            await notify_roles(session, ("admin",), "report", {}, "/admin/reports")
        with pytest.raises(ConnectionRefusedError):
            await send_pending(node.node)
        async with node.node.db.session() as session:
            pending = (
                (await session.execute(select(OutgoingMail).where(OutgoingMail.state == "pending")))
                .scalars()
                .all()
            )
            assert (await session.scalar(select(Notification.emailed_at))) is not None
        assert len(pending) == 1  # the notification's mail waits in the queue
        assert pending[0].tries == 0 and pending[0].to_address == "admin@a.test"
