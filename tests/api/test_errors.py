"""Every error status of the JSON API (docs/interface.md), each with exactly the error shape.

``{"error": code, "message": text}``, plus ``"fields"`` for 422 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import OWNER, Api, assert_error, listing_body
from tests.support import make_settings, running_node

pytestmark = pytest.mark.dialect  # database errors; validation is marked sqlite_only

# Refused requests leave nothing behind: those tests share one SQLite node (shared_api).
shared = pytest.mark.asyncio(loop_scope="module")
# Permission and validation logic does not depend on the backend: SQLite only.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# --- 400 --------------------------------------------------------------------


@shared
async def test_malformed_json(shared_api: Api) -> None:
    """A truncated body is 400, not a 500 from a JSON decoder deep inside."""
    status, body, _ = await shared_api.call(
        "POST",
        "/api/v1/listings",
        token=shared_api.owner,
        data=b'{"structure": "menuiserie", "title": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(status, body, 400, "bad_request")


@shared
@pytest.mark.parametrize("payload", [[1, 2], "text", 42, None])
async def test_json_that_is_not_an_object(shared_api: Api, payload: Any) -> None:
    """A JSON array, string, number or null is valid JSON but not a listing: 400."""
    import json

    status, body, _ = await shared_api.call(
        "POST",
        "/api/v1/listings",
        token=shared_api.owner,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(status, body, 400, "bad_request")


@shared
async def test_bad_query_parameter_is_422(shared_api: Api) -> None:
    """limit=1000 would let one request read the whole table: refused with the field named."""
    status, body, _ = await shared_api.call("GET", "/api/v1/listings?limit=1000")
    assert_error(status, body, 422, "invalid", fields={"limit"})
    status, body, _ = await shared_api.call("GET", "/api/v1/listings?cursor=not-a-cursor")
    assert_error(status, body, 422, "invalid", fields={"cursor"})


# --- 401 --------------------------------------------------------------------


@shared
async def test_post_without_token(shared_api: Api) -> None:
    """Writing needs a token; the answer says how to send one (WWW-Authenticate)."""
    status, body, headers = await shared_api.call("POST", "/api/v1/listings", json=listing_body())
    assert_error(status, body, 401, "unauthorized")
    assert headers["WWW-Authenticate"].startswith("Bearer")


@shared
@pytest.mark.parametrize(
    "authorization",
    ["Bearer ent_not_a_real_token_at_all", "Bearer ", "Basic b3duZXI6cGFzcw==", "Bearer a b c"],
)
async def test_post_with_bad_token(shared_api: Api, authorization: str) -> None:
    """A guessed token, an empty one or another scheme never authenticates."""
    status, body, _ = await shared_api.call(
        "POST", "/api/v1/listings", json=listing_body(), headers={"Authorization": authorization}
    )
    assert_error(status, body, 401, "unauthorized")


@pytest.mark.parametrize("path", ["/api/v1/listings", "/api/v1/listings/1"])
async def test_get_with_bad_token(api: Api, path: str) -> None:
    """Reads accept no token but refuse a bad one, so a client learns its token is dead."""
    await api.publish()
    status, body, _ = await api.call("GET", path, token="ent_revoked_or_made_up_token")
    assert_error(status, body, 401, "unauthorized")
    status, _, _ = await api.call("GET", path)
    assert status == 200


# --- 403 --------------------------------------------------------------------


@sqlite_only
async def test_publish_for_a_structure_you_do_not_act_for(api: Api) -> None:
    """Anyone with an account must not publish in another structure's name."""
    status, body, _ = await api.call(
        "POST", "/api/v1/listings", token=api.stranger, json=listing_body()
    )
    assert_error(status, body, 403, "forbidden")
    status, page, _ = await api.call("GET", "/api/v1/listings")
    assert page["items"] == []


async def test_patch_and_delete_by_a_stranger(api: Api) -> None:
    """A stranger can neither edit nor withdraw a listing; it stays as it was."""
    listing = await api.publish()
    path = f"/api/v1/listings/{listing['id']}"
    status, body, _ = await api.call("PATCH", path, token=api.stranger, json={"title": "Volée"})
    assert_error(status, body, 403, "forbidden")
    status, body, _ = await api.call("DELETE", path, token=api.stranger)
    assert_error(status, body, 403, "forbidden")
    _, after, _ = await api.call("GET", path)
    assert after["title"] == listing["title"]
    assert after["status"] == "open"


