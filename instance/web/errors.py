"""The back end's messages, in the reader's language.

The use cases of ``instance.api`` raise :class:`~instance.errors.ApiError`
with English messages meant for API clients. The pages that call them show
those messages translated: each one a page can meet is marked here with
``N_`` so that it is extracted into the catalogues (``babel.cfg``).
"""

from __future__ import annotations

from instance.i18n import gettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


KNOWN = (
    N_("only animators, moderators and administrators create communities"),
    N_("must be 2-64 lower-case letters, digits or _"),
    N_("is reserved"),
    N_("must be 2-200 characters"),
    N_("must be text of at most 5000 characters"),
    N_("this handle is already taken"),
    N_("some fields are invalid"),
    N_("unknown person"),
)


def api_message(message: str) -> str:
    """A back-end message, translated when the catalogue knows it, as a sentence."""
    text = gettext(message)
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
