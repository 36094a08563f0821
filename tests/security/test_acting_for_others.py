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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from actors.local import reject_structure
from domain.models import Listing, Structure
from domain.social import Community, Message, Post, Report
from federation.models import Activity, DomainPolicy, Follow
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import rsa_key
from tests.support import TestNode
from tests.web.browser import Browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "Tarif-negocie-5521"
BOB = "https://b.example/users/bob"
NOBODY = "unknown.example"


@dataclass
class World:
    net: FediNet
    a: TestNode
    owner: str  # acts for victime
    neighbour: str  # acts for voisine
    suspended_owner: str  # acts for suspendue
    moderator: str
    admin: str
    animator: str
    loner: str  # a member of no structure
    listing: int  # an open listing of suspendue, published before the suspension


async def _api(node: TestNode, method: str, path: str, token: str | None, body: Any = None) -> Any:
    response = await node.api(method, path, token=token, json=body)
    return response.status_code, await response.get_data(as_text=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("acting")
    async with network(path, module_db, ["a.test"]) as (net, (a,)):
        net.hooks.append(FakeActor(BOB, rsa_key(2048)))
        for handle, owner in (
            ("victime", "v@a.example"),
            ("voisine", "n@a.example"),
            ("suspendue", "s@a.example"),
        ):
            await a.structure(handle, owner=owner)
        await a.structure("attente", owner="w@a.example", approved=False)
        refusee = await a.structure("refusee", owner="r@a.example", approved=False)
        admin = await a.person("admin@a.example", role="admin")
        async with a.node.db.session() as session:
            structure = await session.get(Structure, refusee.id)
            assert structure is not None
            reject_structure(structure, admin, "Pas sur le territoire")
        world = World(
            net=net,
            a=a,
            owner=await a.token("v@a.example"),
            neighbour=await a.token("n@a.example"),
            suspended_owner=await a.token("s@a.example"),
            moderator=await a.token("mod@a.example", role="moderator"),
            admin=await a.token("admin@a.example", role="admin"),
            animator=await a.token("anim@a.example", role="animator"),
            loner=await a.token("seul@a.example"),
            listing=0,
        )
        status, text = await _api(
            a,
            "POST",
            "/api/v1/messages",
            world.owner,
            {"from": "victime", "to": "voisine", "content": f"Notre prix : {SECRET}"},
        )
        assert status == 201, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/communities",
            world.animator,
            {"handle": "reseau", "name": "Réseau", "description": "Club"},
        )
        assert status == 201, text
        status, text = await _api(
            a, "POST", "/api/v1/communities/reseau/members", world.owner, {"actor": "victime"}
        )
        assert status == 201, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/listings",
            world.suspended_owner,
            {
                "structure": "suspendue",
                "kind": "offer",
                "title": "Perceuse",
                "description": "Une perceuse à prêter.",
                "category": "equipment",
                "modality": "lend",
            },
        )
        assert status == 201, text
        world.listing = json.loads(text)["id"]
        status, text = await _api(
            a,
            "POST",
            "/api/v1/follows",
            world.suspended_owner,
            {"actor": "suspendue", "target": "https://a.test/actors/reseau"},
        )
        assert status == 202, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/moderation/structures/suspendue/suspend",
            world.moderator,
            {"reason": "Usurpation"},
        )
        assert status == 200, text
        yield world


async def _counts(node: TestNode) -> dict[str, int]:
    async with node.node.db.session() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Message, Follow, Report, Post, Listing, Activity, Community)
        }


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


# --- a suspended structure ----------------------------------------------------------------


