"""Fetching one ActivityPub document: signed, bounded, origin-checked.

:func:`fetch_json` is the only way the node GETs a remote object (actor, key,
note, collection page). What it guarantees:

* **Signed GET** (authorized fetch): with a ``key``, each request, each
  redirect hop included, carries an HTTP signature through
  :class:`~federation.signatures.HttpSignatureAuth` (Mastodon in secure mode
  answers 401 otherwise).
* **Accept**: ``application/activity+json, application/ld+json;
  profile="https://www.w3.org/ns/activitystreams"`` (ActivityPub section 3.2).
* **Redirects** are followed by hand, at most ``max_redirects``, and every hop
  passes :func:`~federation.net.check_url` again, so a public URL cannot
  redirect us into the private network. With ``same_host=True`` (what
  :class:`~federation.remote.Remote` asks for) a redirect must also stay on the
  host we asked: the federation policy was checked for that host, and only it
  speaks for the URL we asked about (otherwise ``evil.example`` could redirect
  us to a blocked domain, or answer for one of its URLs with another server's
  genuine actor, which we would then take for the actor at that URL).
  ``on_redirect``, when given, is awaited with each hop's URL before it is
  requested and raises to refuse it (WebFinger lookups check the federation
  policy of every hop with it: their answer is checked against the host asked).
* **Size**: a ``Content-Length`` over ``max_bytes`` is refused before reading;
  the body is streamed and cut at ``max_bytes``, counting decompressed bytes
  (we ask for gzip and inflate it ourselves with a cap, see
  :class:`~federation.payload.CappedDecoder`).
* **Time**: the whole exchange, redirects and body included, is bounded by
  ``time_limit`` seconds (``asyncio.timeout``), so a server trickling a byte a
  second cannot hold a worker.
* **Status**: non-2xx raises :class:`~federation.errors.RemoteStatusError`
  with ``status_code``; 410 raises its subclass
  :class:`~federation.errors.RemoteGone` (a deleted actor: callers drop it).
* **Content**: a JSON object (with the payload module's shape limits).
* **Origin**: the document's ``id`` must be on the same host as the *final*
  URL (after redirects) or :class:`~federation.errors.OriginMismatch` is
  raised: anyone can serve a copy of someone else's object, only its own
  server is authoritative (the rule Mastodon applies in
  ``ActivityPub::FetchRemoteStatusService``).

Errors: FetchError (and subclasses), UnsafeAddress, OriginMismatch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from federation.errors import (
    FetchError,
    OriginMismatch,
    PayloadError,
    PayloadTooLarge,
    RemoteGone,
    RemoteStatusError,
)
from federation.keys import SigningKey, host_of, on_host
from federation.net import check_url
from federation.payload import CappedDecoder, load_json, media_type
from federation.signatures import HttpSignatureAuth
from federation.vocab import AS_CONTEXT

logger = logging.getLogger(__name__)

ACCEPT = f'application/activity+json, application/ld+json; profile="{AS_CONTEXT}"'
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
RedirectCheck = Callable[[str], Awaitable[object]]


async def fetch_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    key: SigningKey | None,
    allow_private: bool,
    allow_http: bool,
    max_bytes: int = 1_048_576,
    max_redirects: int = 3,
    time_limit: float = 30.0,
    require_id: bool = True,
    accept: str = ACCEPT,
    same_host: bool = False,
    on_redirect: RedirectCheck | None = None,
) -> dict[str, Any]:
    """GET an ActivityPub document and return it as a dict (see module doc).

    ``require_id=False`` accepts a document without ``id`` (NodeInfo, …); an
    ``id`` that is present is always checked against the final host.
    """
    try:
        async with asyncio.timeout(time_limit):
            final_url, body = await _get(
                client,
                url,
                key,
                allow_private,
                allow_http,
                max_bytes,
                max_redirects,
                accept,
                same_host,
                on_redirect,
            )
    except TimeoutError as exc:
        raise FetchError(f"fetching {_short(url)} took longer than {time_limit:g} s") from exc
    except httpx.HTTPError as exc:
        logger.info("fetch of %s failed: %r", url, exc)
        raise FetchError(f"could not fetch {_short(url)} ({type(exc).__name__})") from exc
    try:
        document = load_json(body)
    except PayloadError as exc:
        raise FetchError(f"{_short(url)} did not return valid JSON: {exc.message}") from exc
    if not isinstance(document, dict):
        raise FetchError(f"{_short(url)} did not return a JSON object")
    doc_id = document.get("id")
    if doc_id is None and not require_id:
        return document
    if not isinstance(doc_id, str):
        raise FetchError(f"the document at {_short(url)} has no id")
    try:
        same = host_of(doc_id) == host_of(final_url)
    except PayloadError as exc:
        raise OriginMismatch(f"the document id is not an http(s) URL: {exc.message}") from exc
    if not same:
        raise OriginMismatch(
            f"the document at {_short(final_url)} claims an id on another host ({host_of(doc_id)})"
        )
    return document


def _short(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "…"


async def _get(
    client: httpx.AsyncClient,
    url: str,
    key: SigningKey | None,
    allow_private: bool,
    allow_http: bool,
    max_bytes: int,
    max_redirects: int,
    accept: str,
    same_host: bool,
    on_redirect: RedirectCheck | None,
) -> tuple[str, bytes]:
    auth = HttpSignatureAuth(key) if key is not None else None
    headers = {"Accept": accept, "Accept-Encoding": "gzip"}
    current = url
    for _hop in range(max_redirects + 1):
        check_url(current, allow_private=allow_private, allow_http=allow_http)
        request = client.build_request("GET", current, headers=headers)
        response = await client.send(request, auth=auth, stream=True, follow_redirects=False)
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"{_short(current)} redirected without a Location")
                current = str(response.url.join(location))
                if same_host and not on_host(current, host_of(url)):
                    raise OriginMismatch(f"{_short(url)} redirected to another host")
                if on_redirect is not None:
                    await on_redirect(current)
                continue
            _check_status(response, current)
            return current, await _read_capped(response, max_bytes)
        finally:
            await response.aclose()
    raise FetchError(f"{_short(url)} redirected more than {max_redirects} times")


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status == 410:
        raise RemoteGone(f"{_short(url)} is gone (410)", status)
    if not 200 <= status < 300:
        raise RemoteStatusError(f"{_short(url)} answered {status}", status)
    kind = media_type(response.headers.get("content-type"))
    if kind and not (kind.endswith("/json") or kind.endswith("+json")):
        raise FetchError(f"{_short(url)} answered {kind[:60]}, not JSON")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    length = response.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchError(f"the document is over {max_bytes} bytes (Content-Length {length})")
    if response.is_stream_consumed:
        # Built in memory (httpx.MockTransport in tests): httpx has already decoded it.
        if len(response.content) > max_bytes:
            raise FetchError(f"the document is over {max_bytes} bytes")
        return response.content
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    try:
        decoder = None if encoding == "identity" else CappedDecoder(encoding, max_bytes)
        parts: list[bytes] = []
        size = 0
        # aiter_raw: httpx would inflate gzip without a cap; CappedDecoder has one.
        async for chunk in response.aiter_raw():
            data = decoder.feed(chunk) if decoder else chunk
            size += len(data)
            if size > max_bytes:
                raise PayloadTooLarge(f"over {max_bytes} bytes")
            parts.append(data)
        if decoder:
            parts.append(decoder.finish())
    except PayloadTooLarge as exc:
        raise FetchError(f"the document is over {max_bytes} bytes") from exc
    except PayloadError as exc:
        raise FetchError(f"the document could not be decoded: {exc.message}") from exc
    return b"".join(parts)
