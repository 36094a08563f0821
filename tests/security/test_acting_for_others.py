"""Who may act for whom: roles never stand in for membership of a structure.

One node, ``a.test``, for the whole module (on the databases of ``module_db``). Its
structures: ``victime`` (owned by ``v@a.example``, which has written to
``voisine`` and is a member of the community ``reseau``), ``voisine``,
``suspendue`` (suspended by a moderator), ``attente`` (awaiting approval) and
``refusee`` (rejected). Its people: the owners, a moderator, an
administrator, an animator, and a member of no structure. A remote actor,
``https://b.example/users/bob``, is served by a hook; ``unknown.example`` is a
host nobody answers for, so that any request made to it shows in the log.

A moderator or an administrator is no member of ``victime``: through the API
they read nothing of it and do nothing in its name (messages, follows,
timeline, reports, community posts, publishing). Moderation goes through the
moderation endpoints only, and those keep to their own powers.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from domain.models import Structure
from federation.models import DomainPolicy
from tests.security import acting_for_others_support
from tests.security.acting_for_others_support import BOB, SECRET, World, _api, _counts
from tests.web.browser import Browser

world = acting_for_others_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


# (method, path, body) — each uses the structure ``victime`` as its own.
ACTING_AS_VICTIME = {
    "read_its_conversations": ("GET", "/api/v1/messages?actor=victime", None),
    "send_a_message_as_it": (
        "POST",
        "/api/v1/messages",
        {"from": "victime", "to": "voisine", "content": "Message usurpé"},
    ),
    "follow_in_its_name": ("POST", "/api/v1/follows", {"actor": "victime", "target": BOB}),
    "read_what_it_follows": ("GET", "/api/v1/follows?actor=victime", None),
    "unfollow_in_its_name": ("DELETE", f"/api/v1/follows?actor=victime&target={BOB}", None),
    "read_its_timeline": ("GET", "/api/v1/timeline?actor=victime", None),
    "report_as_it": (
        "POST",
        "/api/v1/reports",
        {"actor": "victime", "target": "https://a.test/actors/voisine", "reason": "Usurpé"},
    ),
    "post_in_a_community_as_it": (
        "POST",
        "/api/v1/communities/reseau/posts",
        {"from": "victime", "content": "Annonce usurpée"},
    ),
    "publish_a_listing_for_it": (
        "POST",
        "/api/v1/listings",
        {
            "structure": "victime",
            "kind": "offer",
            "title": "Annonce usurpée",
            "description": "Publiée par quelqu'un d'autre.",
            "category": "equipment",
            "modality": "give",
        },
    ),
}


@pytest.mark.parametrize("role", ["moderator", "admin", "loner"])
@pytest.mark.parametrize("action", list(ACTING_AS_VICTIME))
async def test_acting_for_a_structure_without_membership_is_refused(
    world: World, role: str, action: str
) -> None:
    """Attack: a moderator's (or an administrator's) API token reads a structure's private
    conversations and timeline, or sends messages, follows, reports, posts in a community
    and publishes in its name — the web pages refuse them, the API let any moderator act
    for every structure. Each is 403 for anyone who is not a member of the structure,
    whatever their role, with nothing of the structure in the answer and nothing
    created."""
    method, path, body = ACTING_AS_VICTIME[action]
    token = getattr(world, role)
    before = await _counts(world.a)
    status, text = await _api(world.a, method, path, token, body)
    assert status == 403, (action, role, status, text)
    assert SECRET not in text
    assert await _counts(world.a) == before
    assert not [e for e in world.net.log if "b.example" in e.url]


async def test_members_still_act_for_their_structure(world: World) -> None:
    """The owner of ``victime`` does what the others may not: reads its conversations (the
    secret included) and its timeline, and posts in its community."""
    status, text = await _api(world.a, "GET", "/api/v1/messages?actor=victime", world.owner)
    assert status == 200 and SECRET in text
    status, text = await _api(world.a, "GET", "/api/v1/timeline?actor=victime", world.owner)
    assert status == 200, text
    status, text = await _api(
        world.a,
        "POST",
        "/api/v1/communities/reseau/posts",
        world.owner,
        {"from": "victime", "content": "Bonjour le réseau"},
    )
    assert status == 201, text


# --- moderation keeps to its powers -----------------------------------------------------


@pytest.mark.parametrize("handle", ["attente", "refusee"])
async def test_moderator_approving_a_structure_through_unsuspend_is_refused(
    world: World, handle: str
) -> None:
    """Attack: a moderator "unsuspends" a structure awaiting approval or rejected, which
    approved it (only administrators approve), or suspends it first and then unsuspends
    it. Unsuspending applies to suspended structures only, suspending to approved ones:
    409 each time, through the API and the moderation page, and the structure stays as it
    was, with no actor."""
    for action in ("unsuspend", "suspend", "unsuspend"):
        status, text = await _api(
            world.a, "POST", f"/api/v1/moderation/structures/{handle}/{action}", world.moderator, {}
        )
        assert status == 409, (action, status, text)
    await world.a.person("webmod@a.example", role="moderator")
    browser = Browser(world.a)
    await browser.login("webmod@a.example")
    for action in ("unsuspend", "suspend", "unsuspend"):
        page = await browser.post(
            f"/admin/moderation/structures/{handle}/{action}", csrf_from="/admin/reports"
        )
        assert page.status == 302, page.text
    async with world.a.node.db.session() as session:
        structure = (
            await session.execute(select(Structure).where(Structure.handle == handle))
        ).scalar_one()
        assert structure.status == ("pending" if handle == "attente" else "rejected")
        assert structure.actor_id is None


async def test_unsuspending_a_suspended_structure_still_works(world: World) -> None:
    """A structure suspended, then unsuspended, is approved again (and can be suspended
    again): the moderators' own power is kept."""
    await world.a.structure("passagere", owner="p@a.example")
    for action, expected in (("suspend", "suspended"), ("unsuspend", "approved")):
        status, text = await _api(
            world.a,
            "POST",
            f"/api/v1/moderation/structures/passagere/{action}",
            world.moderator,
            {},
        )
        assert status == 200, text
        assert json.loads(text)["status"] == expected


