"""The blueprint of the pages, with the hooks every page shares (layout, login redirect).

The pages are in the modules of ``instance.web``; the blueprint lives in a module of
its own so that they import it without importing the package, which imports them all
to register their routes.
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
    territory_names_for_pages,
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
        # A peer is named by its territory, not its host (a host stays a fallback).
        "territory_names": await territory_names_for_pages() if has_request_context() else {},
        "LOCALES": LOCALES,
    }
