"""The app factory.

:func:`create_app` wires a Quart app from settings: the node container
(``instance.node``), authentication, CSRF, i18n, the OpenAPI document, the
blueprints (pages, JSON API, federation endpoints) and the background loops.
Resources that need a running event loop — the shared HTTP client, the
workers — are made in ``before_serving`` and closed in ``after_serving``, so
``app.test_app()`` in tests and Hypercorn in production run the same code.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
from quart import Quart, Response, abort, jsonify, request, send_from_directory
from quart.wrappers import Request as QuartRequest
from quart_auth import QuartAuth
from quart_schema import Info, QuartSchema

from config.settings import Settings
from domain.logos import UPLOAD_BODY_MAX
from instance.csrf import exempt_from_forms, init_csrf
from instance.draining import init_draining
from instance.errors import register_error_handlers
from instance.i18n import init_i18n
from instance.ids import init_ids
from instance.node import VERSION, Node
from instance.observability import init_observability
from instance.openapi import ApiOnly
from instance.ratelimits import init_rate_limits
from instance.security_headers import init_security_headers

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    *,
    http_transport: httpx.AsyncBaseTransport | None = None,
    run_workers: bool | None = None,
) -> Quart:
    """Build the app of one node.

    ``http_transport`` replaces the network for outgoing requests (tests wire
    several nodes together in one process with it); ``run_workers`` overrides
    ``workers.run_in_serve``.
    """
    app = Quart(
        "instance",
        instance_path=str(settings.data_dir.resolve()),
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
    )
    app.request_class = Request  # a larger body for a logo upload only
    app.secret_key = settings.web.secret_key or None
    app.config.update(
        QUART_AUTH_COOKIE_SECURE=settings.cookie_secure,
        QUART_AUTH_COOKIE_NAME=cookie_name("entraide_auth", settings.instance.domain),
        QUART_AUTH_DURATION=30 * 24 * 3600,
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME=cookie_name("entraide_session", settings.instance.domain),
        MAX_CONTENT_LENGTH=max(settings.web.max_body_bytes, settings.federation.max_body_bytes),
        # A client trickling its body (a byte a second) holds a request open until this
        # deadline, then gets 408. Quart's default is 60 s; we give an incoming body the
        # time we give a whole outgoing exchange (30 s by default). SECURITY.md.
        BODY_TIMEOUT=settings.federation.total_timeout,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    init_ids(app)  # before any route is added: every <int:…> is a bounded id
    node = Node.from_settings(settings, http_transport=http_transport)
    app.extensions["entraide"] = node

    QuartAuth(app)
    QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        swagger_ui_path=None,  # served by instance.security_headers (no inline script)
        redoc_ui_path=None,
        scalar_ui_path=None,
        info=Info(title="Entraide API", version=VERSION),
        security_schemes={"token": {"type": "http", "scheme": "bearer"}},
        openapi_provider_class=ApiOnly,  # the /api/v1 routes only, grouped by tag
    )
    init_draining(app)  # first: a stopping node runs nothing of a new write
    init_observability(app, node)
    init_i18n(app, settings.web.default_locale)
    init_rate_limits(app, settings)  # before CSRF: a refused request costs no form parsing
    app.before_request(refuse_nul_characters)
    init_csrf(app)
    register_error_handlers(app)
    init_security_headers(app, settings.map.tile_url)
    _register_blueprints(app)
    _register_icons(app, settings)

    workers_on = settings.workers.run_in_serve if run_workers is None else run_workers
    if workers_on:
        _register_loops(node)

    @app.before_serving
    async def _startup() -> None:
        node.open_http()
        if workers_on:
            await node.background.start()

    @app.after_serving
    async def _shutdown() -> None:
        await node.background.stop()
        await node.close_http()
        await node.db.dispose()

    return app


def cookie_name(base: str, domain: str) -> str:
    """``entraide_auth`` for a node at ``territoire.example``, ``entraide_auth_8001`` for one
    at ``127.0.0.1:8001``.

    Browsers keep cookies per host, not per port: two nodes on one machine (the local demo,
    ``demo --peered``, tests) would overwrite each other's session and log each other out.
    The port, when the node's domain has one, makes the names distinct; the name depends
    on the setting only, so logins survive a restart, and a node without a port keeps the
    plain name (nobody is logged out by an upgrade).
    """
    port = re.search(r":(\d+)$", domain)
    return f"{base}_{port.group(1)}" if port else base


class Request(QuartRequest):
    """Quart's request, with a larger body for the one form that carries a file: a
    structure's profile with its logo (``instance.web.profiles``). The limit is fixed
    when the request is made, before any byte is read; a logo over its own limit
    (``domain.logos.MAX_BYTES``) is thus read whole and refused with its reason (422)
    rather than cut off with a bare 413."""

    def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
        upload = method == "POST" and path.startswith("/@") and path.endswith("/profile")
        if upload:
            kwargs["max_content_length"] = max(
                kwargs.get("max_content_length") or 0, UPLOAD_BODY_MAX
            )
        super().__init__(method, scheme, path, *args, **kwargs)
        if upload:  # the body above, the form parser here
            self.max_content_length = kwargs["max_content_length"]


async def refuse_nul_characters() -> None:
    """400 for a NUL character in a request's path, query string or form fields.

    PostgreSQL can neither store nor compare text holding NUL, so such a value
    would fail deep in a query (a 500); no browser sends one from what a person
    typed. JSON bodies drop them instead (``instance.api.json_body``), as stored
    text always has.
    """
    if "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.args.lists()
    ):
        abort(400, "a NUL character is not accepted in an address")
    if request.method in ("GET", "HEAD", "OPTIONS") or exempt_from_forms(request.path):
        return
    form = await request.form
    if any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in form.lists()
    ):
        abort(400, "a NUL character is not accepted in a form")


def _register_blueprints(app: Quart) -> None:
    from instance.ap import blueprint as ap_blueprint
    from instance.api import blueprint as api_blueprint
    from instance.feeds import blueprint as feeds_blueprint
    from instance.opendata import blueprint as opendata_blueprint
    from instance.web import blueprint as web_blueprint

    app.register_blueprint(ap_blueprint)
    app.register_blueprint(feeds_blueprint)
    app.register_blueprint(opendata_blueprint)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(web_blueprint)


def _register_icons(app: Quart, settings: Settings) -> None:
    """``/favicon.ico`` (for clients that ask it without reading the page's ``<link>``)
    and ``/manifest.webmanifest`` (the territory's name, the icons, the colours)."""

    async def favicon() -> Response:
        response = await send_from_directory(HERE / "static", "favicon-32.png")
        response.cache_control.max_age = 86400
        return response

    async def manifest() -> Response:
        icons = [
            {"src": "/static/favicon.svg", "type": "image/svg+xml", "sizes": "any"},
            {"src": "/static/icon-192.png", "type": "image/png", "sizes": "192x192"},
            {"src": "/static/icon-512.png", "type": "image/png", "sizes": "512x512"},
        ]
        body = {
            "name": settings.instance.name,
            "short_name": settings.instance.name[:24],
            "description": settings.instance.description,
            "lang": settings.web.default_locale,
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": "#f6f4ef",
            "theme_color": "#1d6b5f",
            "icons": icons,
        }
        response = jsonify(body)
        response.mimetype = "application/manifest+json"
        return response

    app.add_url_rule("/favicon.ico", "favicon", favicon, methods=["GET"])
    app.add_url_rule("/manifest.webmanifest", "manifest", manifest, methods=["GET"])


def _register_loops(node: Node) -> None:
    """The background loops a serving node runs (federation adds its own here)."""
    from instance.workers import register_loops

    register_loops(node)
