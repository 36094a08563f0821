"""Hostile input is answered with a 4xx, never a 500.

A 500 says "the server broke": it is logged as an error, pages someone, and
often shows that a value reached a place it should not have (the database,
a date computation, the IDNA codec). Every value a client controls is read
in a few places: the JSON body (:func:`instance.api.json_body`), ids in paths
(:class:`instance.ids.IdConverter`, every ``<int:…>`` of the app), ids in
query strings and fields (:func:`instance.ids.parse_id`), dates
(``domain.validation``, 1900-01-01 to 2999-12-31) and hosts
(:func:`federation.policy.checked_host`). The tests below send what an
outside attack run sent to live nodes, then sweep every route of the app with
out-of-range ids, every JSON field of the API's bodies and the usual query
parameters with hostile values, on both databases (PostgreSQL's ids are
32-bit: 2**31 already overflows there).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from werkzeug.routing import Rule

from tests.support import TestNode, make_settings, running_node
from tests.web.browser import Browser
from tests.web.data import LISTING_FORM

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # 32-bit ids and NUL reach PostgreSQL

ADMIN = "admin@example.org"
LISTING = {
    "structure": "ferme",
    "kind": "offer",
    "title": "Tracteur",
    "description": "Un tracteur à prêter",
    "category": "equipment",
    "modality": "lend",
}
BIG_IDS = [2**31, 2**63 - 1, 2**63, 2**64, 10**30]
LONG_LABEL = "acct:a@" + "b" * 70 + ".example"


def _offline(request: httpx.Request) -> httpx.Response:
    """No network in tests: every remote server is missing."""
    return httpx.Response(404)


class World:
    def __init__(self, node: TestNode, token: str, browser: Browser, listing_id: int) -> None:
        self.node = node
        self.token = token
        self.browser = browser
        self.listing_id = listing_id

    async def api(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        query: dict[str, str] | None = None,
        **headers: str,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        return await self.node.client().open(
            path, method=method, data=body, headers=headers, query_string=query, scheme="https"
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("hostile-input")
    settings = make_settings(path / "a", module_db())
    async with running_node(settings, http_transport=httpx.MockTransport(_offline)) as node:
        await node.structure("ferme", owner=ADMIN)
        await node.structure("voisin", owner="voisin@example.org")
        await node.person(ADMIN, role="admin")
        from sqlalchemy import update

        from domain.models import Person

        async with node.node.db.session() as session:
            await session.execute(update(Person).where(Person.email == ADMIN).values(role="admin"))
        token = await node.token(ADMIN)
        created = await node.api("POST", "/api/v1/listings", token=token, json=LISTING)
        assert created.status_code == 201
        browser = Browser(node)
        await browser.login(ADMIN)
        yield World(node, token, browser, (await created.get_json())["id"])


def _documented(body: dict[str, Any], status: int) -> None:
    """The error shape of docs/interface.md: ``error`` and ``message``; ``fields`` with 422."""
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    if status == 422:
        assert isinstance(body.get("fields"), dict) and body["fields"], body


# --- what the attack run sent -------------------------------------------------------------


GZIP = {"Content-Encoding": "gzip"}
BODIES = {
    "invalid UTF-8": (b'{"title": "\xff\xfe"}', {}, 400),
    "truncated gzip": (gzip.compress(json.dumps(LISTING).encode())[:30], GZIP, 400),
    "gzip of invalid UTF-8": (gzip.compress(b'{"title": "\xff"}'), GZIP, 400),
    "unknown encoding": (b"{}", {"Content-Encoding": "br"}, 415),
    "JSON nested 5,000 deep (arrays)": (b"[" * 5000 + b"]" * 5000, {}, 400),
    "JSON nested 5,000 deep (objects)": (b'{"a":' * 5000 + b"1" + b"}" * 5000, {}, 400),
    "a number of 5,000 digits": (b'{"title": ' + b"9" * 5000 + b"}", {}, 400),
    "NaN": (b'{"title": NaN}', {}, 400),
}


@pytest.mark.parametrize("case", list(BODIES))
async def test_malformed_json_body_is_a_400(world: World, case: str) -> None:
    """Attack: API bodies that are not UTF-8, gzip that is not gzip (or whose content is not
    UTF-8), JSON nested 5,000 deep, huge numbers. Each is refused with the documented
    error shape (400, or 415 for an encoding we do not take), nothing created. (Before
    the fix: 500.)"""
    body, headers, status = BODIES[case]
    response = await world.api("POST", "/api/v1/listings", body, **headers)
    assert response.status_code == status, await response.get_data(as_text=True)
    _documented(await response.get_json(), status)


async def test_gzip_json_body_is_read(world: World) -> None:
    """(Control) a well-formed gzip body is inflated and read like the inbox's."""
    body = gzip.compress(json.dumps({**LISTING, "title": "Compressé"}).encode())
    response = await world.api("POST", "/api/v1/listings", body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 201, await response.get_data(as_text=True)


@pytest.mark.parametrize("big", BIG_IDS)
async def test_id_beyond_the_database_range_is_not_found(world: World, big: int) -> None:
    """Attack: ids past 32 and 64 bits in paths (``/api/v1/listings/ID``, ``/listings/ID``),
    in a follower list's ``cursor`` and in a message's ``listing``. Paths answer 404, the
    cursor and the field 422, in the documented shape. (Before the fix: 500, the
    database driver refusing the number.)"""
    for method in ("GET", "PATCH", "DELETE"):
        body = b"{}" if method == "PATCH" else None
        response = await world.api(method, f"/api/v1/listings/{big}", body)
        assert response.status_code == 404, (method, big)
        _documented(await response.get_json(), 404)
    page = await world.browser.get(f"/listings/{big}")
    assert page.status == 404
    response = await world.api("GET", f"/api/v1/structures/ferme/followers?cursor={big}")
    assert response.status_code == 422
    assert "cursor" in (await response.get_json())["fields"]
    message = {"from": "ferme", "to": "voisin", "content": "Bonjour", "listing": big}
    response = await world.api("POST", "/api/v1/messages", json.dumps(message).encode())
    assert response.status_code == 422
    assert "listing" in (await response.get_json())["fields"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_date_at_the_end_of_the_calendar_is_refused(world: World, method: str) -> None:
    """Attack: ``available_until: "9999-12-31"`` when creating or editing a listing (its
    expiry, the day after, does not exist). 422 naming the field. (Before the fix: 500.)"""
    path = "/api/v1/listings" if method == "POST" else f"/api/v1/listings/{world.listing_id}"
    fields = {"available_until": "9999-12-31"}
    body = {**LISTING, **fields} if method == "POST" else fields
    response = await world.api(method, path, json.dumps(body).encode())
    assert response.status_code == 422
    assert "available_until" in (await response.get_json())["fields"]
    form = {**LISTING_FORM, "structure": "ferme", "available_until": "9999-12-31"}
    page = await world.browser.post("/listings/new", form, csrf_from="/listings/new")
    assert page.status == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listing", {"id": 1}),
        ("listing", [1]),
        ("listing", True),
        ("listing", 1.5),
        ("listing", "1; drop table"),
        ("conversation", {"id": 1}),
        ("to", LONG_LABEL),
        ("to", "acct:a@xn--"),
        ("to", "acct:a@a..b"),
    ],
)
async def test_message_with_a_malformed_field_is_a_422(
    world: World, field: str, value: Any
) -> None:
    """Attack: a message whose ``listing`` is an object (or a list, a boolean, a fraction),
    or whose ``to`` names a host with a 70-character label. 422 naming the field, no
    lookup over the network. (Before the fix: 500.)"""
    message = {"from": "ferme", "to": "voisin", "content": "Bonjour", field: value}
    response = await world.api("POST", "/api/v1/messages", json.dumps(message).encode())
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert field in (await response.get_json())["fields"]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\ud83d", "\\ude00b"])
async def test_lone_surrogate_in_a_message_is_a_422(world: World, escape: str) -> None:
    """Attack: a message whose text holds a lone surrogate (``"\\ud800"``: valid JSON, not
    Unicode text, which neither database stores). 422 naming the field; the same in a
    listing's title. (Before the fix: 500.)"""
    body = '{"from": "ferme", "to": "voisin", "content": "x' + escape + 'y"}'
    response = await world.api("POST", "/api/v1/messages", body.encode())
    assert response.status_code == 422
    assert "content" in (await response.get_json())["fields"]
    listing = json.dumps(LISTING).replace('"Tracteur"', f'"T{escape}"')
    response = await world.api("POST", "/api/v1/listings", listing.encode())
    assert response.status_code == 422
    assert "title" in (await response.get_json())["fields"]
    # (Control) a surrogate pair is a character: accepted.
    body = '{"from": "ferme", "to": "voisin", "content": "\\ud83d\\ude00"}'
    response = await world.api("POST", "/api/v1/messages", body.encode())
    assert response.status_code == 201, await response.get_data(as_text=True)


