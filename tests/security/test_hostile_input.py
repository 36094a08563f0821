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
from typing import Any

import pytest

from tests.security import hostile_input_support
from tests.security.hostile_input_support import LISTING, LONG_LABEL, World
from tests.web.data import LISTING_FORM

world = hostile_input_support.world

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # 32-bit ids and NUL reach PostgreSQL

BIG_IDS = [2**31, 2**63 - 1, 2**63, 2**64, 10**30]


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
