"""What stays hidden about people, and authentication before any remote lookup."""

from __future__ import annotations

import json

import pytest

from tests.security import acting_for_others_support
from tests.security.acting_for_others_support import World, _api, _counts

world = acting_for_others_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOBODY = "unknown.example"


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
