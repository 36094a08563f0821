"""The sweep: every route, API field, query parameter and form given hostile values: no 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from werkzeug.routing import Rule

from tests.security import hostile_input_support
from tests.security.hostile_input_support import LISTING, LONG_LABEL, World
from tests.web.data import LISTING_FORM

world = hostile_input_support.world

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,  # 32-bit ids and NUL reach PostgreSQL
    pytest.mark.slow,  # thousands of requests: among the first tests a worker takes
]


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


def _query_paths(world: World) -> list[str]:
    """Every GET route without path parameters, and a structure's pages."""
    paths = [
        rule.rule
        for rule in world.node.app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and not rule.arguments
    ]
    paths += ["/@ferme", "/@ferme/followers", "/@ferme/feed.atom", "/actors/ferme/outbox"]
    paths += ["/api/v1/structures/ferme/followers", "/api/v1/communities/jardins/posts"]
    return paths


def _form_paths(world: World) -> list[str]:
    """Every form of the pages: the POST routes without path parameters."""
    return [
        rule.rule
        for rule in world.node.app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        and not rule.arguments
        and not rule.rule.startswith(("/api/", "/inbox", "/logout"))
    ]


# The query sweep runs in parts (every QUERY_PARTS-th path from the part's own index): the
# parts together send every request of the whole sweep, and xdist spreads them over its
# workers instead of leaving one worker alone with a sweep of a minute at the end of a run.
# (The form sweep stays whole: its posts end the session it runs in — split, a later part
# found itself logged out — so its parts would not start from the state the sweep starts
# from.)
QUERY_PARTS = 4
PER_QUERY_PATH = len(QUERY_VALUES) + len(QUERY_NAMES)
FORM_VALUES = (str(2**64), str(2**31), "9999-12-31", "x" * 20_000, "-1", "\x00")


@pytest.mark.parametrize("part", range(QUERY_PARTS), ids=lambda i: f"part{i + 1}of{QUERY_PARTS}")
async def test_no_page_or_api_read_answers_500_to_hostile_query_parameters(
    world: World, part: int
) -> None:
    """Sweep: every GET route without path parameters (and a structure's pages), each usual
    query parameter set to 2**64, -1, a date past the calendar, ``1e400``, 5,000
    characters, NUL. Never a 500."""
    every = _query_paths(world)
    assert len(every) * PER_QUERY_PATH >= 500, len(every)  # the whole sweep, all parts
    paths = every[part::QUERY_PARTS]
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
    sweep.done(len(paths) * PER_QUERY_PATH)


async def test_no_form_answers_500_to_hostile_values(world: World) -> None:
    """Sweep: every form of the pages (POST routes without path parameters), each usual
    field set to an id past the range, a date past the calendar, 20,000 characters, NUL.
    Never a 500."""
    csrf = (await world.browser.get("/account")).csrf
    paths = _form_paths(world)
    base = {**LISTING_FORM, "structure": "ferme", "from": "ferme", "to": "voisin"}
    sweep = Sweep()
    for path in paths:
        for value in FORM_VALUES:
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