# --- the sweep ------------------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    {"a": 1},
    [1, 2],
    2**64,
    2**31,
    -1,
    0,
    1e308,
    True,
    None,
    "",
    "9999-12-31",
    "0000-00-00",
    "\x00",
    LONG_LABEL,
    "https://" + "b" * 70 + ".example/x",
    "x" * 20_000,
]
API_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/listings": {
        **LISTING,
        "quantity": "3",
        "unit": "kg",
        "price": {"amount": "12.50", "currency": "EUR"},
        "available_from": "2030-01-01",
        "available_until": "2030-02-01",
        "location": {"commune": "Orthez", "lat": 43.3, "lon": -0.37},
        "radius_km": 10,
    },
    "PATCH /api/v1/listings/{listing}": {"title": "Nouveau", "available_until": "2030-01-01"},
    "POST /api/v1/messages": {
        "from": "ferme",
        "to": "voisin",
        "content": "Bonjour",
        "listing": "{listing}",
        "conversation": 1,
    },
    "POST /api/v1/follows": {"actor": "ferme", "target": "voisin"},
    "DELETE /api/v1/follows": {"actor": "ferme", "target": "voisin"},
    "POST /api/v1/communities": {"handle": "jardins", "name": "Jardins", "description": "x"},
    "POST /api/v1/communities/jardins/members": {"actor": "ferme"},
    "DELETE /api/v1/communities/jardins/members": {"actor": "ferme"},
    "POST /api/v1/communities/jardins/posts": {"from": "ferme", "content": "Bonjour"},
    "POST /api/v1/reports": {"actor": "ferme", "target": "voisin", "reason": "spam"},
    "POST /api/v1/moderation/actors": {"actor": "https://a.test/actors/voisin", "level": ""},
    "POST /api/v1/moderation/domains": {"domain": "spam.example", "policy": "block"},
}
QUERY_NAMES = [
    "cursor",
    "limit",
    "actor",
    "q",
    "near",
    "radius_km",
    "since",
    "from",
    "to",
    "status",
    "kind",
    "category",
    "modality",
    "origin",
    "structure",
    "sort",
    "state",
    "resource",
    "listing",
    "conversation",
    "next",
]
QUERY_VALUES = [str(2**64), "-1", "9999-12-31", "1e400", "a" * 5000, "\x00"]
FORM_NAMES = [
    *LISTING_FORM,
    "structure",
    "listing",
    "conversation",
    "from",
    "to",
    "content",
    "actor",
    "target",
    "domain",
    "policy",
    "reason",
    "handle",
    "name",
    "email",
    "password",
    "ids",
]


