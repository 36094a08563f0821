"""French and English: message catalogues, locale choice, formatting.

Source strings in code and templates are English; ``translations/fr`` holds
the French catalogue (and ``translations/en`` an empty one, so English is a
real choice rather than a fallback). Catalogues are ``.po`` files compiled in
memory at startup with Babel, so no compiled ``.mo`` file is kept in the
repository. To update them: ``pybabel extract -F babel.cfg -o messages.pot .``
then ``pybabel update -i messages.pot -d instance/translations``.

The locale is, in order: ``?lang=`` (which also sets the ``lang`` cookie),
the ``lang`` cookie, the browser's ``Accept-Language``, the node's default
(``web.default_locale``, French unless set).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from quart import Quart, current_app, g, has_request_context, request

LOCALES = ("fr", "en")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of a locale (an empty one when absent)."""
    po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def select_locale() -> str:
    default = str(current_app.config.get("ENTRAIDE_DEFAULT_LOCALE", "fr"))
    if not has_request_context():
        return default
    if "locale" in g:
        return str(g.locale)
    asked = request.args.get("lang") or request.cookies.get("lang")
    locale = asked if asked in LOCALES else request.accept_languages.best_match(LOCALES)
    locale = locale or default
    g.locale = locale
    return locale


def gettext(message: str, **params: Any) -> str:
    text = translations(select_locale()).ugettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(select_locale()).ungettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


_ = gettext


def format_day(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return format_date(value, format=fmt, locale=Locale.parse(select_locale()))


def format_moment(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value, format=fmt, locale=Locale.parse(select_locale()), tzinfo=None)


def init_i18n(app: Quart, default_locale: str) -> None:
    app.config["ENTRAIDE_DEFAULT_LOCALE"] = default_locale
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    app.jinja_env.globals.update(
        get_locale=select_locale,
        format_day=format_day,
        format_moment=format_moment,
        LOCALES=LOCALES,
    )

    @app.after_request
    async def _remember_locale(response: Any) -> Any:
        asked = request.args.get("lang")
        if asked in LOCALES:
            response.set_cookie("lang", asked, max_age=365 * 24 * 3600, samesite="Lax")
        if "locale" in g:
            response.headers.add("Vary", "Accept-Language, Cookie")
        return response