@sqlite_only
async def test_pending_structure_cannot_publish(api: Api) -> None:
    """A structure not yet approved by an administrator must not reach the fediverse."""
    await api.node.structure("attente", owner=OWNER, approved=False)
    status, body, _ = await api.call(
        "POST", "/api/v1/listings", token=api.owner, json=listing_body(structure="attente")
    )
    assert_error(status, body, 403, "forbidden")


# --- 404 / 405 --------------------------------------------------------------


@shared
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_listing(shared_api: Api, method: str) -> None:
    """An id that does not exist is 404 whatever the method."""
    json = {"title": "Nouveau titre"} if method == "PATCH" else None
    status, body, _ = await shared_api.call(
        method, "/api/v1/listings/999999", token=shared_api.owner, json=json
    )
    assert_error(status, body, 404, "not_found")


@shared
@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/listings", "/api/"])
async def test_unknown_api_route(shared_api: Api, path: str) -> None:
    """Unknown routes under /api answer JSON, not the HTML error page meant for browsers."""
    status, body, headers = await shared_api.call("GET", path, headers={"Accept": "text/html"})
    assert_error(status, body, 404, "not_found")
    assert headers["Content-Type"].startswith("application/json")


@shared
async def test_wrong_method(shared_api: Api) -> None:
    """POST on a read-only resource is 405 with Allow, in the error shape."""
    status, body, headers = await shared_api.call("POST", "/api/v1/categories", json={})
    assert_error(status, body, 405, "method_not_allowed")
    assert "GET" in headers["Allow"]


# --- 409 --------------------------------------------------------------------


@sqlite_only
async def test_patch_a_withdrawn_listing(api: Api) -> None:
    """A withdrawn listing was Deleted on other servers: editing it again is a conflict."""
    listing = await api.publish()
    path = f"/api/v1/listings/{listing['id']}"
    status, _, _ = await api.call("DELETE", path, token=api.owner)
    assert status == 200
    status, body, _ = await api.call("PATCH", path, token=api.owner, json={"title": "Revenue"})
    assert_error(status, body, 409, "conflict")
    status, body, _ = await api.call("PATCH", path, token=api.owner, json={"status": "open"})
    assert_error(status, body, 409, "conflict")


# --- 413 / 415 --------------------------------------------------------------


@sqlite_only
async def test_body_over_the_limit(db_url: str, tmp_path: Path) -> None:
    """A body over web.max_body_bytes is refused with 413 before it is parsed.

    The attack: megabytes of JSON to make the server allocate and parse
    them. The API's own limit holds even though inboxes accept larger bodies.
    """
    settings = make_settings(tmp_path / "a", db_url, web={"max_body_bytes": 4096})
    async with running_node(settings) as node:
        await node.structure("menuiserie", owner=OWNER)
        token = await node.token(OWNER)
        big = listing_body(description="x" * 8000)
        response = await node.api("POST", "/api/v1/listings", token=token, json=big)
        body = await response.get_json()
        assert_error(response.status_code, body, 413, "too_large")
        small = await node.api("POST", "/api/v1/listings", token=token, json=listing_body())
        assert small.status_code == 201