async def test_suspended_structure_changing_its_listings_through_the_web_is_refused(
    world: World,
) -> None:
    """Attack: the owner of a suspended structure withdraws (or edits) one of its listings
    through the web forms, which federated a Delete (or an Update) in the name of a
    suspended actor; the API refused. 403 on both forms, the listing unchanged, no
    activity stored."""
    browser = Browser(world.a)
    await browser.login("s@a.example")
    before = await _counts(world.a)
    page = await browser.post(f"/listings/{world.listing}/withdraw", csrf_from="/account")
    assert page.status == 403, page.status
    page = await browser.post(
        f"/listings/{world.listing}/edit", {"title": "Perceuse modifiée"}, csrf_from="/account"
    )
    assert page.status == 403, page.status
    status, _ = await _api(
        world.a, "DELETE", f"/api/v1/listings/{world.listing}", world.suspended_owner
    )
    assert status in (403, 404)
    assert await _counts(world.a) == before
    async with world.a.node.db.session() as session:
        listing = await session.get(Listing, world.listing)
        assert listing is not None
        assert (listing.status, listing.title) == ("open", "Perceuse")


@pytest.mark.parametrize(
    "to",
    [
        "https://a.test/actors/suspendue",
        "https://a.test/actors/territory",
        "https://a.test/actors/reseau",
        "suspendue",
        "acct:suspendue@a.test",
    ],
    ids=["suspended_by_url", "territory_by_url", "community_by_url", "suspended", "suspended_acct"],
)
async def test_message_to_a_suspended_structure_or_a_non_structure_is_refused(
    world: World, to: str
) -> None:
    """Attack: a message addressed by its actor URL to a suspended structure, to the
    territory actor or to a community (by handle, the suspended structure was already
    refused). 422 naming ``to``, through the API and the web form; nothing stored."""
    before = await _counts(world.a)
    status, text = await _api(
        world.a,
        "POST",
        "/api/v1/messages",
        world.neighbour,
        {"from": "voisine", "to": to, "content": "Bonjour"},
    )
    assert status == 422, (to, status, text)
    assert "to" in json.loads(text)["fields"]
    browser = Browser(world.a)
    await browser.login("n@a.example")
    page = await browser.post(
        "/messages/new",
        {"from": "voisine", "to": to, "content": "Bonjour"},
        csrf_from="/messages/new",
    )
    assert page.status == 422, (to, page.status)
    assert await _counts(world.a) == before


# --- what stays hidden about people -------------------------------------------------------


async def test_animators_e_mails_are_not_shown_to_others(world: World) -> None:
    """Attack: list the communities (anonymously, or as any member) to collect the
    animators' e-mail addresses, which are their logins. No address is in the answer;
    the animators' names are. The community's own animators and the administrators
    still see the addresses."""
    for token in (None, world.loner, world.owner, world.moderator):
        status, text = await _api(world.a, "GET", "/api/v1/communities", token)
        assert status == 200
        assert "anim@a.example" not in text, token
        assert "@a.example" not in text, token
        items = {c["handle"]: c for c in json.loads(text)["items"]}
        assert "animator_names" in items["reseau"]
    for token in (world.animator, world.admin):
        status, text = await _api(world.a, "GET", "/api/v1/communities", token)
        items = {c["handle"]: c for c in json.loads(text)["items"]}
        assert items["reseau"]["animators"] == ["anim@a.example"]


async def test_community_animator_field_does_not_tell_whether_an_address_is_registered(
    world: World,
) -> None:
    """Attack: an animator creates communities naming ``animator`` addresses, and tells
    from the answer (201, or 422 "unknown person") which addresses have an account.
    Naming another animator is for administrators: an animator gets the same 403 for a
    registered and an unknown address, and nothing is created."""
    answers = []
    for n, email in enumerate(("v@a.example", "nobody@a.example")):
        before = await _counts(world.a)
        status, text = await _api(
            world.a,
            "POST",
            "/api/v1/communities",
            world.animator,
            {"handle": f"sonde{n}", "name": "Sonde", "animator": email},
        )
        body = json.loads(text)
        answers.append((status, body["error"], body["message"], body.get("fields")))
        assert await _counts(world.a) == before
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


# --- authentication comes first -------------------------------------------------------


