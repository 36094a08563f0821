"""``GET``/``PUT /api/v1/notifications/email``: a structure's e-mail choice by the API."""

from __future__ import annotations

from tests.api.helpers import Api, assert_error

PATH = "/api/v1/notifications/email"


async def test_members_read_and_set_the_choice(api: Api) -> None:
    status, body, _ = await api.call(
        "GET", PATH, token=api.owner, query_string={"actor": "menuiserie"}
    )
    assert (status, body) == (200, {"actor": "menuiserie", "email": "now"})
    status, body, _ = await api.call(
        "PUT", PATH, token=api.owner, json={"actor": "menuiserie", "email": "digest"}
    )
    assert (status, body) == (200, {"actor": "menuiserie", "email": "digest"})
    status, body, _ = await api.call(
        "GET", PATH, token=api.owner, query_string={"actor": "menuiserie"}
    )
    assert body == {"actor": "menuiserie", "email": "digest"}

    status, body, _ = await api.call(
        "PUT", PATH, token=api.owner, json={"actor": "menuiserie", "email": "hourly"}
    )
    assert_error(status, body, 422, "invalid", fields={"email"})
    status, body, _ = await api.call("PUT", PATH, token=api.owner, json={"email": "never"})
    assert_error(status, body, 422, "invalid", fields={"actor"})


async def test_others_cannot(api: Api) -> None:
    for token in (api.stranger, api.moderator):
        status, body, _ = await api.call(
            "PUT", PATH, token=token, json={"actor": "menuiserie", "email": "never"}
        )
        assert_error(status, body, 403, "forbidden")
    status, body, _ = await api.call("GET", PATH, query_string={"actor": "menuiserie"})
    assert_error(status, body, 401, "unauthorized")
    status, body, _ = await api.call(
        "GET", PATH, token=api.owner, query_string={"actor": "menuiserie"}
    )
    assert body["email"] == "now"
