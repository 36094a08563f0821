"""Helpers shared by the test_acting_for_others modules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from actors.local import reject_structure
from domain.models import Listing, Structure
from domain.social import Community, Message, Post, Report
from federation.models import Activity, Follow
from tests.fedinet import FakeActor, FediNet, network
from tests.security.helpers import rsa_key
from tests.support import TestNode

SECRET = "Tarif-negocie-5521"
BOB = "https://b.example/users/bob"


@dataclass
class World:
    net: FediNet
    a: TestNode
    owner: str  # acts for victime
    neighbour: str  # acts for voisine
    suspended_owner: str  # acts for suspendue
    moderator: str
    admin: str
    animator: str
    loner: str  # a member of no structure
    listing: int  # an open listing of suspendue, published before the suspension


async def _api(node: TestNode, method: str, path: str, token: str | None, body: Any = None) -> Any:
    response = await node.api(method, path, token=token, json=body)
    return response.status_code, await response.get_data(as_text=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_db: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("acting")
    async with network(path, module_db, ["a.test"]) as (net, (a,)):
        net.hooks.append(FakeActor(BOB, rsa_key(2048)))
        for handle, owner in (
            ("victime", "v@a.example"),
            ("voisine", "n@a.example"),
            ("suspendue", "s@a.example"),
        ):
            await a.structure(handle, owner=owner)
        await a.structure("attente", owner="w@a.example", approved=False)
        refusee = await a.structure("refusee", owner="r@a.example", approved=False)
        admin = await a.person("admin@a.example", role="admin")
        async with a.node.db.session() as session:
            structure = await session.get(Structure, refusee.id)
            assert structure is not None
            reject_structure(structure, admin, "Pas sur le territoire")
        world = World(
            net=net,
            a=a,
            owner=await a.token("v@a.example"),
            neighbour=await a.token("n@a.example"),
            suspended_owner=await a.token("s@a.example"),
            moderator=await a.token("mod@a.example", role="moderator"),
            admin=await a.token("admin@a.example", role="admin"),
            animator=await a.token("anim@a.example", role="animator"),
            loner=await a.token("seul@a.example"),
            listing=0,
        )
        status, text = await _api(
            a,
            "POST",
            "/api/v1/messages",
            world.owner,
            {"from": "victime", "to": "voisine", "content": f"Notre prix : {SECRET}"},
        )
        assert status == 201, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/communities",
            world.animator,
            {"handle": "reseau", "name": "Réseau", "description": "Club"},
        )
        assert status == 201, text
        status, text = await _api(
            a, "POST", "/api/v1/communities/reseau/members", world.owner, {"actor": "victime"}
        )
        assert status == 201, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/listings",
            world.suspended_owner,
            {
                "structure": "suspendue",
                "kind": "offer",
                "title": "Perceuse",
                "description": "Une perceuse à prêter.",
                "category": "equipment",
                "modality": "lend",
            },
        )
        assert status == 201, text
        world.listing = json.loads(text)["id"]
        status, text = await _api(
            a,
            "POST",
            "/api/v1/follows",
            world.suspended_owner,
            {"actor": "suspendue", "target": "https://a.test/actors/reseau"},
        )
        assert status == 202, text
        status, text = await _api(
            a,
            "POST",
            "/api/v1/moderation/structures/suspendue/suspend",
            world.moderator,
            {"reason": "Usurpation"},
        )
        assert status == 200, text
        yield world


async def _counts(node: TestNode) -> dict[str, int]:
    async with node.node.db.session() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Message, Follow, Report, Post, Listing, Activity, Community)
        }
