"""Incoming body limits: media type, size, compression bombs, JSON shape."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from federation.errors import PayloadError, PayloadTooLarge, UnsupportedMediaType
from federation.payload import CappedDecoder, decode_body, load_json, parse_activity

ACTIVITY = {"type": "Follow", "id": "https://a.example/f/1", "actor": "https://a.example/u/a"}
BODY = json.dumps(ACTIVITY).encode()
AP = "application/activity+json"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        "Application/JSON",
    ],
)
def test_accepted_content_types(content_type: str) -> None:
    assert parse_activity(BODY, content_type, None) == ACTIVITY


@pytest.mark.parametrize(
    "content_type", [None, "", "text/html", "application/x-www-form-urlencoded", "text/json"]
)
def test_other_content_types_are_refused_with_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        parse_activity(BODY, content_type, None)
    assert caught.value.status == 415


def test_body_over_the_limit_is_refused() -> None:
    """Attack: a body over the size limit: refused with 413 before it is parsed."""
    with pytest.raises(PayloadTooLarge) as caught:
        parse_activity(BODY + b" " * 100, AP, None, max_bytes=len(BODY) + 99)
    assert caught.value.status == 413
    assert parse_activity(BODY + b" " * 99, AP, None, max_bytes=len(BODY) + 99) == ACTIVITY


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_inflated(encoding: str) -> None:
    if encoding == "gzip":
        data = gzip.compress(BODY)
    elif encoding == "deflate":
        data = zlib.compress(BODY)
    else:  # some servers send raw DEFLATE under "deflate"
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data = packer.compress(BODY) + packer.flush()
    header = "deflate" if encoding == "raw-deflate" else encoding
    assert parse_activity(data, AP, header) == ACTIVITY


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    """10 MB of zeros gzip to ~10 kB: refused once the cap is passed, not inflated."""
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    decoder = CappedDecoder("gzip", 1_048_576)
    with pytest.raises(PayloadTooLarge):
        decoder.feed(bomb)
    assert decoder._size <= 1_048_577  # stopped one byte past the cap
    with pytest.raises(PayloadTooLarge):
        parse_activity(bomb, AP, "gzip")


def test_corrupt_or_truncated_gzip_is_refused() -> None:
    with pytest.raises(PayloadError, match="corrupt"):
        decode_body(b"not gzip at all", "gzip")
    with pytest.raises(PayloadError, match="truncated"):
        decode_body(gzip.compress(BODY)[:-12], "gzip")


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, gzip"])
def test_unknown_content_encoding_is_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_activity(BODY, AP, encoding)


def test_json_nested_100000_deep_is_refused() -> None:
    """json.loads raises RecursionError here: it must become a PayloadError."""
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(PayloadError, match="nested deeper"):
        parse_activity(deep, AP, None, max_bytes=1_000_000)
    deep_objects = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(PayloadError, match="nested deeper"):
        parse_activity(deep_objects, AP, None, max_bytes=1_000_000)


def test_depth_limit() -> None:
    def nested(depth: int) -> bytes:
        """An activity whose containers (itself included) nest ``depth`` deep."""
        inner: object = "x"
        for _ in range(depth - 1):
            inner = [inner]
        return json.dumps({"type": "Note", "content": inner}).encode()

    assert parse_activity(nested(64), AP, None)
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        parse_activity(nested(65), AP, None)
    assert parse_activity(nested(5), AP, None, max_depth=5)
    with pytest.raises(PayloadError, match="nested deeper than 5"):
        parse_activity(nested(6), AP, None, max_depth=5)


def test_array_of_100000_items_is_refused() -> None:
    """Attack: an array of 100,000 items (CPU and memory for whoever walks it): refused."""
    body = json.dumps({"type": "Note", "tag": [0] * 100_000}).encode()
    with pytest.raises(PayloadError, match="more than 10000 items"):
        parse_activity(body, AP, None)
    ok = json.dumps({"type": "Note", "tag": [0] * 10_000}).encode()
    assert parse_activity(ok, AP, None)


def test_object_with_too_many_keys_is_refused() -> None:
    """Attack: an object with thousands of keys (hash flooding, memory): refused."""
    body = json.dumps({"type": "Note"} | {f"k{i}": i for i in range(2_000)}).encode()
    with pytest.raises(PayloadError, match="more than 2000 keys"):
        parse_activity(body, AP, None)
    with pytest.raises(PayloadError, match="more than 10 keys"):
        parse_activity(
            json.dumps({"type": "Note", "x": {str(i): i for i in range(11)}}).encode(),
            AP,
            None,
            max_keys=10,
        )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b'{"type": "Note", "n": NaN}',
        b"\xff\xfe\xfa",
        b'{"type": "Note", "n": ' + b"9" * 5000 + b"}",  # Python's int digit limit
    ],
)
def test_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_activity(body, AP, None)


@pytest.mark.parametrize(
    "body", [b"[]", b'"Follow"', b"42", b"{}", b'{"type": 3}', b'{"type": ["Create"]}']
)
def test_top_level_must_be_an_object_with_a_string_type(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_activity(body, AP, None)


def test_load_json_accepts_non_objects() -> None:
    assert load_json(b"[1, 2]") == [1, 2]
