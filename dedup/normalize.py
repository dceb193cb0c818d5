"""Canonical matching form of a paragraph: Unicode-normalised, case-folded, punctuation-free tokens.

Only matching uses this form: the written text keeps each kept line as it was (trimmed).
Quote, dash and punctuation variants disappear because only letters and digits make tokens;
scripts written without spaces (Han, Kana, Thai ...) are tokenised one character at a time so
that word-based shingles still work on them.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import regex

from .cache import MAX_KEY_CHARS
from .config import NormConfig
from .types import Document

_NOSPACE = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
TOKEN = regex.compile(rf"[{_NOSPACE}]|[[\p{{L}}\p{{N}}\p{{M}}]--[{_NOSPACE}]]+", regex.V1)
_MARKS = regex.compile(r"\p{Mn}+")


def _mark_class() -> str:
    """A ``re`` character class of the combining marks (categories Mn, Mc, Me) of the Basic
    Multilingual Plane (a BMP-only class compiles to a fast bitmap)."""
    ranges: list[list[int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                   for a, b in ranges)


# The fast path: the standard library's ``re`` with ``[^\W_]+`` (letters and digits) gives the
# same tokens as TOKEN, about 3x faster, for text with neither combining marks nor spaceless
# scripts; a cheap check (ASCII, then a BMP block/mark class, then any astral character) sends
# every other line to TOKEN itself.
_FAST = re.compile(r"[^\W_]+")
_SLOW_HINT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\u2e80-\u2fdf\u3005-\u3007"
    "\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua9e0-\ua9ff\uaa60-\uaa7f\uf900-\ufaff\uff66-\uff9f" + _mark_class() + "]")
_BMP_END = "\uffff"
LONG_LINE = 1 << 16  # characters: a longer line's tokens are found one at a time and shared

_tokens: Any
try:  # the compiled ASCII fast path, built by the package's own build
    _tokens = importlib.import_module("dedup._tokens")
except ImportError:  # pragma: no cover - a source tree without the build: the Python below
    _tokens = None


def tokens(text: str, cfg: NormConfig = NormConfig(), compiled: bool = True
           ) -> tuple[str, ...]:
    """Matching tokens of ``text``. ``compiled``: an ASCII line (not a long one) by the kernel
    (``dedup._tokens``) when it is built, which gives the same tokens as the Python below.

    >>> tokens("“Robust” security — guarantees’ 2026!")
    ('robust', 'security', 'guarantees', '2026')
    """
    if compiled and _tokens is not None and len(text) <= LONG_LINE:
        fast: tuple[str, ...] | None = _tokens.ascii_tokens(text, cfg.casefold)
        if fast is not None:
            return fast
    text = unicodedata.normalize("NFKC", text)
    if cfg.casefold:
        text = text.casefold()
    if cfg.strip_accents:
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    slow = not text.isascii() and (_SLOW_HINT.search(text) or max(text) > _BMP_END)
    pattern = TOKEN if slow else _FAST
    if len(text) > LONG_LINE:
        return _shared_tokens(pattern, text)
    return tuple(pattern.findall(text))


def _shared_tokens(pattern: re.Pattern[str] | regex.Pattern[str], text: str) -> tuple[str, ...]:
    """``tuple(pattern.findall(text))`` with one string object per distinct token: a long
    line's tokens then take a pointer each (8 bytes), not a string each (50 bytes and more),
    and are never all held twice. The same tokens, as equal strings."""
    seen: dict[str, str] = {}
    return tuple(seen.setdefault(t, t) for t in map(_group, pattern.finditer(text)))


def _group(match: re.Match[str] | regex.Match[str]) -> str:
    return match.group()


def _normalize_line(text: str, cfg: NormConfig) -> tuple[tuple[str, ...], str]:
    """Tokens and key of a line."""
    toks = tokens(text, cfg)
    return toks, " ".join(toks)


# Cached: template lines and copied paragraphs recur across a dump (and the repetition sample is
# normalised twice), unique lines cost one look-up. Only lines up to MAX_KEY_CHARS, as in the
# other caches: a long line rarely recurs, and the cache would hold its text and tokens.
_normalized = lru_cache(maxsize=1 << 15)(_normalize_line)


def normalize(docs: Iterable[Document], cfg: NormConfig = NormConfig()) -> Iterator[Document]:
    """Stage: fill ``key`` and ``tokens`` of every paragraph (once per document)."""
    for doc in docs:
        if not doc.normalized:
            for p in doc.paragraphs:
                p.tokens, p.key = (_normalized if len(p.text) <= MAX_KEY_CHARS
                                   else _normalize_line)(p.text, cfg)
            doc.normalized = True
        yield doc
