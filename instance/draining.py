"""A stopping node refuses new writes with 503 rather than commit work whose answer is lost.

Hypercorn's graceful shutdown lets requests in flight finish (``graceful_timeout``)
and closes idle keep-alive connections at once. A request that reaches an idle
connection in the instant the server stops is still handed to the app, but its
connection is being closed under it: the app could commit a listing, a message or
an accepted activity and the client would get a cut connection, retry, and make
a duplicate (seen under load: a burst of listings at SIGTERM, one committed with
no 201 sent).

So the order is made explicit. The shutdown trigger given to Hypercorn (:func:`trigger`)
first marks the process as draining, and only then returns, which is when Hypercorn
starts closing connections. From that instant, :func:`refuse_when_draining` (the
app's first ``before_request``) answers every new unsafe request (POST, PUT, PATCH,
DELETE) with ``503`` and ``Retry-After`` before any of it runs: nothing is committed,
and the client knows to try again (a remote server retries its delivery; the
JSON API says ``"error": "unavailable"``; a form gets the short 503 page). A
request that started before the mark runs to its end and is answered, because
Hypercorn does not close a connection whose request is in progress. Safe requests
(GET, HEAD) are still served: losing their answer costs nothing.

The mark is per process: each web process of ``serve --workers N`` has its own
trigger, and ``demo --peered`` stops both of its nodes together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Quart, Response, request

from instance.errors import json_error, unavailable_page, wants_json
from instance.i18n import gettext

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER = 5  # seconds: a node restarts within that, usually
MESSAGE = "the node is restarting; try again in a moment"

_draining = False


def begin() -> None:
    """From now on, this process refuses new unsafe requests."""
    global _draining
    _draining = True


def end() -> None:
    """Serve again (a test that drained a node in process; a process restarted in place)."""
    global _draining
    _draining = False


def draining() -> bool:
    return _draining


def trigger(wait: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """A Hypercorn ``shutdown_trigger`` that marks the process as draining before it returns."""

    async def shutdown_trigger() -> None:
        await wait()
        begin()

    return shutdown_trigger


async def refuse_when_draining() -> Response | None:
    if not _draining or request.method not in UNSAFE:
        return None
    headers = {"Retry-After": str(RETRY_AFTER), "Connection": "close"}
    if wants_json():
        return json_error(503, MESSAGE, code="unavailable", headers=headers)
    text = gettext("The site is restarting. Please try again in a moment.")
    response = Response(unavailable_page(text), status=503, content_type="text/html; charset=utf-8")
    response.headers.update(headers)
    return response


def init_draining(app: Quart) -> None:
    """Register the refusal first, before any other ``before_request``."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_when_draining)
