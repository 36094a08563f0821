"""Mail from the pages, read from a real SMTP server on 127.0.0.1 (aiosmtpd): sign-up
received, the administrator's decision (with the reason) in the person's language;
a structure's e-mail choice; what the pages say when the node sends no e-mail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from instance.mail import send_pending
from tests.smtp import SmtpServer, text
from tests.support import TestNode, make_settings, running_node
from tests.web.browser import Browser
from tests.web.data import SIGNUP


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


async def _admin(node: TestNode) -> Browser:
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    return admin


async def _structure_id(admin: Browser) -> str:
    found = re.search(
        r'action="/admin/structures/(\d+)/approve"', (await admin.get("/admin/structures")).text
    )
    assert found
    return found.group(1)


async def test_signup_then_decision_by_email_in_each_language(
    mailing: TestNode, smtp: SmtpServer
) -> None:
    """One applicant signs up in English and is approved; another in French is rejected,
    with the reason."""
    admin = await _admin(mailing)
    english = Browser(mailing, headers={"Accept-Language": "en"})
    assert (await english.post("/signup", SIGNUP, csrf_from="/signup")).status == 302
    french = Browser(mailing, headers={"Accept-Language": "fr"})
    other = {**SIGNUP, "email": "paul@ferme.fr", "handle": "ferme_paul", "name": "Ferme Paul"}
    assert (await french.post("/signup", other, csrf_from="/signup")).status == 302
    await send_pending(mailing.node)
    [received] = smtp.to(SIGNUP["email"])
    assert received["Subject"] == "Territoire A — Sign-up received"
    assert received["Content-Language"] == "en"
    assert "We received the sign-up of « Menuiserie Lasserre »" in text(received)
    [received_fr] = smtp.to("paul@ferme.fr")
    assert received_fr["Subject"] == "Territoire A — Inscription reçue"
    pending = smtp.to("admin@example.org")  # the administrator is told, in French
    assert [m["Subject"] for m in pending] == ["Territoire A — Structure à valider"] * 2
    assert "https://a.test/admin/structures" in text(pending[0])

    queue = (await admin.get("/admin/structures")).text
    ids = re.findall(r'action="/admin/structures/(\d+)/approve"', queue)
    assert len(ids) == 2
    approve, reject = ids  # oldest first: Menuiserie Lasserre, then Ferme Paul
    page = await admin.post(f"/admin/structures/{approve}/approve", csrf_from="/admin/structures")
    assert page.status == 302
    reason = "Le SIRET ne correspond pas à une entreprise du territoire."
    page = await admin.post(
        f"/admin/structures/{reject}/reject", {"reason": reason}, csrf_from="/admin/structures"
    )
    assert page.status == 302
    assert await send_pending(mailing.node) == 2
    [_, approved] = smtp.to(SIGNUP["email"])
    assert approved["Subject"] == "Territoire A — Your structure is approved"
    body = text(approved)
    assert "Menuiserie Lasserre is approved: it is visible and can publish." in body
    assert "https://a.test/@menuiserie_lasserre" in body
    [_, rejected] = smtp.to("paul@ferme.fr")
    assert rejected["Subject"] == "Territoire A — Votre structure n’a pas été validée"
    assert rejected["Content-Language"] == "fr"
    assert reason in text(rejected)
    assert "Ferme Paul n’a pas été validée" in text(rejected)
    assert await send_pending(mailing.node) == 0  # once


async def test_login_sets_the_language_of_the_mails(mailing: TestNode, smtp: SmtpServer) -> None:
    await mailing.structure("ferme", owner="ana@example.org")
    await Browser(mailing, headers={"Accept-Language": "en"}).login("ana@example.org")
    async with mailing.node.db.session() as session:
        from domain.notify import notify_structure
        from instance.services.structures import structure_by_handle

        structure = await structure_by_handle(session, "ferme")
        assert structure is not None
        await notify_structure(session, structure.id, "follower", {"name": "Bob"}, "/@ferme")
    await send_pending(mailing.node)
    [mail] = smtp.to("ana@example.org")
    assert mail["Subject"] == "Territoire A — New follower"
    assert "Bob now follows your structure." in text(mail)
    assert "https://a.test/@ferme/notifications/settings" in text(mail)


async def test_mail_choice_page(mailing: TestNode) -> None:
    await mailing.structure("ferme", owner="ana@example.org")
    await mailing.person("eve@example.org")
    ana = Browser(mailing)
    await ana.login("ana@example.org")
    page = await ana.get("/@ferme/notifications/settings")
    assert page.status == 200
    assert "Notifications par courriel" in page
    assert 'value="now" checked' in page
    assert "n’envoie pas encore de courriel" not in page  # this node sends mail
    path = "/@ferme/notifications/settings"
    saved = await ana.post(path, {"frequency": "digest"}, csrf_from=path)
    assert (saved.status, saved.location) == (302, path)
    assert 'value="digest" checked' in await ana.get(path)
    assert "résumé quotidien" in await ana.get("/notifications")
    bad = await ana.post(path, {"frequency": "hourly"}, csrf_from=path)
    assert bad.status == 422
    english = await ana.get(path + "?lang=en")
    assert "A daily digest: one e-mail a day" in english
    eve = Browser(mailing)
    await eve.login("eve@example.org")
    assert (await eve.get(path)).status == 404
    assert (await eve.post(path, {"frequency": "never"}, csrf_from="/")).status == 404
    assert 'value="digest" checked' in await ana.get(path)


async def test_without_smtp_the_pages_say_what_was_not_sent(node: TestNode) -> None:
    admin = await _admin(node)
    await node.structure("ferme", owner="ana@example.org", approved=False)
    structure_id = await _structure_id(admin)
    done = await admin.post(
        f"/admin/structures/{structure_id}/approve", csrf_from="/admin/structures"
    )
    assert done.status == 302, done.text[-3000:]
    page = await admin.get("/admin/structures")
    assert "Le courriel n’est pas configuré : aucun courriel n’a été envoyé." in page, page.text
    await send_pending(node.node)  # the decision's mail is queued; nothing can be sent
    hub = await admin.get("/admin?lang=en")
    assert "E-mail is not configured (mail.smtp_host): 1 mail waiting, not sent." in hub
    ana = Browser(node)
    await ana.login("ana@example.org")
    choice = await ana.get("/@ferme/notifications/settings")
    assert "Ce site n’envoie pas encore de courriel" in choice
