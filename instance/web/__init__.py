"""Server-rendered pages (Jinja2), French by default and English.

One module per area: ``home`` (home page), ``accounts`` (sign up, log in,
account, API tokens), ``structures`` (profiles), ``followers`` (a
structure's follow requests and followers), ``listings`` (view, create,
edit, withdraw), ``search`` (filters and map), ``messages`` (direct
messages), ``notifications``, ``communities``, ``timeline`` (and following),
``admin`` (hub, approval queue), ``reports`` (reports, audit log),
``reporting`` (the « Report » form of the pages),
``federation`` (peerings, domain health and policy).
``forms`` turns posted fields into the API's shape and back; ``common``
knows who is looking; ``labels`` names codes in the reader's language;
``queries`` holds the reads the pages need; ``remote`` resolves a typed
address; ``errors`` translates the back end's messages.

Views open their own session and load the viewer in it
(:func:`instance.web.common.load_viewer`); templates never touch the
database.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, has_request_context, request
from quart.blueprints import BlueprintSetupState

from instance.i18n import LOCALES
from instance.node import current_node
from instance.web import labels
from instance.web.common import (
    LoginRequired,
    login_url_for_here,
    redirect_to,
    viewer_for_layout,
)

blueprint = Blueprint("web", __name__)


@blueprint.record_once
def _install_helpers(state: BlueprintSetupState) -> None:
    state.app.jinja_env.globals.update(labels.TEMPLATE_HELPERS)


@blueprint.errorhandler(LoginRequired)
async def _login_required(_error: LoginRequired) -> Response:
    return redirect_to(login_url_for_here())


def lang_url(locale: str) -> str:
    """This page in another language (``?lang=`` also sets the cookie)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", locale))
    return f"{request.path}?{urlencode(args)}"


@blueprint.app_context_processor
async def _layout_context() -> dict[str, Any]:
    settings = current_node().settings
    return {
        "node_name": settings.instance.name,
        "node_description": settings.instance.description,
        "map_settings": settings.map,
        # Templates rendered outside a request (e-mails, say) have no viewer.
        "viewer": await viewer_for_layout() if has_request_context() else None,
        "lang_url": lang_url,
        "LOCALES": LOCALES,
    }


from instance.web import (  # noqa: E402
    accounts,
    admin,
    communities,
    directory,
    exchanges,
    federation,
    followers,
    home,
    listings,
    messages,
    notifications,
    reporting,
    reports,
    search,
    structures,
    territory,
    timeline,
)

__all__ = [
    "accounts",
    "admin",
    "blueprint",
    "communities",
    "directory",
    "exchanges",
    "federation",
    "followers",
    "home",
    "listings",
    "messages",
    "notifications",
    "reporting",
    "reports",
    "search",
    "structures",
    "territory",
    "timeline",
]