UNAUTHENTICATED = {
    "post_in_a_remote_community": (
        f"/api/v1/communities/grp@{NOBODY}/posts",
        {"from": "victime", "content": "x"},
    ),
    "follow_a_remote_actor": (
        "/api/v1/follows",
        {"actor": "victime", "target": f"acct:x@{NOBODY}"},
    ),
    "write_to_a_remote_actor": (
        "/api/v1/messages",
        {"from": "victime", "to": f"acct:x@{NOBODY}", "content": "x"},
    ),
    "report_a_remote_actor": (
        "/api/v1/reports",
        {"actor": "victime", "target": f"https://{NOBODY}/users/x", "reason": "x"},
    ),
}


@pytest.mark.parametrize(
    "token", [None, "ent_not-a-real-token-0000"], ids=["no_token", "bad_token"]
)
@pytest.mark.parametrize("action", list(UNAUTHENTICATED))
async def test_remote_lookup_before_authentication_is_refused(
    world: World, action: str, token: str | None
) -> None:
    """Attack: without a token (or with a bad one), make the node look up a remote actor
    (WebFinger, then a fetch of the actor) — a free proxy to probe hosts and a way to
    make the node work for nobody. 401 before anything else: no request leaves."""
    path, body = UNAUTHENTICATED[action]
    world.net.log.clear()
    status, text = await _api(world.a, "POST", path, token, body)
    assert status == 401, (action, status, text)
    assert [e.url for e in world.net.log if NOBODY in e.url] == []


# --- a suspended structure named by its URL ------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [
        "https://a.test/actors/suspendue",
        "https://a.test/actors/territory",
        "https://a.test/actors/gouvernance",
        "suspendue",
    ],
    ids=["suspended_by_url", "territory_by_url", "community_by_url", "suspended"],
)
async def test_admitting_a_suspended_structure_or_a_non_structure_is_refused(
    world: World, actor: str
) -> None:
    """Attack: a community's animator admits, as a member, a suspended structure (which
    followed the community before its suspension), the territory actor or another
    community, named by its actor URL (by handle, the suspended structure was already
    refused), through the API or the community's page. 422 (naming ``actor`` in the
    API); no member added."""
    before = await _count_members(world.a)
    status, text = await _api(
        world.a, "POST", "/api/v1/communities/reseau/members", world.animator, {"actor": actor}
    )
    assert status == 422, (actor, status, text)
    assert "actor" in json.loads(text)["fields"]
    if actor.startswith("https://"):
        browser = Browser(world.a)
        await browser.login("anim@a.example")
        page = await browser.post(
            "/communities/reseau/members/add", {"actor": actor}, csrf_from="/communities/reseau"
        )
        assert page.status == 422, (actor, page.status)
    assert await _count_members(world.a) == before


async def _count_members(node: TestNode) -> int:
    from domain.social import CommunityMember

    async with node.node.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(CommunityMember)) or 0)


@pytest.mark.parametrize(
    "target", ["https://a.test/actors/suspendue", "suspendue"], ids=["by_url", "by_name"]
)
async def test_following_a_suspended_structure_is_refused(world: World, target: str) -> None:
    """Attack: a structure follows a suspended one through the follow form or the API,
    naming it by its actor URL (by name it was already refused), so that the suspended
    actor gains a follower and its content a reader. Refused (a message on the page,
    422 from the API); no follow stored."""
    before = await _counts(world.a)
    status, text = await _api(
        world.a, "POST", "/api/v1/follows", world.neighbour, {"actor": "voisine", "target": target}
    )
    assert status in (400, 422), (status, text)
    assert await _counts(world.a) == before
    browser = Browser(world.a)
    await browser.login("n@a.example")
    before = await _counts(world.a)
    page = await browser.post(
        "/follow", {"target": target, "structure": "voisine"}, csrf_from="/timeline"
    )
    assert page.status == 302
    assert "Impossible de suivre" in await browser.get(page.location)
    assert await _counts(world.a) == before
