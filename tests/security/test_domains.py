"""Domain normalisation: one host, one spelling, whatever way it is written.

A block is only as good as its comparison. Hosts reach us in URLs (actor ids,
key ids) and from administrators (``entraide domain block``, the admin page);
both go through one normalisation (:func:`federation.keys.host_of` /
:func:`~federation.keys.normalise_host`: lowercase, no trailing dot, IDN in
punycode, no default port), and a policy on a bare host holds on every port.
The attacks go through the real inbox of ``a.test``: a blocked domain is
refused (403 ``domain_blocked``) before its key is fetched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete

from federation.errors import DomainBlocked, PayloadError
from federation.keys import host_of, normalise_host
from federation.models import DomainPolicy
from federation.policy import changed, permitted, policies, set_policy
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import create, deliver, inbox_count, note, rsa_key
from tests.support import TestNode

pytestmark = pytest.mark.asyncio(loop_scope="module")

TARGET = "a.test"
INBOX = f"https://{TARGET}/inbox"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    module_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FediNet, TestNode]]:
    async with network(tmp_path_factory.mktemp("domains"), module_db, [TARGET]) as (net, (a,)):
        yield net, a


@pytest_asyncio.fixture(loop_scope="module")
async def clean(world: tuple[FediNet, TestNode]) -> AsyncIterator[tuple[FediNet, TestNode]]:
    """The world with no domain policy, and an empty network log."""
    net, node = world
    await _clear(node)
    net.log.clear()
    yield net, node
    await _clear(node)


async def _clear(node: TestNode) -> None:
    async with node.node.db.session() as session:
        await session.execute(delete(DomainPolicy))
    changed()  # the in-memory policy snapshot reloads


async def _post_as(net: FediNet, actor_uri: str, n: int) -> Any:
    """A correctly signed Create by a fake actor at ``actor_uri`` (served by the network)."""
    # Header values are ASCII: the key id of an IDN actor is sent in punycode.
    url = httpx.URL(actor_uri)
    actor = FakeActor(actor_uri, rsa_key(n), key_id=f"https://{host_of(actor_uri)}{url.path}#k")
    net.hooks.append(actor)
    try:
        return await deliver(net, INBOX, create(actor.uri, note(actor.uri)), actor.signing_key)
    finally:
        net.hooks.remove(actor)


async def _block(node: TestNode, written: str) -> None:
    async with node.node.db.session() as session:
        await set_policy(session, written, "block", "spam")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Evil.Example./users/m", "evil.example"),
        ("https://EVIL.EXAMPLE:443/users/m", "evil.example"),
        ("http://evil.example:80/users/m", "evil.example"),
        ("https://evil.example:8443/users/m", "evil.example:8443"),
        ("https://évil.example/users/m", "xn--vil-9la.example"),
        ("https://ÉVIL.example/users/m", "xn--vil-9la.example"),
        ("https://xn--vil-9la.example/users/m", "xn--vil-9la.example"),
        ("https://[::FFFF:7F00:1]:443/x", "[::ffff:7f00:1]"),
    ],
)
async def test_host_spellings_are_normalised(url: str, host: str) -> None:
    """Attack: write the same host another way (case, trailing dot, default port, IDN in
    Unicode or punycode) to look like another server. Every spelling compares equal."""
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Evil.Example.", "evil.example"),
        ("evil.example:443", "evil.example"),
        ("EVIL.EXAMPLE.:443", "evil.example"),
        ("évil.example", "xn--vil-9la.example"),
        ("127.0.0.1:8001", "127.0.0.1:8001"),
        ("::1", "[::1]"),
    ],
)
async def test_policy_domain_is_stored_normalised(written: str, stored: str) -> None:
    """An administrator's spelling is stored as a URL's host is compared."""
    assert normalise_host(written) == stored


@pytest.mark.parametrize("written", ["evil.example/x", "user@evil.example", "evil example", ""])
async def test_policy_domain_that_is_not_a_host_is_refused(written: str) -> None:
    """A path, credentials or blanks are not a domain: refused instead of stored as a
    policy that can never match."""
    with pytest.raises(PayloadError, match="HOST"):
        normalise_host(written)


@pytest.mark.parametrize(
    ("written", "actor"),
    [
        ("Evil.Example.", "https://evil.example/users/m"),
        ("evil.example:443", "https://evil.example/users/m"),
        ("evil.example", "https://EVIL.example./users/m"),
        ("évil.example", "https://xn--vil-9la.example/users/m"),
        ("xn--vil-9la.example", "https://évil.example/users/m"),
        ("ÉVIL.EXAMPLE.", "https://xn--vil-9la.example/users/m"),
        ("evil.example", "https://evil.example:8443/users/m"),
    ],
)
async def test_block_written_another_way_still_blocks(
    clean: tuple[FediNet, TestNode], written: str, actor: str
) -> None:
    """Attack: the administrator blocked ``Evil.Example.`` (or ``evil.example:443``, or its
    Unicode form); the blocked server delivers as ``https://evil.example/…`` (or punycode,
    or from another port it runs). Refused with 403 ``domain_blocked``, before any request
    to it, nothing stored. (Before the fix, every one of these was accepted with 202.)"""
    net, node = clean
    await _block(node, written)
    before = await inbox_count(node)
    response = await _post_as(net, actor, 11)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "domain_blocked"
    assert [e.url for e in net.log if e.method == "GET"] == []
    assert await inbox_count(node) == before


async def test_block_with_a_port_does_not_block_the_host(clean: tuple[FediNet, TestNode]) -> None:
    """A policy written with a port is about that port only (``127.0.0.1:8001`` and
    ``127.0.0.1:8002`` are two nodes in a local setup): the host on its default port is
    still accepted (the control experiment of the test above)."""
    net, node = clean
    await _block(node, "evil.example:8443")
    response = await _post_as(net, "https://evil.example/users/m", 12)
    assert response.status_code == 202, response.text


async def test_allow_written_another_way_still_allows(
    tmp_path_factory: pytest.TempPathFactory, module_db: Any
) -> None:
    """In allowlist mode, ``domain allow Friend.Example.`` lets ``friend.example`` deliver
    (and an unknown domain is still refused)."""
    async with network(
        tmp_path_factory.mktemp("allow"), module_db, [TARGET], federation={"mode": "allowlist"}
    ) as (net, (a,)):
        async with a.node.db.session() as session:
            await set_policy(session, "Friend.Example.", "allow")
        allowed = await _post_as(net, "https://friend.example/users/f", 13)
        stranger = await _post_as(net, "https://stranger.example/users/s", 14)
        assert (allowed.status_code, stranger.status_code) == (202, 403), allowed.text


async def test_delivery_and_fetch_skip_a_domain_blocked_another_way(
    clean: tuple[FediNet, TestNode],
) -> None:
    """The same lookups guard what we send and fetch: a domain blocked as ``Evil.Example.``
    gets no delivery (``permitted``) and is never fetched (``Remote.check_domain``)."""
    net, node = clean
    await _block(node, "Evil.Example.")
    async with node.node.db.session() as session:
        allowed = await permitted(session, {"evil.example", "evil.example:8443", "ok.test"}, "open")
        found = await policies(session, ["evil.example", "EVIL.example"])
    assert allowed == {"ok.test"}
    assert found == {"evil.example": "block", "EVIL.example": "block"}
    with pytest.raises(DomainBlocked):
        await node.node.remote.fetch("https://evil.example./users/m")
    assert net.log == []


@pytest.mark.parametrize(
    "actor",
    [
        "https://x.evil.example/users/m",
        "https://deep.er.evil.example/users/m",
        "https://X.Evil.Example./users/m",
        "https://x.evil.example:8443/users/m",
    ],
)
async def test_block_covers_subdomains(clean: tuple[FediNet, TestNode], actor: str) -> None:
    """Attack: a blocked server comes back under a fresh name of its own zone
    (``x.evil.example``). The block on ``evil.example`` holds for every subdomain, as
    Mastodon's do: 403 ``domain_blocked`` before any request to it, nothing stored; and
    nothing is sent to it or fetched from it."""
    net, node = clean
    await _block(node, "evil.example")
    before = await inbox_count(node)
    response = await _post_as(net, actor, 15)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "domain_blocked"
    assert [e.url for e in net.log if e.method == "GET"] == []
    assert await inbox_count(node) == before
    host = host_of(actor)
    async with node.node.db.session() as session:
        assert await permitted(session, {host, "ok.test"}, "open") == {"ok.test"}
    with pytest.raises(DomainBlocked):
        await node.node.remote.fetch(f"https://{host}/users/m")


async def test_subdomain_rules_do_not_overreach(
    clean: tuple[FediNet, TestNode], tmp_path_factory: pytest.TempPathFactory, module_db: Any
) -> None:
    """The control experiments: a block of ``evil.example`` does not catch
    ``notevil.example`` (a suffix, not a subdomain) nor the parent ``example``; a block of
    ``x.evil.example`` leaves ``evil.example`` alone; and an ``allow`` is for one host only
    (in allowlist mode ``friend.example`` allowed does not let ``x.friend.example`` in)."""
    net, node = clean
    await _block(node, "evil.example")
    await _block(node, "y.good.example")
    async with node.node.db.session() as session:
        found = await policies(
            session, ["notevil.example", "example", "good.example", "z.y.good.example"]
        )
    assert found == {"z.y.good.example": "block"}
    response = await _post_as(net, "https://notevil.example/users/n", 16)
    assert response.status_code == 202, response.text
    async with network(
        tmp_path_factory.mktemp("allow-sub"),
        module_db,
        [TARGET],
        federation={"mode": "allowlist"},
    ) as (net2, (a,)):
        async with a.node.db.session() as session:
            await set_policy(session, "friend.example", "allow")
        sub = await _post_as(net2, "https://x.friend.example/users/f", 17)
        assert sub.status_code == 403, sub.text
