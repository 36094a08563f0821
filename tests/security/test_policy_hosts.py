"""Domain policies name hosts, and nothing else.

An administrator (or a script with a moderator's token) writes a domain
policy through the moderation API, the Federation page or ``entraide domain
block|unblock|allow``. All three check the host with one function,
:func:`federation.policy.checked_host`: labels of 1-63 bytes (IDNA 2008 for
internationalised ones), 253 in all, a port from 1 to 65535, IP addresses in
their usual forms. What fails is refused — 422 with ``fields.domain`` on the
API and the page, exit status 2 with one line on the command line — and
nothing is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from federation.errors import PayloadError
from federation.models import DomainPolicy
from instance.cli import main
from tests.support import TestNode, make_settings, running_node
from tests.web.browser import Browser

ASYNC = pytest.mark.asyncio(loop_scope="module")

NOT_HOSTS = [
    "1",
    "1.2.3",
    "x.example:99999",
    "x.example:0",
    "x.example:",
    "xn--",
    "xn--a.example",
    "a..b",
    ".example",
    "-bad-.example",
    "bad-.example",
    "a" * 5000,
    "a" * 64 + ".example",
    ("a" * 60 + ".") * 5 + "example",
    "[::1",
    "[nope]:8001",
    "x.example/path",
    "user@x.example",
    "x example",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestNode]:
    path = tmp_path_factory.mktemp("policy-hosts")
    async with running_node(make_settings(path / "a", module_db())) as running:
        yield running


async def _stored(node: TestNode) -> int:
    async with node.node.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(DomainPolicy))).scalar())


@ASYNC
@pytest.mark.parametrize("written", NOT_HOSTS, ids=lambda value: value[:24])
async def test_domain_policy_on_a_non_host_is_refused(node: TestNode, written: str) -> None:
    """Attack: a moderator's token (or a careless script) posts policies whose domain is
    not a host — a bare number, a port out of range, an empty or invalid IDNA label, a
    label of 5,000 characters. Each is answered 422 with ``fields.domain`` saying what is
    wrong, for every policy, and nothing is stored. (Before the fix each was stored, or
    the server answered 500.)"""
    token = await node.token("moderator@example.org", role="moderator")
    before = await _stored(node)
    for policy in ("block", "allow", "silence"):
        response = await node.api(
            "POST",
            "/api/v1/moderation/domains",
            token=token,
            json={"domain": written, "policy": policy},
        )
        assert response.status_code == 422, (policy, await response.get_data(as_text=True))
        body = await response.get_json()
        assert body["error"] == "invalid" and body["fields"]["domain"], body
    assert await _stored(node) == before


@ASYNC
async def test_domain_policy_page_refuses_a_non_host(node: TestNode) -> None:
    """Attack: the same through the administrators' Federation page: 422, the page shown
    again with its message, nothing stored."""
    await node.person("admin@example.org", role="admin")
    admin = Browser(node)
    await admin.login("admin@example.org")
    before = await _stored(node)
    for written in ("1", "x.example:99999", "xn--", "a..b", "-bad-.example", "a" * 5000):
        page = await admin.post(
            "/admin/federation/policy",
            {"domain": written, "policy": "block"},
            csrf_from="/admin/federation",
        )
        assert page.status == 422, written
        assert "territory.example" in page.text or "territoire.example" in page.text
    assert await _stored(node) == before


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An initialised node (SQLite) for the command line."""
    path = str(tmp_path_factory.mktemp("cli-hosts") / "node")
    assert main(["init", "--data-dir", path, "--domain", "a.test", "--name", "A"]) == 0
    return path


@pytest.mark.parametrize("action", ["block", "unblock", "allow"])
@pytest.mark.parametrize("written", NOT_HOSTS[:14], ids=lambda value: value[:24])
def test_domain_command_on_a_non_host_is_a_usage_error(
    data_dir: str, capsys: pytest.CaptureFixture[str], action: str, written: str
) -> None:
    """Attack: ``entraide domain block|unblock|allow`` given a non-host. Exit status 2 and
    one line on stderr naming what is wrong; ``domain list`` stays empty."""
    capsys.readouterr()
    code = main(["domain", action, "--data-dir", data_dir, "--", written])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "HOST[:PORT]" in err
    assert main(["domain", "list", "--data-dir", data_dir]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Evil.Example.", "evil.example"),
        ("évil.example:443", "xn--vil-9la.example"),
        ("xn--vil-9la.example", "xn--vil-9la.example"),
        ("peer.example:8443", "peer.example:8443"),
        ("127.0.0.1:8001", "127.0.0.1:8001"),
        ("[::1]:8001", "[::1]:8001"),
        ("::1", "[::1]"),
        ("localhost", "localhost"),
        ("_dmarc.example", "_dmarc.example"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
    ],
    ids=lambda value: value[:24],
)
def test_real_hosts_are_still_accepted(written: str, stored: str) -> None:
    """(Control) the check refuses no host that a policy can meet."""
    from federation.policy import checked_host

    assert checked_host(written) == stored


@pytest.mark.parametrize("written", NOT_HOSTS, ids=lambda value: value[:24])
def test_checked_host_refuses(written: str) -> None:
    from federation.policy import checked_host

    with pytest.raises(PayloadError):
        checked_host(written)
