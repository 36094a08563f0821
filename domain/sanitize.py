"""Making remote HTML safe, with nh3 (the Ammonia sanitiser).

:func:`clean_html` keeps an allow-list of text-level tags (paragraphs, line
breaks, emphasis, lists, quotes, code, links), only ``href`` on links and only
``http``/``https``/``mailto`` URLs, and adds ``rel="nofollow noopener
noreferrer"`` to every link. Images, scripts, styles, SVG, forms, event
handlers and ``javascript:`` URLs never survive: nothing remote is loaded by
a page, nothing remote runs. :func:`html_to_text` turns remote HTML into
plain text (paragraph breaks kept), for fields that are shown as text.
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "a",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "class"}, "span": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}
_LINE_BREAK = re.compile(r"(?i)<\s*br\s*/?\s*>|<\s*/\s*li\s*>")
_PARAGRAPH_END = re.compile(r"(?i)<\s*/\s*(p|blockquote|pre|h[1-6])\s*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_NEWLINES = re.compile(r"\n{3,}")
# What XML 1.0 cannot carry (feeds break on it) and PostgreSQL refuses (NUL): control
# characters but tab and newlines, lone surrogates, U+FFFE and U+FFFF.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def plain_text(value: str) -> str:
    """``value`` without the characters no text should hold (see ``_NOT_TEXT``)."""
    return _NOT_TEXT.sub("", value)


def _classes(tag: str, attribute: str, value: str) -> str | None:
    if attribute != "class":
        return value
    # Keep only the microformat classes Mastodon uses to mark mentions and hashtags.
    kept = [
        c
        for c in value.split()
        if c in {"mention", "hashtag", "u-url", "h-card", "invisible", "ellipsis"}
    ]
    return " ".join(kept) or None


def clean_html(value: str, *, max_length: int = 100_000) -> str:
    """Sanitised HTML, safe to put in a page unescaped."""
    return nh3.clean(
        value[:max_length],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        attribute_filter=_classes,
        strip_comments=True,
    )


def html_to_text(value: str, *, max_length: int = 10_000) -> str:
    """Plain text of remote HTML: tags dropped, entities decoded, paragraphs kept."""
    marked = _PARAGRAPH_END.sub("\n\n", _LINE_BREAK.sub("\n", value[: max_length * 4]))
    stripped = nh3.clean(marked, tags=set(), attributes={}, strip_comments=True)
    text = plain_text(html.unescape(stripped))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _NEWLINES.sub("\n\n", "\n".join(lines)).strip()[:max_length]