@shared
async def test_body_over_the_global_limit(shared_api: Api) -> None:
    """Beyond every limit of the node (2 MiB here), the body is refused with 413 too."""
    status, body, _ = await shared_api.call(
        "POST",
        "/api/v1/listings",
        token=shared_api.owner,
        data=b'{"description": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(status, body, 413, "too_large")


@shared
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_body_that_is_not_json(shared_api: Api, content_type: str | None) -> None:
    """A form post (what a CSRF attempt from another site looks like) is 415, not parsed."""
    import json

    headers = {"Content-Type": content_type} if content_type else {}
    status, body, _ = await shared_api.call(
        "POST",
        "/api/v1/listings",
        token=shared_api.owner,
        data=json.dumps(listing_body()).encode(),
        headers=headers,
    )
    assert_error(status, body, 415, "unsupported_media_type")


# --- 422 --------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], set[str]]] = [
    ("missing fields", {"structure": "menuiserie"}, {"kind", "title", "category", "modality"}),
    ("unknown category", {"category": "weapons"}, {"category"}),
    ("unknown kind", {"kind": "gift"}, {"kind"}),
    ("unknown modality", {"modality": "steal"}, {"modality"}),
    (
        "latitude out of range",
        {"location": {"commune": "X", "lat": 95, "lon": 0}},
        {"location.lat"},
    ),
    ("longitude out of range", {"location": {"lat": 43, "lon": -200}}, {"location.lon"}),
    ("latitude alone", {"location": {"lat": 43}}, {"location.lon"}),
    ("latitude as text", {"location": {"lat": "north", "lon": 0}}, {"location.lat"}),
    ("location not an object", {"location": "Oloron"}, {"location"}),
    (
        "reversed dates",
        {"available_from": "2026-07-01", "available_until": "2026-06-01"},
        {"available_until"},
    ),
    ("not a date", {"available_from": "tomorrow"}, {"available_from"}),
    ("title of 10,000 characters", {"title": "a" * 10_000}, {"title"}),
    ("title too short", {"title": "ab"}, {"title"}),
    ("title only spaces", {"title": "     "}, {"title"}),
    ("title not text", {"title": ["a", "list"]}, {"title"}),
    ("description of 20,000 characters", {"description": "d" * 20_000}, {"description"}),
    ("negative quantity", {"quantity": "-3"}, {"quantity"}),
    ("zero quantity", {"quantity": 0}, {"quantity"}),
    ("quantity not a number", {"quantity": "lots"}, {"quantity"}),
    ("quantity as a boolean", {"quantity": True}, {"quantity"}),
    ("price with 3 decimals", {"price": {"amount": "12.505", "currency": "EUR"}}, {"price.amount"}),
    ("negative price", {"price": {"amount": "-1", "currency": "EUR"}}, {"price.amount"}),
    ("price without amount", {"price": {"currency": "EUR"}}, {"price.amount"}),
    ("bad currency", {"price": {"amount": "12.50", "currency": "EURO"}}, {"price.currency"}),
    ("currency not letters", {"price": {"amount": "1", "currency": "€€€"}}, {"price.currency"}),
    ("price not an object", {"price": "12.50"}, {"price"}),
    ("radius too large", {"radius_km": 5000}, {"radius_km"}),
    ("unknown field", {"colour": "red"}, {"colour"}),
    ("unknown structure", {"structure": "nowhere"}, {"structure"}),
    ("structure not text", {"structure": {"handle": "menuiserie"}}, {"structure"}),
    ("status on create", {"status": "fulfilled"}, {"status"}),
]


@shared
@pytest.mark.parametrize(
    ("changes", "fields"), [(c, f) for _, c, f in INVALID], ids=[name for name, _, _ in INVALID]
)
async def test_invalid_fields(shared_api: Api, changes: dict[str, Any], fields: set[str]) -> None:
    """Each bad field is named in "fields" with a message, and nothing is published."""
    body = changes if changes == {"structure": "menuiserie"} else listing_body(**changes)
    status, answer, _ = await shared_api.call(
        "POST", "/api/v1/listings", token=shared_api.owner, json=body
    )
    assert_error(status, answer, 422, "invalid", fields=fields)
    _, page, _ = await shared_api.call("GET", "/api/v1/listings?status=any")
    assert page["items"] == []


@sqlite_only
async def test_invalid_patch(api: Api) -> None:
    """PATCH checks the fields it is given, against the listing's other values."""
    listing = await api.publish(available_from="2026-07-01")
    path = f"/api/v1/listings/{listing['id']}"
    status, body, _ = await api.call(
        "PATCH", path, token=api.owner, json={"available_until": "2026-06-01", "title": ""}
    )
    assert_error(status, body, 422, "invalid", fields={"available_until", "title"})
    status, body, _ = await api.call("PATCH", path, token=api.owner, json={"status": "deleted"})
    assert_error(status, body, 422, "invalid", fields={"status"})
    status, body, _ = await api.call("PATCH", path, token=api.owner, json={"structure": "other"})
    assert_error(status, body, 422, "invalid", fields={"structure"})
    _, after, _ = await api.call("GET", path)
    assert after["title"] == listing["title"]
    assert after["available_until"] is None
