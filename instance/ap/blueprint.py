"""The blueprint of the federation endpoints, and the response every AP document uses.

The endpoints are in the modules of ``instance.ap``; the blueprint lives in a module of
its own so that they import it without importing the package, which imports them all
to register their routes.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response

blueprint = Blueprint("ap", __name__)

AP_CONTENT_TYPE = "application/activity+json; charset=utf-8"


def ap_response(document: Any, status: int = 200, **headers: str) -> Response:
    body = json.dumps(document, ensure_ascii=False)
    response = Response(body, status=status, content_type=AP_CONTENT_TYPE)
    response.headers["Vary"] = "Accept"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response
