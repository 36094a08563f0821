"""Limits on bodies we receive: size, encoding, media type, JSON shape.

Every inbox POST (and every fetched document, via :func:`load_json` and
:class:`CappedDecoder`) passes through here before anything looks at it:

* **Media type**: ``application/activity+json``, ``application/ld+json`` (any
  ``profile``) or ``application/json``; anything else is
  :class:`~federation.errors.UnsupportedMediaType` (415). ActivityPub section
  5 names the first two; plain JSON is what some servers send.
* **Size**: the raw body, and the body once decompressed, are capped at
  ``max_bytes`` (:class:`~federation.errors.PayloadTooLarge`, 413). ``gzip``
  and ``deflate`` are inflated with ``zlib``'s ``max_length`` so that a bomb
  (10 MB of zeros gzip to 10 kB) stops one byte past the cap instead of being
  inflated in memory.
* **Shape**: JSON nested deeper than ``max_depth``, arrays longer than
  ``max_items`` and objects with more than ``max_keys`` keys are refused. The
  walk uses an explicit stack, never Python recursion; ``json.loads`` itself
  recurses in C and raises RecursionError on input around a thousand levels
  deep, which is reported as too deep. Python's own guard against huge
  integers (over 4300 digits) surfaces as a malformed-JSON error, and so do
  ``NaN`` / ``Infinity``, which ``json`` would otherwise accept.
* **Top level**: an object with a string ``type``. Whether ``id`` and
  ``actor`` agree with the signer is for the caller.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from federation.errors import PayloadError, PayloadTooLarge, UnsupportedMediaType

MAX_BYTES = 1_048_576
ACCEPTED_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 65_536


class CappedDecoder:
    """Incremental gzip/deflate inflater that refuses to exceed ``max_bytes``."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        wbits = _WBITS.get(encoding.strip().lower())
        if wbits is None:
            raise UnsupportedMediaType("unsupported Content-Encoding (use gzip or deflate)")
        self._raw_deflate_fallback = wbits == zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        self._max = max_bytes
        self._size = 0
        self._started = False

    def feed(self, data: bytes) -> bytes:
        """Inflate ``data``; raises PayloadTooLarge past the cap, PayloadError if corrupt."""
        out = bytearray()
        pending = data
        while pending:
            try:
                chunk = self._inflater.decompress(pending, self._max - self._size + 1)
            except zlib.error as exc:
                # RFC 9110 "deflate" is zlib-wrapped, but some servers send raw DEFLATE.
                if self._raw_deflate_fallback and not self._started:
                    self._raw_deflate_fallback = False
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise PayloadError("the compressed body is corrupt") from exc
            self._started = True
            self._size += len(chunk)
            if self._size > self._max:
                raise PayloadTooLarge(f"the decompressed body is over {self._max} bytes")
            out += chunk
            pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                break
        return bytes(out)

    def finish(self) -> bytes:
        """Flush the inflater; raises PayloadError if the stream was cut short."""
        tail = self.feed(b"") + self._inflater.flush()
        if len(tail) + self._size > self._max:
            raise PayloadTooLarge(f"the decompressed body is over {self._max} bytes")
        if not self._inflater.eof:
            raise PayloadError("the compressed body is truncated")
        return tail


def decode_body(body: bytes, content_encoding: str | None, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The body with its Content-Encoding removed, never more than ``max_bytes``."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the body is over {max_bytes} bytes")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if "," in encoding:
        raise UnsupportedMediaType("stacked Content-Encodings are not accepted")
    decoder = CappedDecoder(encoding, max_bytes)
    parts = [decoder.feed(body[i : i + _CHUNK]) for i in range(0, len(body), _CHUNK)]
    parts.append(decoder.finish())
    return b"".join(parts)


def check_shape(
    value: Any, *, max_depth: int = 64, max_items: int = 10_000, max_keys: int = 2_000
) -> None:
    """Refuse JSON deeper, longer or wider than the limits (iterative walk)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            if len(node) > max_keys:
                raise PayloadError(f"a JSON object has more than {max_keys} keys")
        elif isinstance(node, list):
            children = node
            if len(node) > max_items:
                raise PayloadError(f"a JSON array has more than {max_items} items")
        else:
            continue
        if depth > max_depth:
            raise PayloadError(f"JSON is nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: Python-only extensions


def load_json(
    data: bytes, *, max_depth: int = 64, max_items: int = 10_000, max_keys: int = 2_000
) -> Any:
    """``json.loads`` with the shape limits; raises PayloadError."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise PayloadError(f"JSON is nested deeper than {max_depth} levels") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise PayloadError("the body is not valid JSON") from exc
    check_shape(value, max_depth=max_depth, max_items=max_items, max_keys=max_keys)
    return value


def media_type(content_type: str | None) -> str:
    """``"application/ld+json"`` from ``'application/ld+json; profile="…"'``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_activity(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = 64,
    max_items: int = 10_000,
    max_keys: int = 2_000,
) -> dict[str, Any]:
    """An incoming activity as a dict, after every limit above."""
    if media_type(content_type) not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            "Content-Type must be application/activity+json or application/ld+json"
        )
    data = decode_body(body, content_encoding, max_bytes=max_bytes)
    value = load_json(data, max_depth=max_depth, max_items=max_items, max_keys=max_keys)
    if not isinstance(value, dict):
        raise PayloadError("the body must be a JSON object")
    if not isinstance(value.get("type"), str):
        raise PayloadError("the activity has no string 'type'")
    return value
