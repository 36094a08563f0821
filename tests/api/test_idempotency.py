"""``Idempotency-Key`` on the JSON API's writes (``instance.services.idempotency``): a
retried request is answered with its first answer, never run twice."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from config.database import utcnow
from domain.idempotency import IdempotencyKey
from domain.models import Listing, Person
from instance import draining
from instance.api import listings as listings_api
from instance.housekeeping import prune_idempotency_keys
from instance.services import idempotency
from instance.services import listings as listings_service
from tests.api.helpers import STRANGER, Api, assert_error, listing_body

KEY = "import-2026-12-07-ligne-42"
HEADER = "Idempotency-Key"


async def _post(
    api: Api, key: str | None, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, Any, Any]:
    headers = {} if key is None else {"Idempotency-Key": key}
    return await api.call(
        "POST",
        "/api/v1/listings",
        token=token or api.owner,
        json=body or listing_body(),
        headers=headers,
    )


async def _count(api: Api, model: type[Listing] | type[IdempotencyKey]) -> int:
    async with api.node.node.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.dialect
async def test_a_retry_with_the_same_key_replays_the_first_answer(api: Api) -> None:
    """Guards against the duplicate a script makes when it retries a POST whose answer it
    lost: the retry gets the same 201 and listing id, marked as replayed, and one listing
    is stored (on SQLite and PostgreSQL: the reservation is an INSERT … ON CONFLICT). The
    same holds for the other writes (a saved search; a DELETE replayed, not a 404)."""
    first_status, first, first_headers = await _post(api, KEY)
    assert first_status == 201, first
    assert "Idempotent-Replayed" not in first_headers

    again_status, again, again_headers = await _post(api, KEY)
    assert again_status == 201
    assert again == first
    assert again_headers["Idempotent-Replayed"] == "true"
    assert again_headers["Content-Type"].startswith("application/json")
    assert await _count(api, Listing) == 1

    # Every write of the API, not listings only: a saved search, then its deletion.
    search = {"actor": "menuiserie", "name": "Bois", "query": {"q": "bois"}}
    saved = [
        await api.call(
            "POST", "/api/v1/saved-searches", token=api.owner, json=search, headers={HEADER: "s"}
        )
        for _ in range(2)
    ]
    assert saved[0][0] == saved[1][0] == 201 and saved[0][1] == saved[1][1]
    assert saved[1][2]["Idempotent-Replayed"] == "true"
    path = f"/api/v1/saved-searches/{saved[0][1]['id']}"
    deleted = [
        await api.call("DELETE", path, token=api.owner, headers={HEADER: "d"}) for _ in range(2)
    ]
    assert deleted[0][0] == deleted[1][0] < 300  # replayed, not 404 on the second
    assert deleted[1][2]["Idempotent-Replayed"] == "true"


async def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    """Guards against a key reused by mistake for another request being answered with the
    first request's answer (the script would believe its second write happened)."""
    status, _, _ = await _post(api, KEY)
    assert status == 201
    status, body, _ = await _post(api, KEY, listing_body(title="Scie à ruban"))
    assert_error(status, body, 422, "idempotency_key_reused")
    assert await _count(api, Listing) == 1


async def test_keys_belong_to_their_person(api: Api) -> None:
    """Guards against one person's key answering (and leaking) another person's request:
    the stranger's same key runs their own request (403: not their structure)."""
    assert (await _post(api, KEY))[0] == 201
    status, body, headers = await _post(api, KEY, token=api.stranger)
    assert_error(status, body, 403, "forbidden")
    assert "Idempotent-Replayed" not in headers
    again_status, again, again_headers = await _post(api, KEY, token=api.stranger)
    assert (again_status, again) == (status, body)  # a stored 4xx is replayed too
    assert again_headers["Idempotent-Replayed"] == "true"
    assert await _count(api, Listing) == 1

    stranger = await api.node.person(STRANGER)
    async with api.node.node.db.session() as session:  # a person leaves: their keys go
        await session.delete(await session.get(Person, stranger.id))
    assert await _count(api, IdempotencyKey) == 1


async def test_a_malformed_key_is_refused_before_anything_runs(api: Api) -> None:
    """Guards against keys that cannot be stored or compared (empty, too long, not
    printable ASCII) being accepted and silently not protecting the request."""
    for key in ("", "k" * 256, "clé", "tab\there"):
        status, body, _ = await _post(api, key)
        assert_error(status, body, 400, "invalid_idempotency_key")
    assert (await _post(api, "k" * 255))[0] == 201  # the longest allowed
    assert await _count(api, Listing) == 1


async def test_without_the_header_nothing_changes(api: Api) -> None:
    """Guards against the contract changing for clients that send no key: two POSTs make
    two listings, no key is stored, no replay header appears."""
    first = await _post(api, None)
    second = await _post(api, None)
    assert first[0] == second[0] == 201
    assert first[1]["id"] != second[1]["id"]
    assert "Idempotent-Replayed" not in second[2]
    assert await _count(api, Listing) == 2
    assert await _count(api, IdempotencyKey) == 0


