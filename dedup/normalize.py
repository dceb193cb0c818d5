"""Canonical matching form of a paragraph: Unicode-normalised, case-folded, punctuation-free tokens.

Only matching uses this form: the written text keeps each kept line as it was (trimmed).
Quote, dash and punctuation variants disappear because only letters and digits make tokens;
scripts written without spaces (Han, Kana, Thai ...) are tokenised one character at a time so
that word-based shingles still work on them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

import regex

from .config import NormConfig
from .types import Document

_NOSPACE = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
TOKEN = regex.compile(rf"[{_NOSPACE}]|[[\p{{L}}\p{{N}}\p{{M}}]--[{_NOSPACE}]]+", regex.V1)
_MARKS = regex.compile(r"\p{Mn}+")


def tokens(text: str, cfg: NormConfig = NormConfig()) -> tuple[str, ...]:
    """Matching tokens of ``text``.

    >>> tokens("“Robust” security — guarantees’ 2026!")
    ('robust', 'security', 'guarantees', '2026')
    """
    text = unicodedata.normalize("NFKC", text)
    if cfg.casefold:
        text = text.casefold()
    if cfg.strip_accents:
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return tuple(TOKEN.findall(text))


def normalize(docs: Iterable[Document], cfg: NormConfig = NormConfig()) -> Iterator[Document]:
    """Stage: fill ``key`` and ``tokens`` of every paragraph."""
    for doc in docs:
        for p in doc.paragraphs:
            p.tokens = tokens(p.text, cfg)
            p.key = " ".join(p.tokens)
        yield doc
