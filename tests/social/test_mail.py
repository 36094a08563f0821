"""Notification e-mails: sent through a real (tiny) SMTP server on 127.0.0.1; none lost when
the server is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.notify import notify_roles
from domain.social import Notification
from instance.mail import send_pending
from tests.databases import free_port
from tests.support import make_settings, running_node


class SmtpSink:
    """Just enough of SMTP (RFC 5321) to receive messages: EHLO, MAIL, RCPT, DATA, QUIT."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        data: list[str] | None = None
        while line := await reader.readline():
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if data is not None:
                if text == ".":
                    self.messages.append("\n".join(data))
                    data = None
                    writer.write(b"250 queued\r\n")
                else:
                    data.append(text)
                continue
            verb = text.split(" ", 1)[0].upper()
            if verb == "EHLO":
                writer.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == "DATA":
                data = []
                writer.write(b"354 go ahead\r\n")
            elif verb == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = free_port()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", port)
    async with server:
        yield sink, port


async def test_notifications_are_emailed(
    db_url: str, tmp_path: Path, smtp: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp
    settings = make_settings(
        tmp_path / "n",
        db_url,
        mail={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "starttls": False,
            "from_address": "noreply@a.test",
        },
    )
    async with running_node(settings) as node:
        await node.person("admin@a.test", role="admin")
        async with node.node.db.session() as session:
            await notify_roles(
                session, ("admin",), "structure_pending", {"name": "Ferme"}, "/admin/structures"
            )
        assert await send_pending(node.node) == 1
        assert await send_pending(node.node) == 0
        assert len(sink.messages) == 1
        assert "To: admin@a.test" in sink.messages[0]
        assert "https://a.test/admin/structures" in sink.messages[0]


async def test_mail_server_down_loses_nothing(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "n",
        db_url,
        mail={
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "starttls": False,
        },
    )
    async with running_node(settings) as node:
        await node.person("admin@a.test", role="admin")
        async with node.node.db.session() as session:
            await notify_roles(session, ("admin",), "report", {}, "/admin/reports")
        with pytest.raises(ConnectionRefusedError):
            await send_pending(node.node)
        async with node.node.db.session() as session:
            pending = (
                (
                    await session.execute(
                        select(Notification).where(Notification.emailed_at.is_(None))
                    )
                )
                .scalars()
                .all()
            )
        assert len(pending) == 1
