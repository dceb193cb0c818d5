"""Canonical matching form of a paragraph: Unicode-normalised, case-folded, punctuation-free tokens.

Only matching uses this form: the written text keeps each kept line as it was (trimmed).
Quote, dash and punctuation variants disappear because only letters and digits make tokens;
scripts written without spaces (Han, Kana, Thai ...) are tokenised one character at a time so
that word-based shingles still work on them.
"""

from __future__ import annotations

import array
import importlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any

import regex

from .cache import MAX_KEY_CHARS, caching
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
try:  # the compiled fast path, built by the package's own build
    _tokens = importlib.import_module("dedup._tokens")
except ImportError:  # pragma: no cover - a source tree without the build: the Python below
    _tokens = None

# Hangul jamo compose by an algorithm, not by the decomposition data
_JAMO = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))
#: The blocks the kernel's table covers (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic,
#: punctuation and symbols, full-width forms): a line with any other non-ASCII character takes
#: the Python path. Fewer code points keep the table quick to build (once per process).
KERNEL_BLOCKS = ((0x0000, 0x06FF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0xFF00, 0xFFEF))


@cache
def _second_elements() -> frozenset[int]:
    """The code points of the Basic Multilingual Plane that NFKC may compose with the character
    before them: the second of every two-character canonical decomposition, and the jamo."""
    out = {cp for lo, hi in _JAMO for cp in range(lo, hi + 1)}
    for cp in range(0x10000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                out.add(int(parts[1], 16))
    return frozenset(out)


def _safe(ch: str, second: frozenset[int]) -> bool:
    """A character NFKC never composes with the one before, of the Basic Multilingual Plane,
    neither a mark nor a spaceless script's character (which send a line to ``TOKEN``)."""
    return (ord(ch) <= 0xFFFF and ord(ch) not in second and unicodedata.combining(ch) == 0
            and unicodedata.category(ch)[0] != "M" and unicodedata.category(ch) != "Cs"
            and _SLOW_HINT.match(ch) is None)


def _table_entry(c: str, cfg: NormConfig, second: frozenset[int]) -> int:
    """What ``c`` is in the tokens of any line made of accepted characters: 1 a separator, else
    the code point it is in a token; 0 when ``c`` is not accepted (see :func:`kernel_table`)."""
    if not _safe(c, second):
        return 0
    if not _starts_with_starter(unicodedata.normalize("NFKD", c), second):
        return 0
    n = unicodedata.normalize("NFKC", c)
    f = n.casefold() if cfg.casefold else n
    out = f
    if cfg.strip_accents:
        d = unicodedata.normalize("NFKD", f)
        if not _starts_with_starter(d, second):
            return 0
        out = _MARKS.sub("", d)
    if not all(_safe(x, second) for x in n + f + out):
        return 0
    if out and not any(x.isalnum() for x in out):
        return 1
    if len(out) == 1 and out.isalnum():
        return ord(out)
    return 0


def _starts_with_starter(d: str, second: frozenset[int]) -> bool:
    return bool(d) and unicodedata.combining(d[0]) == 0 and ord(d[0]) not in second


@lru_cache(maxsize=4)
def kernel_table(cfg: NormConfig) -> bytes:
    """The kernel's table of every code point of the Basic Multilingual Plane for ``cfg``
    (65536 native uint16; see ``dedup/_tokens.c``): 0, a line holding the character takes the
    Python path (every code point outside :data:`KERNEL_BLOCKS`); 1, the character separates
    tokens; else the code point it is in a token.

    Why it is exact: an accepted character's NFKD starts with a starter that NFKC composes with
    nothing before it, and neither it nor what NFKC, casefolding and accent stripping make of it
    holds a mark, a spaceless-script character or anything NFKC composes with the character
    before; so a line of accepted characters is normalised character by character, takes the
    ``_FAST`` path, and each character becomes either separators only (no letter or digit) or
    exactly one letter or digit: the runs of the mapped letters and digits are its tokens.
    """
    second = _second_elements()
    table = array.array("H", bytes(2 * 0x10000))
    for lo, hi in KERNEL_BLOCKS:
        table[lo:hi + 1] = array.array("H", (_table_entry(chr(cp), cfg, second)
                                             for cp in range(lo, hi + 1)))
    return table.tobytes()


def tokens(text: str, cfg: NormConfig = NormConfig(), compiled: bool = True
           ) -> tuple[str, ...]:
    """Matching tokens of ``text``. ``compiled``: a line (not a long one) by the kernel
    (``dedup._tokens``) when it is built, which gives the same tokens as the Python below, or
    leaves the line to it (see :func:`kernel_table`).

    >>> tokens("“Robust” security — guarantees’ 2026!")
    ('robust', 'security', 'guarantees', '2026')
    """
    if compiled and _tokens is not None and len(text) <= LONG_LINE:
        fast: tuple[str, ...] | None = _tokens.bmp_tokens(text, cfg.casefold, kernel_table(cfg))
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


def _normalize_line(text: str, cfg: NormConfig, compiled: bool = True
                    ) -> tuple[tuple[str, ...], str]:
    """Tokens and key of a line."""
    toks = tokens(text, cfg, compiled)
    return toks, " ".join(toks)


# Cached: template lines and copied paragraphs recur across a dump (and the repetition sample is
# normalised twice), unique lines cost one look-up. Only lines up to MAX_KEY_CHARS, as in the
# other caches: a long line rarely recurs, and the cache would hold its text and tokens. The
# kernel's lines skip it: the kernel is faster than the look-up.
_normalized = lru_cache(maxsize=1 << 15)(_normalize_line)
MEMO_CAPACITY = 1 << 15  # lines in the kernel's memo (of up to MAX_KEY_CHARS characters)


def line_keys(texts: list[str], cfg: NormConfig = NormConfig(), compiled: bool = True
              ) -> tuple[list[str], list[int]]:
    """The key and the token count of every text, as :func:`normalize` gives a paragraph of
    that text (``key``, ``len(tokens)``), without keeping the tokens: for a caller that needs
    only the keys (the line counts). ``compiled``: the kernel (``dedup._tokens.keys``) builds
    each key it takes straight from the text, and leaves the others to the Python path.

    >>> line_keys(["Read “more” — now!", ""])
    (['read more now', ''], [3, 0])
    """
    if compiled and _tokens is not None:
        keys, counts = _tokens.keys(texts, cfg.casefold, LONG_LINE, kernel_table(cfg))
    else:
        keys, counts = [None] * len(texts), [0] * len(texts)
    for i, key in enumerate(keys):
        if key is None:
            text = texts[i]
            toks, keys[i] = (_normalized if len(text) <= MAX_KEY_CHARS
                             else _normalize_line)(text, cfg, compiled)
            counts[i] = len(toks)
    return keys, counts


@lru_cache(maxsize=4)
def _kernel_memo(cfg: NormConfig) -> dict[str, tuple[tuple[str, ...], str]]:
    """The kernel's memo of lines seen before under ``cfg``: text -> (tokens, key), values that
    are pure functions of the key (so it changes speed, never output); it starts afresh when
    full, and :func:`~dedup.cache.caches_off` bypasses it."""
    return {}


def normalize(docs: Iterable[Document], cfg: NormConfig = NormConfig(), compiled: bool = True
              ) -> Iterator[Document]:
    """Stage: fill ``key`` and ``tokens`` of every paragraph (once per document).

    ``compiled``: the kernel (``dedup._tokens.fill``) fills a document's paragraphs in one call
    when it is built, and leaves the lines it does not take (see :func:`kernel_table`) to the
    Python path, which gives every line the same tokens and key. A line that recurs (a site's
    template, a copied paragraph) is looked up in a memo, not tokenised again."""
    table = kernel_table(cfg) if compiled and _tokens is not None else None
    memo = _kernel_memo(cfg) if caching() else None
    for doc in docs:
        if not doc.normalized:
            paras = doc.paragraphs
            rest: Iterable[int] = (range(len(paras)) if table is None
                                   else _tokens.fill(paras, cfg.casefold, LONG_LINE, table,
                                                     memo, MAX_KEY_CHARS, MEMO_CAPACITY))
            for i in rest:
                p = paras[i]
                p.tokens, p.key = (_normalized if len(p.text) <= MAX_KEY_CHARS
                                   else _normalize_line)(p.text, cfg, compiled)
            doc.normalized = True
        yield doc
