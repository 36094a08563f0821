"""A real SMTP server on 127.0.0.1 for the mail tests (aiosmtpd), and what it received.

``SmtpServer(port).start()`` listens (in aiosmtpd's thread); ``stop()`` closes it, so a
test can take the server down and bring it back on the same port. ``messages`` are the
received messages, parsed (``email.message.EmailMessage``).
"""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.databases import free_port


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.server.refuse:
            return self.server.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.messages.append(message)
        self.server.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:``port``, recording every message it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}  # address -> the answer to its RCPT (e.g. "550 ...")
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The ``mail`` section of a node sending here."""
        return {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "starttls": False,
            "from_address": "noreply@a.test",
            **extra,
        }

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def text(message: EmailMessage) -> str:
    """The plain-text body of ``message`` (with ``\\n`` line ends)."""
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()  # type: ignore[attr-defined]
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