@pytest.mark.parametrize("policy", ["", "allow", "silence"], ids=["clear", "allow", "silence"])
async def test_moderator_lifting_an_admins_domain_block_is_refused(
    world: World, policy: str
) -> None:
    """Attack: an administrator blocked ``evil.example`` (the federation page, for
    administrators only); a moderator clears the block, allows the domain, or softens it
    to a silence through ``POST /api/v1/moderation/domains``. 403: a moderator may only
    make a domain's policy stricter (silence, block); allowing and lifting are for
    administrators. The block holds."""
    status, text = await _api(
        world.a,
        "POST",
        "/api/v1/moderation/domains",
        world.admin,
        {"domain": "evil.example", "policy": "block"},
    )
    assert status == 200, text
    status, text = await _api(
        world.a,
        "POST",
        "/api/v1/moderation/domains",
        world.moderator,
        {"domain": "evil.example", "policy": policy},
    )
    assert status == 403, text
    status, text = await _api(
        world.a,
        "POST",
        "/api/v1/moderation/domains",
        world.moderator,
        {"domain": "fresh.example", "policy": "allow"},
    )
    assert status == 403, text
    async with world.a.node.db.session() as session:
        block = await session.get(DomainPolicy, "evil.example")
        assert block is not None and block.policy == "block"
        assert await session.get(DomainPolicy, "fresh.example") is None


async def test_moderator_may_still_silence_and_block_domains(world: World) -> None:
    """A moderator silences a domain, then blocks it (stricter each time); an administrator
    lifts the block."""
    for token, policy in (
        (world.moderator, "silence"),
        (world.moderator, "block"),
        (world.admin, ""),
    ):
        status, text = await _api(
            world.a,
            "POST",
            "/api/v1/moderation/domains",
            token,
            {"domain": "noisy.example", "policy": policy},
        )
        assert status == 200, (policy, text)
    async with world.a.node.db.session() as session:
        assert await session.get(DomainPolicy, "noisy.example") is None
