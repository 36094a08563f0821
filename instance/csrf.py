"""CSRF protection for every form of the web UI.

Each browser session gets a random nonce in Quart's signed session cookie; the
form token is that nonce signed with the app's secret and a timestamp
(itsdangerous, which Quart already uses for its cookies). Every unsafe
request to a page (anything but GET/HEAD/OPTIONS outside the JSON API and the
federation endpoints) must carry a valid token in the ``csrf_token`` field or
the ``X-CSRF-Token`` header, or it is refused with 400. Tokens live 12 hours,
and the nonce is replaced at login and logout (:func:`rotate_csrf`).
The JSON API does not need it: it authenticates with bearer tokens, which a
browser never sends on its own.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadData, URLSafeTimedSerializer
from quart import Quart, abort, current_app, request, session

MAX_AGE = 12 * 3600
EXEMPT_PREFIXES = ("/api/", "/inbox", "/.well-known/")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="entraide-csrf")


def csrf_token() -> str:
    """The token to put in a form (made on first use in a session)."""
    nonce = session.get("csrf")
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        session["csrf"] = nonce
    return _serializer().dumps(nonce)


def rotate_csrf() -> None:
    """A new nonce for this browser (at login and logout): tokens issued before are void.

    Otherwise a token seen by someone before the person logged in — on a shared
    computer, or planted with the anonymous session — would still forge requests
    in the logged-in session.
    """
    session["csrf"] = secrets.token_urlsafe(24)


def exempt_from_forms(path: str) -> bool:
    """The JSON API and the ActivityPub inboxes authenticate otherwise (and take no forms)."""
    return path.startswith(EXEMPT_PREFIXES) or path.endswith("/inbox")


async def check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or exempt_from_forms(request.path):
        return
    form = await request.form
    token = form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    nonce = session.get("csrf")
    if not token or not nonce:
        abort(400, "missing CSRF token: reload the page and try again")
    try:
        signed = _serializer().loads(token, max_age=MAX_AGE)
    except BadData:
        abort(400, "invalid or expired CSRF token: reload the page and try again")
    if not hmac.compare_digest(str(signed), str(nonce)):
        abort(400, "invalid CSRF token: reload the page and try again")


def init_csrf(app: Quart) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
