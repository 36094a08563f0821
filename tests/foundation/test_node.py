"""The node container: its HTTP clients and its cached fetch key, through its methods."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from instance import node as node_module
from instance.services.keys import rotate_keys
from tests.support import TestNode

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _public_pem(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@sqlite_only
async def test_territory_key_is_read_again_after_rotation(node: TestNode) -> None:
    first = await node.node.territory_key()
    assert await node.node.territory_key() is first  # cached
    async with node.node.transaction() as session:
        await rotate_keys(session, node.node, node.settings.instance.handle)
    second = await node.node.territory_key()
    assert second is not first
    assert _public_pem(second.private_key) != _public_pem(first.private_key)


@sqlite_only
async def test_shared_client_lives_while_serving(node: TestNode) -> None:
    shared = node.node.http  # the app is serving
    assert not shared.is_closed
    await node.node.close_http()
    assert shared.is_closed
    with pytest.raises(RuntimeError, match="only while the app is serving"):
        _ = node.node.http
    node.node.open_http()
    assert not node.node.http.is_closed


@sqlite_only
async def test_one_delivery_client_per_server_oldest_closed(
    node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node_module, "DELIVERY_CLIENTS", 2)
    b = node.node.delivery_client("b.test")
    assert node.node.delivery_client("b.test") is b
    c = node.node.delivery_client("c.test")
    assert node.node.delivery_client("b.test") is b  # b is now the most recent
    node.node.delivery_client("d.test")  # three servers: c, the oldest, goes
    assert node.node.delivery_client("b.test") is b
    await node.node.close_delivery_clients()
    assert c.is_closed
    assert b.is_closed