class Sweep:
    """What a sweep met: every 500 (and every error not in the documented shape)."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.count = 0

    async def check(self, response: Any, what: str) -> None:
        self.count += 1
        status = response.status_code
        # An icon or an image answers bytes: read them as such, never as UTF-8 text.
        text = (await response.get_data()).decode("utf-8", errors="replace")
        if status >= 500:
            self.failures.append(f"{what}: {status} {text[:200]}")
        elif status >= 400 and response.mimetype == "application/json":
            body = json.loads(text)
            if not (isinstance(body.get("error"), str) and isinstance(body.get("message"), str)):
                self.failures.append(f"{what}: {status} not in the documented shape: {text[:200]}")

    def done(self, at_least: int) -> None:
        assert not self.failures, "\n".join(self.failures[:40])
        assert self.count >= at_least, self.count


def _paths(rule: Rule, listing_id: int) -> list[str]:
    """``rule`` with each id set past the database's range, the other parts plausible."""
    samples = {"handle": "ferme", "fmt": "atom", "action": None, "host": "b.test"}
    paths = []
    for big in (2**31, 2**64):
        parts: dict[str, Any] = {}
        for name, converter in rule._converters.items():
            kind = type(converter).__name__
            if kind == "IdConverter" or "Integer" in kind:
                parts[name] = big
            elif kind == "AnyConverter":
                parts[name] = sorted(converter.regex.strip("()").split("|"))[0].replace("\\", "")
            elif kind == "PathConverter":
                parts[name] = "entraide.css"
            else:
                parts[name] = samples.get(name) or "x"
        path = rule.rule
        for name, value in parts.items():
            path = re.sub(rf"<[^>]*\b{name}>", str(value), path)
        paths.append(path)
    return paths


async def test_no_route_answers_500_to_ids_beyond_the_database_range(world: World) -> None:
    """Sweep: every route of the app, every method it takes, with each integer path
    parameter at 2**31 and 2**64, from a logged-in administrator (page routes with the
    session and a CSRF token, API routes with a token). No 500."""
    csrf = (await world.browser.get("/account")).csrf
    sweep = Sweep()
    for rule in world.node.app.url_map.iter_rules():
        if "<int:" not in rule.rule and not any(
            type(c).__name__ == "IdConverter" for c in rule._converters.values()
        ):
            continue
        for path in _paths(rule, world.listing_id):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if path.startswith("/api/"):
                    body = b"{}" if method in ("POST", "PATCH", "DELETE") else None
                    response = await world.api(method, path, body)
                else:
                    form = {"csrf_token": csrf} if method == "POST" else None
                    response = await world.browser.client.open(
                        path, method=method, form=form, scheme="https"
                    )
                await sweep.check(response, f"{method} {path}")
    sweep.done(40)


