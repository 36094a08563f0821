"""Text for full-text search: accent folding and French + English stemming.

Listings are written in French, English, or both, so a word is indexed under
its French and its English Snowball stem (« tracteurs » → ``tracteur``,
« matériaux » → ``materiau``). Accents are folded first, so « materiaux »
finds « matériaux ». The same functions prepare the query, so both sides
always agree.

Two forms are kept on each listing (see ``domain.models.Listing``):

* ``fold_*`` — lower-case, accent-free text; PostgreSQL indexes it with its
  own ``french`` and ``english`` text-search configurations (``tsvector``);
* ``stem_*`` — the space-separated stems computed here; SQLite indexes them
  with FTS5 (``unicode61 remove_diacritics 2``), which has no stemmer.

A query is bounded whatever a visitor types: its first ``MAX_QUERY_WORDS``
distinct words count, and each matches as a prefix only when it is at least
``MIN_PREFIX`` letters long (« trac » finds « tracteur »). A shorter one
matches whole words: « pa* » would read the entries of most of the index,
for a prefix that narrows nothing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[0-9a-z]+")
STOPWORDS = frozenset(
    """
    a au aux avec ce ces dans de des du elle en et eux il je la le les leur lui ma mais me meme
    mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi
    ton tu un une vos votre vous c d j l m n s t y est sont ete etre avoir
    an and are as at be but by for from has have in into is it its of on or that the their this
    to was were will with
    """.split()  # noqa: SIM905 - a word list reads better as text
)

MAX_QUERY_WORDS = 8
MIN_PREFIX = 3

_FRENCH = snowballstemmer.stemmer("french")
_ENGLISH = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """Lower-case text without accents or ligatures (« Œuvre Été » → ``oeuvre ete``)."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The searchable words of a text: folded, without stop words."""
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]


@lru_cache(maxsize=50_000)
def stems_of(word: str) -> tuple[str, ...]:
    """The distinct French and English stems of one folded word."""
    french = _FRENCH.stemWord(word)
    english = _ENGLISH.stemWord(word)
    return (french,) if french == english else (french, english)


def stem_text(text: str) -> str:
    """Space-separated stems of a text, for the SQLite FTS5 index."""
    out: list[str] = []
    for word in words(text):
        out.extend(stems_of(word))
    return " ".join(out)


def query_words(text: str) -> list[str]:
    """The distinct folded words of a query, the first ``MAX_QUERY_WORDS`` of them."""
    seen: list[str] = []
    for word in words(text):
        if word not in seen:
            seen.append(word)
            if len(seen) == MAX_QUERY_WORDS:
                break
    return seen


def is_prefix(term: str) -> bool:
    """Whether a query term (a word, a stem, a lexeme) is long enough to match as a prefix."""
    return len(term) >= MIN_PREFIX


def fts5_query(text: str) -> str | None:
    """An FTS5 MATCH expression: every word must match, by any of its stems.

    A stem matches as a prefix when :func:`is_prefix` allows it, as a whole
    word otherwise (the index holds the same stems, so the word is still found).
    """
    clauses: list[str] = []
    for word in query_words(text):
        terms = (f'"{stem}"*' if is_prefix(stem) else f'"{stem}"' for stem in stems_of(word))
        clause = f"({' OR '.join(terms)})"
        if clause not in clauses:  # two words of the same stems
            clauses.append(clause)
    return " AND ".join(clauses) or None
