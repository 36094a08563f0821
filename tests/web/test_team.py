"""A structure's team: invitations by e-mail link, roles, leaving and removing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from config.database import utcnow
from domain.team import Invitation
from tests.support import PASSWORD, TestNode
from tests.web.browser import Browser, Page
from tests.web.data import listing_form

COLLEAGUE = "bruno@menuiserie.example"


async def _owner(node: TestNode) -> Browser:
    await node.structure("menuiserie", owner="ana@example.org", name="Menuiserie Lasserre")
    owner = Browser(node)
    await owner.login("ana@example.org")
    return owner


def _link(page: Page) -> str:
    found = re.search(r'value="https://[^/"]+(/invitations/[^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def _invite(owner: Browser, email: str = COLLEAGUE) -> str:
    page = await owner.post(
        "/@menuiserie/team/invite", {"email": email}, csrf_from="/@menuiserie/team"
    )
    assert page.status == 200, page.text
    assert f"Une invitation est prête pour {email}" in page
    return _link(page)


async def test_invitation_journey_new_colleague_publishes_for_the_structure(
    node: TestNode,
) -> None:
    owner = await _owner(node)
    team = await owner.get("/@menuiserie/team")
    assert team.status == 200
    assert "Équipe de Menuiserie Lasserre" in team
    assert "Responsable" in team
    link = await _invite(owner)

    async with node.node.db.session() as session:
        stored = (await session.execute(select(Invitation))).scalar_one()
        secret_part = link.rsplit("/", 1)[1]
        assert stored.token_hash not in link and len(stored.token_hash) == 64
        assert secret_part not in stored.token_hash
        assert stored.expires_at - stored.created_at == timedelta(days=7)

    colleague = Browser(node)
    page = await colleague.get(link)
    assert page.status == 200
    assert "Invitation à rejoindre Menuiserie Lasserre" in page
    assert COLLEAGUE in page
    short = await colleague.post(link, {"password": "court"}, csrf_from=link)
    assert short.status == 422
    joined = await colleague.post(
        link, {"display_name": "Bruno", "password": PASSWORD}, csrf_from=link
    )
    assert joined.status == 302, joined.text
    assert joined.location == "/@menuiserie/team"
    team = await colleague.get("/@menuiserie/team")
    assert "Bienvenue : vous agissez désormais pour Menuiserie Lasserre." in team
    assert "Bruno" in team and "Membre" in team
    assert "Inviter un collègue" not in team  # members do not invite

    form = listing_form(structure="menuiserie", title="Rabot électrique")
    published = await colleague.post("/listings/new", form, csrf_from="/listings/new")
    assert published.status == 302, published.text
    listing = await colleague.get(published.location)
    assert "Rabot électrique" in listing
    assert "Menuiserie Lasserre" in listing

    # The link worked once: opening it again says so, for anyone.
    for visitor in (colleague, Browser(node)):
        again = await visitor.get(link)
        assert again.status == 410
        assert "déjà été utilisé" in again


async def test_invitation_attacks_get_a_clear_page(node: TestNode) -> None:
    owner = await _owner(node)
    link = await _invite(owner)
    visitor = Browser(node)

    # Forged: a made-up token, a token signed with another key, a tampered signature.
    from itsdangerous import URLSafeTimedSerializer

    other_key = URLSafeTimedSerializer("not the node's key", salt="entraide-invitation")
    token = link.rsplit("/", 1)[1]
    forged = [
        "/invitations/made-up-token",
        "/invitations/" + other_key.dumps("anything"),
        "/invitations/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ]
    for path in forged:
        page = await visitor.get(path)
        assert page.status == 404, path
        assert "Ce lien d’invitation n’est pas valide." in page
        posted = await visitor.post(path, {"password": PASSWORD}, csrf_from="/login")
        assert posted.status == 404, path

    # A valid signature around a secret the node never stored is forged too.
    node_key = URLSafeTimedSerializer(node.settings.web.secret_key, salt="entraide-invitation")
    page = await visitor.get("/invitations/" + node_key.dumps("never-stored"))
    assert page.status == 404

    # Expired: seven days have passed.
    async with node.node.db.session() as session:
        await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    expired = await visitor.get(link)
    assert expired.status == 410
    assert "Ce lien d’invitation a expiré" in expired
    refused = await visitor.post(link, {"password": PASSWORD}, csrf_from="/login")
    assert refused.status == 410
    assert (await visitor.get("/account")).status == 302  # no account was made

    # Cancelled by the owner.
    link = await _invite(owner, "carla@example.org")
    team = await owner.get("/@menuiserie/team")
    cancel = re.search(r'action="(/@menuiserie/team/invitations/\d+/cancel)"', team.text)
    assert cancel
    await owner.post(cancel.group(1), csrf_from="/@menuiserie/team")
    cancelled = await visitor.get(link)
    assert cancelled.status == 410
    assert "annulée" in cancelled


async def test_only_owners_invite_and_the_last_owner_cannot_leave(node: TestNode) -> None:
    owner = await _owner(node)
    stranger = Browser(node)
    await node.person("eve@example.org")
    await stranger.login("eve@example.org")
    assert (await stranger.get("/@menuiserie/team")).status == 403
    page = await stranger.post(
        "/@menuiserie/team/invite", {"email": "x@example.org"}, csrf_from="/account"
    )
    assert page.status == 403

    # An existing account accepts by logging in.
    link = await _invite(owner, "eve@example.org")
    assert "Rejoindre Menuiserie Lasserre" in await stranger.get(link)
    joined = await stranger.post(link, {}, csrf_from=link)
    assert joined.status == 302
    member = stranger
    page = await member.post(
        "/@menuiserie/team/invite", {"email": "y@example.org"}, csrf_from="/@menuiserie/team"
    )
    assert page.status == 403
    bad = await owner.post(
        "/@menuiserie/team/invite", {"email": "eve@example.org"}, csrf_from="/@menuiserie/team"
    )
    assert bad.status == 422
    assert "agit déjà pour cette structure" in bad

    # The last owner cannot leave; after handing over, they can.
    left = await owner.post("/@menuiserie/team/leave", csrf_from="/@menuiserie/team")
    assert left.location == "/@menuiserie/team"
    assert "garde toujours au moins un responsable" in await owner.get("/@menuiserie/team")
    eve = await node.person("eve@example.org")
    promoted = await owner.post(
        f"/@menuiserie/team/{eve.id}/role", {"role": "owner"}, csrf_from="/@menuiserie/team"
    )
    assert promoted.status == 302
    assert "est désormais responsable" in await owner.get("/@menuiserie/team")
    left = await owner.post("/@menuiserie/team/leave", csrf_from="/@menuiserie/team")
    assert left.location == "/account"
    assert (await owner.get("/@menuiserie/team")).status == 403

    # The new owner removes a member; the removed person no longer acts for it.
    link = await _invite(member, "carla@example.org")
    carla = Browser(node)
    await carla.post(link, {"password": PASSWORD}, csrf_from=link)
    carla_person = await node.person("carla@example.org")
    removed = await member.post(
        f"/@menuiserie/team/{carla_person.id}/remove", csrf_from="/@menuiserie/team"
    )
    assert removed.status == 302
    assert "n’agit plus pour cette structure" in await member.get("/@menuiserie/team")
    assert (await carla.get("/@menuiserie/team")).status == 403
