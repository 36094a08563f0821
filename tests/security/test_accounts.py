"""Account takeover: guessing passwords, phishing redirects, stolen cookies, leaked tokens.

Passwords are Argon2id hashes (``domain.people``); API tokens are shown once
and stored as their SHA-256; the session cookie is signed, ``HttpOnly``,
``Secure`` and ``SameSite=Lax``; forms carry CSRF tokens (``test_csrf.py``);
``POST /login`` is rate limited per client address (``instance.ratelimits``,
and ``tests/api/test_ratelimits.py`` for every limit).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from config.database import Base, utcnow
from domain.models import ApiToken, Person
from tests.databases import DatabaseTemplates
from tests.security.helpers import all_logs
from tests.support import PASSWORD, TestNode, make_settings, running_node
from tests.web.browser import CSRF_RE, Browser

EMAIL = "ana@example.org"
TOKEN_RE = re.compile(r"ent_[A-Za-z0-9_\-]{20,}")


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def limited(
    templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestNode]:
    """A node on SQLite (the limits live in memory) allowing 3 logins a minute per address.
    Each test comes from its own addresses, so their budgets do not mix."""
    path = tmp_path_factory.mktemp("accounts")
    settings = make_settings(
        path / "a", templates.sqlite_url(path), ratelimit={"enabled": True, "login_per_minute": 3}
    )
    async with running_node(settings) as node:
        await node.person(EMAIL)
        yield node


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestNode]:
    """A node on the databases of ``module_db``, for what is stored."""
    path = tmp_path_factory.mktemp("tokens")
    async with running_node(make_settings(path / "a", module_db())) as running:
        yield running


class Visitor:
    """One browser at one client address (the rate limit's key)."""

    def __init__(self, node: TestNode, ip: str) -> None:
        self.client = node.client()
        self.ip = ip

    async def open(self, method: str, path: str, **kw: Any) -> Any:
        return await self.client.open(
            path, method=method, scheme="https", scope_base={"client": (self.ip, 40000)}, **kw
        )

    async def login(self, email: str, password: str, next_url: str = "") -> Any:
        page = await (await self.open("GET", "/login")).get_data(as_text=True)
        found = CSRF_RE.search(page)
        assert found, "no CSRF token on /login"
        form = {"email": email, "password": password, "csrf_token": found.group(1)}
        if next_url:
            form["next"] = next_url
        return await self.open("POST", "/login", form=form)

    async def logged_in(self) -> bool:
        return bool((await self.open("GET", "/account")).status_code == 200)


async def test_login_brute_force_is_rate_limited(limited: TestNode) -> None:
    """Attack: guess Ana's password from one address as fast as possible. After 3 tries in a
    minute the 4th is answered 429 with ``Retry-After`` — even with the right password, so
    guessing on cannot succeed. Ana, from her own address, still logs in (a limit per
    address, not an account lock-out an attacker could impose on her)."""
    attacker = Visitor(limited, "198.51.100.66")
    for guess in ("123456", "password", "azerty123"):
        response = await attacker.login(EMAIL, guess)
        assert response.status_code == 401
    response = await attacker.login(EMAIL, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert not await attacker.logged_in()
    ana = Visitor(limited, "203.0.113.10")
    assert (await ana.login(EMAIL, PASSWORD)).status_code == 302
    assert await ana.logged_in()


async def test_login_brute_force_over_many_accounts_is_rate_limited(limited: TestNode) -> None:
    """Attack: password spraying — one common password against many e-mails from one
    address. The budget is per address, not per account: the 4th try is 429."""
    attacker = Visitor(limited, "198.51.100.67")
    statuses = [
        (await attacker.login(f"user{n}@example.org", "Printemps2026!")).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


async def test_failed_login_does_not_tell_whether_the_account_exists(limited: TestNode) -> None:
    """Attack: account enumeration through the login form. A wrong password for an existing
    account and any password for an unknown e-mail get the same status and the same page
    (apart from the e-mail typed in and the form's CSRF token); the unknown case still
    verifies a dummy Argon2 hash, so it is not faster either."""
    pages = []
    for email in (EMAIL, "nobody@example.org"):
        response = await Visitor(limited, "192.0.2.1").login(email, "wrong password!")
        text = await response.get_data(as_text=True)
        pages.append((response.status_code, CSRF_RE.sub("", text.replace(email, "EMAIL"))))
    assert pages[0][0] == pages[1][0] == 401
    assert pages[0][1] == pages[1][1]


REDIRECTS = [
    "https://evil.example/login",
    "//evil.example/login",
    "/\\evil.example/login",
    "\\\\evil.example",
    "/\t/evil.example",
    " https://evil.example",
    "javascript:alert(1)",
    "https:evil.example",
]


@pytest.mark.parametrize("target", REDIRECTS)
async def test_login_cannot_redirect_off_site(limited: TestNode, target: str) -> None:
    """Attack: a phishing link to our real login page with ``next=`` pointing to a look-alike
    site, which then asks for the password "again". After logging in, the browser is sent
    to a page of this node only."""
    address = f"192.0.2.{10 + REDIRECTS.index(target)}"
    response = await Visitor(limited, address).login(EMAIL, PASSWORD, next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", limited.domain), location
    assert parts.scheme in ("", "https"), location
    assert not location.startswith(("//", "/\\")), location


async def test_session_cookie_cannot_be_read_by_script_or_sent_cross_site(
    limited: TestNode,
) -> None:
    """Attack: steal the session through injected script (``document.cookie``), over plain
    http, or ride it from another site. The login and session cookies are ``HttpOnly``,
    ``Secure`` and ``SameSite=Lax``, and signed (a forged value is not a session)."""
    visitor = Visitor(limited, "192.0.2.3")
    response = await visitor.login(EMAIL, PASSWORD)
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert {"entraide_auth", "entraide_session"} <= set(cookies)
    for name in ("entraide_auth", "entraide_session"):
        flags = {f.strip().lower() for f in cookies[name].split(";")[1:]}
        assert {"httponly", "secure", "samesite=lax"} <= flags, cookies[name]
    forged = limited.client()
    forged.set_cookie(limited.domain, "entraide_auth", "1")  # "I am person 1", unsigned
    page = await forged.get("/account", scheme="https")
    assert page.status_code == 302


async def _every_stored_value(node: TestNode) -> str:
    """Every value of every row of every table, as text."""
    values: list[str] = []
    async with node.node.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                values.extend(str(v) for v in row)
    return "\n".join(values)


async def test_api_token_is_stored_hashed_and_shown_once(node: TestNode) -> None:
    """Attack: read the database (a backup, an SQL injection, a stolen disk) or a page
    later, to find a usable token. The token is shown once, on the answer to its creation
    (``Cache-Control: no-store``); the database holds its SHA-256 and a short prefix, in no
    table its clear text; the account page lists it without it."""
    await node.structure("ferme", owner="shown@example.org")
    browser = Browser(node)
    await browser.login("shown@example.org")
    created = await browser.post("/account/tokens", {"name": "script"}, csrf_from="/account")
    assert created.status == 200
    assert created.headers["Cache-Control"] == "no-store"
    tokens = TOKEN_RE.findall(created.text)
    assert len(set(tokens)) == 1
    token = tokens[0]
    assert (await node.api("GET", "/api/v1/instance", token=token)).status_code == 200

    assert token not in (await browser.get("/account")).text
    assert token not in await _every_stored_value(node)
    async with node.node.db.session() as session:
        row = (
            await session.execute(select(ApiToken).where(ApiToken.name == "script"))
        ).scalar_one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row.prefix) and len(row.prefix) <= 10


async def test_api_token_is_never_written_to_logs(node: TestNode) -> None:
    """Attack: read the logs (shipped to a log service, readable by more people than the
    database) to find tokens. Every log line of the process, at DEBUG, during API calls that
    succeed, fail validation, are not found, and use a wrong, a revoked and a disabled
    person's token: neither the token nor the ``Authorization`` header appears."""
    await node.structure("atelier", owner="logs@example.org")
    token = await node.token("logs@example.org")
    revoked = await node.token("logs@example.org")
    async with node.node.db.session() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.prefix == revoked[:10]).values(revoked_at=utcnow())
        )
    wrong = "ent_" + "A" * 43
    listing = {
        "structure": "atelier",
        "kind": "offer",
        "title": "Bétonnière",
        "description": "À prêter",
        "category": "equipment",
        "modality": "lend",
    }
    with all_logs() as logs:
        calls = [
            ("GET", "/api/v1/instance", token, None),
            ("POST", "/api/v1/listings", token, listing),
            ("POST", "/api/v1/listings", token, {**listing, "category": "nope"}),
            ("GET", "/api/v1/listings/999999", token, None),
            ("GET", "/api/v1/messages?actor=atelier", token, None),
            ("GET", "/api/v1/listings", wrong, None),
            ("GET", "/api/v1/listings", revoked, None),
        ]
        statuses = [
            (await node.api(method, path, token=used, json=body)).status_code
            for method, path, used, body in calls
        ]
        async with node.node.db.session() as session:
            await session.execute(
                update(Person)
                .where(Person.email == "logs@example.org")
                .values(disabled_at=utcnow())
            )
        statuses.append((await node.api("GET", "/api/v1/listings", token=token)).status_code)
    assert statuses == [200, 201, 422, 404, 200, 401, 401, 401]
    assert logs.lines, "nothing was logged at all: the capture is broken"
    for secret in (token, revoked, wrong, "Bearer ", "Authorization", token[10:]):
        assert secret not in logs.text, secret
