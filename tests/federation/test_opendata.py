"""Open data: the /data/ datasets hold public content only, round-trip, and validate."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.models import Listing
from tests.federation.test_listings_federation import LISTING, peer
from tests.federation.test_matching import NEED, publish
from tests.fedinet import network

pytestmark = pytest.mark.dialect  # aggregates and exports

SECRET_EMAIL = "secret-person@b.example"


async def test_datasets_hold_public_content_only(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, b, a)
        _, remote = await publish(a, "menuiserie", LISTING)
        token, need = await publish(b, "atelier", NEED)
        # Private or invisible, each seeded: a pending, a rejected and a suspended structure
        # (with a public contact), a withdrawn and a hidden listing, a person's e-mail.
        await b.structure("attente", owner=SECRET_EMAIL, approved=False, contact_email="c@x.fr")
        await publish(b, "suspendue", {**NEED, "structure": "suspendue", "title": "Suspendue"})
        _, gone = await publish(b, "atelier", {**NEED, "title": "Retirée"})
        await b.api("DELETE", f"/api/v1/listings/{gone['id']}", token=token)
        _, hidden = await publish(b, "atelier", {**NEED, "title": "Masquée"})
        await b.api(
            "POST", "/api/v1/messages", token=token,
            json={"from": "atelier", "to": "suspendue", "content": "Message privé"},
        )  # fmt: skip
        async with b.node.db.session() as session:
            from sqlalchemy import select

            from domain.models import Structure

            row = await session.get(Listing, hidden["id"])
            assert row is not None
            row.hidden = True
            structure = (
                await session.execute(select(Structure).where(Structure.handle == "suspendue"))
            ).scalar_one()
            structure.status = "suspended"
        await net.settle()

        client = b.app.test_client()
        bodies = {}
        for name in ("listings.csv", "listings.geojson", "structures.csv", "structures.geojson"):
            response = await client.get(f"/data/{name}")
            assert response.status_code == 200, name
            bodies[name] = (await response.get_data()).decode("utf-8")
            for secret in (
                SECRET_EMAIL, "c@x.fr", "Masquée", "Retirée", "Message privé", "attente",
                "suspendue", "Suspendue", "@b.test.example",
            ):  # fmt: skip
                assert secret not in bodies[name], (name, secret)

        listings = list(csv.DictReader(io.StringIO(bodies["listings.csv"])))
        assert sorted(r["title"] for r in listings) == sorted([NEED["title"], LISTING["title"]])
        mine = next(r for r in listings if r["title"] == NEED["title"])
        assert mine["id"] == need["ap_id"] and mine["origin"] == "b.test"
        assert mine["structure"] == "atelier"
        theirs = next(r for r in listings if r["title"] == LISTING["title"])
        assert theirs["id"] == remote["ap_id"] and theirs["origin"] == "a.test"
        # Round trip: what the CSV says is what the API says.
        assert float(mine["lat"]) == need["location"]["lat"]
        assert mine["description"] == NEED["description"]

        collection = json.loads(bodies["listings.geojson"])
        assert collection["type"] == "FeatureCollection"
        for feature in collection["features"]:
            assert set(feature) == {"type", "id", "geometry", "properties"}
            assert feature["type"] == "Feature"
            lon, lat = feature["geometry"]["coordinates"]  # RFC 7946: longitude first
            assert feature["geometry"]["type"] == "Point"
            assert -180 <= lon <= 180 and -90 <= lat <= 90
        geo_need = next(f for f in collection["features"] if f["id"] == need["ap_id"])
        assert geo_need["geometry"]["coordinates"] == [
            need["location"]["lon"],
            need["location"]["lat"],
        ]

        structures = list(csv.DictReader(io.StringIO(bodies["structures.csv"])))
        assert [r["handle"] for r in structures] == ["atelier"]
        assert "contact_email" not in structures[0]
        assert (
            json.loads(bodies["structures.geojson"])["features"][0]["properties"]["handle"]
            == "atelier"
        )

        later = await client.get("/data/listings.csv?since=2999-01-01T00:00:00Z")
        assert list(csv.DictReader(io.StringIO((await later.get_data()).decode()))) == []
        bad = await client.get("/data/listings.csv?since=yesterday")
        assert bad.status_code == 422

        catalogue = json.loads(await (await client.get("/data/catalog.jsonld")).get_data())
        assert catalogue["@type"] == "dcat:Catalog"
        assert catalogue["dct:license"]["dct:title"] == "Licence Ouverte / Etalab 2.0"
        urls = {
            d["dcat:downloadURL"]["@id"]
            for dataset in catalogue["dcat:dataset"]
            for d in dataset["dcat:distribution"]
        }
        assert urls == {f"https://b.test/data/{n}" for n in bodies}
