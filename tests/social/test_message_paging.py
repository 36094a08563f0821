"""Paging of messages: conversations a page at a time with their latest messages only, and
one conversation a page at a time, beyond one page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fedinet import network
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # cursors over ids and times


async def _get(node: TestNode, token: str, path: str) -> dict[str, Any]:
    response = await node.api("GET", path, token=token)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def test_conversations_and_messages_are_paged(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (_net, (a,)):
        await a.structure("menuiserie", owner="m@a.example")
        token = await a.token("m@a.example")
        for handle in ("atelier", "garage", "ferme"):
            await a.structure(handle, owner=f"{handle}@a.example")
        # Three conversations; the one with the atelier holds 12 messages.
        for handle, count in (("garage", 1), ("ferme", 2), ("atelier", 12)):
            for i in range(count):
                response = await a.api(
                    "POST", "/api/v1/messages", token=token,
                    json={"from": "menuiserie", "to": handle, "content": f"{handle} {i}"},
                )  # fmt: skip
                assert response.status_code == 201, await response.get_data()

        first = await _get(a, token, "/api/v1/messages?actor=menuiserie&limit=2")
        assert len(first["items"]) == 2 and first["next"]
        newest = first["items"][0]
        # Newest first; each conversation carries its latest five messages only.
        assert [
            m["content_text"] if "content_text" in m else m["content"] for m in newest["messages"]
        ][-1].endswith("11")
        assert len(newest["messages"]) == 5
        second = await _get(
            a, token, f"/api/v1/messages?actor=menuiserie&limit=2&cursor={first['next']}"
        )
        assert len(second["items"]) == 1 and second["next"] is None
        ids = [c["id"] for c in first["items"] + second["items"]]
        assert len(set(ids)) == 3

        # One conversation, oldest first, five at a time.
        seen: list[str] = []
        path = f"/api/v1/messages/{newest['id']}?actor=menuiserie&limit=5"
        pages = 0
        while path:
            page = await _get(a, token, path)
            seen += [m["content"] for m in page["items"]]
            pages += 1
            path = (
                f"/api/v1/messages/{newest['id']}?actor=menuiserie&limit=5&cursor={page['next']}"
                if page["next"]
                else ""
            )
        assert pages == 3 and len(seen) == 12
        assert seen == [f"atelier {i}" for i in range(12)]

        # Others and bad paging are refused.
        stranger = await a.token("garage@a.example")
        response = await a.api(
            "GET", f"/api/v1/messages/{newest['id']}?actor=garage", token=stranger
        )
        assert response.status_code == 404
        for bad in ("limit=0", "limit=101", "cursor=zzz"):
            response = await a.api("GET", f"/api/v1/messages?actor=menuiserie&{bad}", token=token)
            assert response.status_code == 422, bad
            response = await a.api(
                "GET", f"/api/v1/messages/{newest['id']}?actor=menuiserie&{bad}", token=token
            )
            assert response.status_code == 422, bad
