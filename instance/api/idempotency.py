"""The ``Idempotency-Key`` header on the JSON API's writes: the hooks of the API blueprint.

The design, and what happens when a process stops between the handler's commit and the
storing of its answer, are in ``instance.services.idempotency``. Without the header,
nothing here runs: every request is answered exactly as before.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from quart import Response, g, request

from domain.idempotency import valid_key
from instance.api.blueprint import blueprint
from instance.auth import api_person
from instance.draining import UNSAFE
from instance.errors import ApiError
from instance.node import current_node
from instance.services import idempotency

log = logging.getLogger(__name__)
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def _keep() -> timedelta:
    return timedelta(hours=current_node().settings.web.idempotency_hours)


def _path() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


@blueprint.before_request
async def reserve_key() -> Response | None:
    """Replay the answer to a key already used, or reserve it before the handler runs."""
    key = request.headers.get(HEADER)
    if key is None or request.method not in UNSAFE:
        return None
    if not valid_key(key):
        raise ApiError(
            400,
            f"{HEADER} must be 1 to 255 printable ASCII characters",
            code="invalid_idempotency_key",
        )
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    sent = idempotency.Sent.of(request.method, _path(), raw)
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)  # 401 without a token, as without the header
        assert person is not None
        outcome = await idempotency.reserve(session, person.id, key, sent, keep=_keep())
        if isinstance(outcome, idempotency.Answer):
            return _replay(outcome)
        # Known before the commit, so that a request cut during it is released.
        g.idempotency = idempotency.watch(outcome)
    g.idempotency.armed = True  # committed: from here on, the handler's commits count
    return None


def _replay(answer: idempotency.Answer) -> Response:
    response = Response(answer.body, status=answer.status, content_type=answer.content_type)
    if answer.location is not None:
        response.headers["Location"] = answer.location
    response.headers[REPLAYED] = "true"
    return response


@blueprint.after_request
async def record_answer(response: Response) -> Response:
    """Store the answer with its key; a 5xx that committed nothing frees the key instead.

    The watch stays in ``g`` until the answer is stored: a request cut while storing it
    is then released by :func:`release_unanswered` if its handler committed nothing.
    """
    watch: idempotency.Watch | None = g.get("idempotency")
    if watch is None:
        return response
    idempotency.unwatch()  # the commits from here on are this hook's own
    if response.status_code >= 500:
        await _release(watch)
    else:
        answer = idempotency.Answer(
            status=response.status_code,
            body=await response.get_data(as_text=True),
            content_type=response.content_type,
            location=response.headers.get("Location"),
        )
        async with current_node().transaction() as session:
            await idempotency.record(session, watch.record_id, answer)
    g.pop("idempotency", None)
    return response


@blueprint.teardown_request
async def release_unanswered(error: BaseException | None) -> None:
    """A request that never reached ``record_answer`` (cut: the client disconnected)."""
    watch: idempotency.Watch | None = g.pop("idempotency", None)
    if watch is not None:
        idempotency.unwatch()
        await _release(watch)


async def _release(watch: idempotency.Watch) -> None:
    """Free the key if nothing was committed since it was reserved; else it stays running."""
    if watch.committed:
        log.warning(
            "an idempotency key stays in progress: its request committed, then failed "
            "or was cut before its answer was stored"
        )
        return
    try:
        async with current_node().transaction() as session:
            await idempotency.release(session, watch.record_id)
    except Exception:  # the database is down: the key stays running (409), no duplicate
        log.warning("could not release an idempotency key", exc_info=True)