@pytest.mark.parametrize("endpoint", list(API_BODIES))
async def test_no_api_field_answers_500_to_hostile_values(world: World, endpoint: str) -> None:
    """Sweep: each JSON field of each API body, one at a time, set to an object, a list,
    2**64, 2**31, a huge float, a boolean, null, NUL, a date past the calendar, a host
    with a 70-character label, 20,000 characters. A 4xx in the documented shape, or a
    success; never a 500."""
    method, path = endpoint.split(" ", 1)
    path = path.replace("{listing}", str(world.listing_id))
    sweep = Sweep()
    base = {
        k: (world.listing_id if v == "{listing}" else v) for k, v in API_BODIES[endpoint].items()
    }
    for name in base:
        for value in HOSTILE_VALUES:
            body = json.dumps({**base, name: value}).encode()
            response = await world.api(method, path, body)
            await sweep.check(response, f"{endpoint} {name}={str(value)[:40]}")
        # Nested fields (price, location) get the same treatment one level down.
        if isinstance(base[name], dict):
            for inner in base[name]:
                for value in HOSTILE_VALUES:
                    nested = {**base, name: {**base[name], inner: value}}
                    response = await world.api(method, path, json.dumps(nested).encode())
                    await sweep.check(response, f"{endpoint} {name}.{inner}={str(value)[:40]}")
    sweep.done(len(HOSTILE_VALUES))


async def test_no_page_or_api_read_answers_500_to_hostile_query_parameters(world: World) -> None:
    """Sweep: every GET route without path parameters (and a structure's pages), each usual
    query parameter set to 2**64, -1, a date past the calendar, ``1e400``, 5,000
    characters, NUL. Never a 500."""
    paths = [
        rule.rule
        for rule in world.node.app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and not rule.arguments
    ]
    paths += ["/@ferme", "/@ferme/followers", "/@ferme/feed.atom", "/actors/ferme/outbox"]
    paths += ["/api/v1/structures/ferme/followers", "/api/v1/communities/jardins/posts"]
    sweep = Sweep()
    for path in paths:
        for value in QUERY_VALUES:
            # Every parameter at once; the API's reads with a valid actor (most need one).
            query = dict.fromkeys(QUERY_NAMES, value)
            if path.startswith("/api/"):
                response = await world.api("GET", path, query={**query, "actor": "ferme"})
            else:
                response = await world.browser.client.get(path, query_string=query, scheme="https")
            await sweep.check(response, f"GET {path}?…={value[:20]}")
        # Ids and dates one parameter at a time, so that none hides behind another.
        for name in QUERY_NAMES:
            query = {"actor": "ferme", name: str(2**64)}
            if path.startswith("/api/"):
                response = await world.api("GET", path, query=query)
            else:
                response = await world.browser.client.get(path, query_string=query, scheme="https")
            await sweep.check(response, f"GET {path}?{name}=2**64")
    sweep.done(500)


async def test_no_form_answers_500_to_hostile_values(world: World) -> None:
    """Sweep: every form of the pages (POST routes without path parameters), each usual
    field set to an id past the range, a date past the calendar, 20,000 characters, NUL.
    Never a 500."""
    csrf = (await world.browser.get("/account")).csrf
    paths = [
        rule.rule
        for rule in world.node.app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        and not rule.arguments
        and not rule.rule.startswith(("/api/", "/inbox", "/logout"))
    ]
    base = {**LISTING_FORM, "structure": "ferme", "from": "ferme", "to": "voisin"}
    sweep = Sweep()
    for path in paths:
        for value in (str(2**64), str(2**31), "9999-12-31", "x" * 20_000, "-1", "\x00"):
            form = {**base, **dict.fromkeys(FORM_NAMES, value), "csrf_token": csrf}
            response = await world.browser.client.post(path, form=form, scheme="https")
            await sweep.check(response, f"POST {path} …={value[:20]!r}")
        # One field at a time, so that none hides behind another's refusal. (NUL is not
        # among them: any NUL in a form is refused before the view, whichever the field;
        # the line above sends it in every field of every form.)
        for name in FORM_NAMES:
            for value in (str(2**64), "9999-12-31"):
                form = {**base, name: value, "csrf_token": csrf}
                response = await world.browser.client.post(path, form=form, scheme="https")
                await sweep.check(response, f"POST {path} {name}={value[:20]!r}")
    sweep.done(500)
