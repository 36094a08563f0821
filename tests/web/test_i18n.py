"""French by default, English on request; no string left untranslated."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.support import TestNode
from tests.web.browser import Browser

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "instance" / "translations"


async def test_french_by_default(node: TestNode) -> None:
    page = await Browser(node).get("/")
    assert '<html lang="fr">' in page
    assert "Offres et besoins" in page
    assert "Propulsé par Entraide" in page


async def test_lang_parameter_switches_and_is_remembered(node: TestNode) -> None:
    browser = Browser(node)
    page = await browser.get("/search?lang=en")
    assert '<html lang="en">' in page
    assert "Powered by Entraide" in page
    assert "All categories" in page
    assert "Equipment and tools" in page  # category labels follow the language
    assert "lang=en" in page.headers.get("Set-Cookie", "")

    again = await browser.get("/")
    assert '<html lang="en">' in again
    assert "Latest offers and needs" in again

    back = await browser.get("/?lang=fr")
    assert '<html lang="fr">' in back
    assert '<html lang="fr">' in await browser.get("/login")


async def test_accept_language(node: TestNode) -> None:
    english = Browser(node, headers={"Accept-Language": "en-GB,en;q=0.9"})
    page = await english.get("/login")
    assert '<html lang="en">' in page
    assert "E-mail address" in page
    assert "Accept-Language" in page.headers.get("Vary", "")
    french = Browser(node, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in await french.get("/login")
    other = Browser(node, headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in await other.get("/login")


async def test_language_switch_keeps_the_query(node: TestNode) -> None:
    page = await Browser(node).get("/search?q=bois&kind=offer")
    assert 'href="/search?q=bois&amp;kind=offer&amp;lang=en"' in page


async def test_english_validation_messages_read_as_sentences(node: TestNode) -> None:
    browser = Browser(node, headers={"Accept-Language": "en"})
    page = await browser.post("/signup", {"email": "x"}, csrf_from="/signup")
    assert page.status == 422
    assert "Has an invalid format." in page
    assert "Must be at least 10 characters." in page


def _extracted() -> set[str | tuple[str, ...]]:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    return {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map
        )
    }


def test_every_string_has_a_french_translation() -> None:
    extracted = _extracted()
    assert "is required" in extracted  # domain validation messages are included
    assert "Offers and needs" in extracted  # and the templates'
    with (CATALOGUES / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        french = read_po(fh, locale="fr")
    untranslated = []
    for message_id in extracted:
        key = message_id[0] if isinstance(message_id, tuple) else message_id
        message = french.get(key)
        strings = message.string if message else ""
        forms = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(forms):
            untranslated.append(key)
    assert not untranslated, f"add French for: {sorted(untranslated)}"
    # Placeholders (%(name)s…) agree between the English and the French.
    problems = [(m.id, errors) for m, errors in french.check()]
    assert not problems


def test_catalogues_match_the_sources() -> None:
    extracted = {m[0] if isinstance(m, tuple) else m for m in _extracted()}
    for locale in ("fr", "en"):
        with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            catalogue = read_po(fh, locale=locale)
        ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id}
        assert ids == extracted, (
            f"{locale}: run pybabel extract + update (babel.cfg); "
            f"missing {sorted(extracted - ids)}, obsolete {sorted(ids - extracted)}"
        )


async def test_talk_and_admin_pages_in_both_languages(node: TestNode) -> None:
    await node.person("admin@example.org", role="admin")
    await node.structure("menuiserie", owner="admin@example.org")
    browser = Browser(node)
    await browser.login("admin@example.org")
    pages = {
        "/messages": ("Messages", "Nouveau message", "New message"),
        "/messages/new": ("Messages", "Votre message", "Your message"),
        "/notifications": ("Notifications", "Rien de nouveau", "Nothing new"),
        "/communities": ("Communautés", "Communautés de ce territoire", "Communities of this"),
        "/communities/gouvernance": ("Communautés", "Publications", "Posts"),
        "/communities/new": ("Communautés", "Nom court", "Short name"),
        "/timeline": ("Fil", "Suivre par adresse", "Follow by address"),
        "/admin": ("Administration", "Vue d’ensemble", "Overview"),
        "/admin/peers": ("Administration", "Demander un appairage", "Ask a territory to peer"),
        "/admin/federation": ("Administration", "Aucun serveur distant", "No remote server yet"),
        "/admin/reports": ("Administration", "Aucun signalement ouvert.", "No open report."),
        "/admin/audit": ("Administration", "Journal de modération", "Audit log"),
    }
    for path, (_nav, french, english) in pages.items():
        page = await browser.get(path + "?lang=fr")
        assert page.status == 200, path
        assert french in page, (path, french)
        assert 'aria-current="page"' in page, path
        page = await browser.get(path + "?lang=en")
        assert english in page, (path, english)
        assert french not in page or french == english, (path, french)


def test_catalogues_parse_without_a_warning() -> None:
    """A merge that drops a ``msgstr`` line leaves a catalogue Babel still reads, printing
    a warning at every start (a log line that is not JSON): refuse it here."""
    for locale in ("fr", "en"):
        with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            read_po(fh, locale=locale, abort_invalid=True)  # raises PoFileError
