"""A suspended structure, or no structure at all, acted for or named by its URL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from domain.models import Listing
from tests.security import acting_for_others_support
from tests.security.acting_for_others_support import World, _api, _counts
from tests.support import TestNode
from tests.web.browser import Browser

world = acting_for_others_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
