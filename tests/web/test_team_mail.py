"""The invitation to join a structure, by e-mail through a real SMTP server on 127.0.0.1
(aiosmtpd): the colleague follows the link of the e-mail they received."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from instance.mail import send_pending
from tests.smtp import SmtpServer, text
from tests.support import PASSWORD, TestNode, make_settings, running_node
from tests.web.browser import Browser


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


async def test_invitation_email_is_received_and_its_link_opens_the_team(
    mailing: TestNode, smtp: SmtpServer
) -> None:
    await mailing.structure("menuiserie", owner="ana@example.org", name="Menuiserie Lasserre")
    owner = Browser(mailing, headers={"Accept-Language": "en"})
    await owner.login("ana@example.org")
    page = await owner.post(
        "/@menuiserie/team/invite",
        {"email": "Bruno@Menuiserie.example"},
        csrf_from="/@menuiserie/team",
    )
    assert page.status == 302
    team = await owner.get("/@menuiserie/team")
    assert "An invitation is sent to bruno@menuiserie.example." in team
    assert "a.test/invitations/" not in team.text  # the link goes by e-mail only

    assert await send_pending(mailing.node) == 1
    [received] = smtp.to("bruno@menuiserie.example")
    assert received["Subject"] == "Territoire A — Invitation to join Menuiserie Lasserre"
    assert received["Content-Language"] == "en"
    body = text(received)
    assert "invites you to act for Menuiserie Lasserre" in body
    found = re.search(r"https://a\.test(/invitations/\S+)", body)
    assert found, body

    colleague = Browser(mailing)
    link = found.group(1)
    joined = await colleague.post(
        link, {"display_name": "Bruno", "password": PASSWORD}, csrf_from=link
    )
    assert joined.status == 302
    assert "Bruno" in await colleague.get("/@menuiserie/team")
    assert (await Browser(mailing).get(link)).status == 410  # once