@pytest.mark.dialect
async def test_a_key_whose_request_runs_is_answered_409(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a retry sent while the first request still runs (a client timeout
    shorter than the handler) running the write a second time."""
    entered, release = asyncio.Event(), asyncio.Event()
    read_body = listings_api.json_body

    async def held_body() -> dict[str, Any]:
        entered.set()
        await release.wait()
        return await read_body()

    monkeypatch.setattr(listings_api, "json_body", held_body)
    first = asyncio.create_task(_post(api, KEY))
    await asyncio.wait_for(entered.wait(), 10)
    status, body, _ = await _post(api, KEY)
    assert_error(status, body, 409, "idempotency_key_in_progress")
    release.set()
    assert (await first)[0] == 201
    assert (await _post(api, KEY))[2]["Idempotent-Replayed"] == "true"
    assert await _count(api, Listing) == 1


async def test_a_request_cut_before_any_commit_frees_its_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against the very case the header is for — the connection cut while the
    handler runs, Quart cancelling it — leaving the key in progress for 24 hours when
    nothing was written: the retry runs and publishes once."""
    entered = asyncio.Event()

    async def endless_body() -> dict[str, Any]:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never reached")

    monkeypatch.setattr(listings_api, "json_body", endless_body)
    raw = json.dumps(listing_body()).encode()
    headers = {
        "Authorization": f"Bearer {api.owner}",
        "Idempotency-Key": KEY,
        "Content-Type": "application/json",
        "Content-Length": str(len(raw)),
    }
    client = api.node.client()
    async with client.request("/api/v1/listings", method="POST", headers=headers) as connection:
        await connection.send(raw)
        await connection.send_complete()
        await asyncio.wait_for(entered.wait(), 10)
        await connection.disconnect()
    monkeypatch.undo()
    assert await _count(api, IdempotencyKey) == 0
    status, body, headers = await _post(api, KEY)
    assert status == 201, body
    assert "Idempotent-Replayed" not in headers
    assert await _count(api, Listing) == 1


async def test_an_answer_lost_after_the_commit_keeps_the_key_in_progress(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against the crash window making a duplicate: the listing is committed but
    its answer is never stored (here the storing fails); retries get 409, not a second
    listing."""

    async def lost(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr(idempotency, "record", lost)
    assert (await _post(api, KEY))[0] == 500
    monkeypatch.undo()
    status, body, _ = await _post(api, KEY)
    assert_error(status, body, 409, "idempotency_key_in_progress")
    assert await _count(api, Listing) == 1


async def test_a_5xx_after_a_commit_keeps_the_key_in_progress(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a 5xx answered after the write was committed (here: waking the
    workers fails after the commit) freeing the key, so that the retry writes again."""

    def broken_wake(name: str) -> None:
        raise RuntimeError("failed after the commit")

    monkeypatch.setattr(api.node.node, "wake", broken_wake)
    assert (await _post(api, KEY))[0] == 500
    monkeypatch.undo()
    assert await _count(api, Listing) == 1
    status, body, _ = await _post(api, KEY)
    assert_error(status, body, 409, "idempotency_key_in_progress")
    assert await _count(api, Listing) == 1


async def test_a_5xx_is_not_stored_and_the_retry_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a failure that ran nothing (a draining node's 503, an error before
    any commit) being replayed for 24 hours: the retry with the same key runs."""
    draining.begin()
    try:
        status, body, _ = await _post(api, KEY)
    finally:
        draining.end()
    assert_error(status, body, 503, "unavailable")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug before any commit")

    monkeypatch.setattr(listings_service, "create_listing", broken)
    assert (await _post(api, KEY))[0] == 500
    monkeypatch.undo()
    assert await _count(api, IdempotencyKey) == 0

    status, body, headers = await _post(api, KEY)
    assert status == 201, body
    assert "Idempotent-Replayed" not in headers
    assert await _count(api, Listing) == 1


async def test_keys_are_purged_after_their_time(api: Api) -> None:
    """Guards against the table growing for ever, and against an expired key still
    answering: after ``web.idempotency_hours`` the key is purged and may be used again."""
    assert (await _post(api, KEY))[0] == 201
    assert (await _post(api, "recent"))[0] == 201
    hours = api.node.settings.web.idempotency_hours
    async with api.node.node.db.session() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == KEY)
            .values(created_at=utcnow() - timedelta(hours=hours, minutes=1))
        )
    assert await prune_idempotency_keys(api.node.node) == 1
    assert await prune_idempotency_keys(api.node.node) == 0
    async with api.node.node.db.read() as session:
        assert (await session.scalars(select(IdempotencyKey.key))).all() == ["recent"]
    status, _, headers = await _post(api, KEY)
    assert status == 201 and "Idempotent-Replayed" not in headers
    assert await _count(api, Listing) == 3
