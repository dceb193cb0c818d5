"""Line features for the learned boilerplate classifier, computed per document with numpy.

Three kinds of evidence, all cheap:

- **words**: hashed unigrams, bigrams and 5-byte prefixes of the matching tokens (a sparse bag of
  words in ``2**BUCKET_BITS`` buckets), so "Subscribe", "subscription" and "abonnieren" can each
  carry weight without a vocabulary;
- **shape** (dense): length, word-count bins, capitals, digits, punctuation, title case, terminal
  punctuation, separators such as ``|`` and ``»``, URLs, e-mails, handles, ``©``, the share of
  stopwords (per-language stoplists from the ``stop-words`` package), the cookie-rule score;
- **place**: whether the line sits inside the main run of long sentence-like lines, and how far
  the nearest such line is (no absolute position: pages differ too much in where they end).

Character-level counts come from one pass over the document's code points (a lookup table of
flags per BMP character, counted per line by a small C kernel, or summed per line with prefix
sums in numpy); no per-character Python work.
Context (neighbours' predictions) and corpus repetition are added by :mod:`.model`.
"""

from __future__ import annotations

import importlib
import itertools
import math
import operator
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import unique_ints
from ..normalize import tokens
from ..shingle import fmix64, key_token_columns, token_hashes
from .classifier import _COOKIE_ANCHORS, _TOPIC_ANCHORS, cookie_evidence
from .rules import REPORTING

_lines: Any
try:  # the compiled kernel, built by the package's own build
    _lines = importlib.import_module("dedup._lines")
except ImportError:  # pragma: no cover - a source tree used without building
    _lines = None

BUCKET_BITS = 18
BUCKETS = 1 << BUCKET_BITS
_MASK = np.uint64(BUCKETS - 1)
_BIGRAM = np.uint64(0x9E3779B97F4A7C15)
_PREFIX_SALT = np.uint64(0xA24BAED4963EE407)
PREFIX_CHARS = 5  # a long token's prefix in the bag of words (subscribe, subscription: "subsc")

# Flags per character (bit masks).
LETTER, UPPER, DIGIT, SPACE, PUNCT, SEPARATOR, QUOTE, TERMINAL = (1 << i for i in range(8))
SEPARATORS = "|»›>·•/\\–—"
QUOTES = "\"'“”„«»‘’‚‹›「」"
TERMINALS = ".!?…。！？"
BULLETS = "-•*·–—►▪"
_BULLET_CODES = np.array([ord(c) for c in BULLETS], dtype=np.uint32)

DENSE = (
    "log_chars", "log_words", "words_1", "words_2", "words_3", "words_4_5", "words_6_8",
    "words_9_15", "words_16_30", "words_31_up", "upper_share", "digit_share", "punct_share",
    "title_share", "ends_terminal", "ends_colon", "starts_bullet", "log_separators",
    "separators_per_word", "has_url", "has_email", "has_handle", "has_copyright",
    "stopword_share", "mean_token_len", "cookie_rule", "cookie_rule_unquoted", "reporting",
    "in_main_run",
    "log_to_long_line", "long_density", "long_before", "long_after", "starts_quote",
    "all_digits", "body_overlap",
)
_COL = {name: i for i, name in enumerate(DENSE)}
_HITS = [_COL[name] for name in ("has_url", "has_email", "has_handle", "has_copyright")]

_URL = re.compile(r"https?://|www\.|(?<=\w)\.(?:com|org|net|de|fr|es|it|pl|nl|pt|co\.uk|eu|"
                  r"info|io)\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_HANDLE = re.compile(r"(?<![\w@])[@#][\w]{2,}")
# Quoted spans: a button label in quotes is usually mentioned, not offered.
_QUOTED = re.compile(r"«[^»]*»|“[^”]*”|„[^“”]*[“”]|\"[^\"]*\"|‘[^’]*’|'[^']{2,40}'")
_COPYRIGHT = re.compile(r"©|\(c\)|copyright|\ball rights reserved\b")  # on lowercased text
# Cheap first passes: every line a pattern above matches holds a match of its anchor (no
# look-behind or leading ``\b``, so the engine skips ahead by its first characters); the
# pattern itself then runs on those lines only.
_ANCHORS = {
    _URL: re.compile(r"https?://|www\.|\.(?:com|org|net|de|fr|es|it|pl|nl|pt|co\.uk|eu|info|io)"),
    _EMAIL: re.compile(r"@[\w-]+\."),
    _HANDLE: re.compile(r"[@#]\w\w"),
    _COPYRIGHT: re.compile(r"©|\(c\)|copyright|all rights reserved"),
}


@lru_cache(maxsize=1)
def _flag_table() -> np.ndarray:
    """Flags for every BMP code point (astral characters are treated as letters)."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        cat = unicodedata.category(chr(cp))
        flags = 0
        if cat[0] == "L":
            flags |= LETTER
            if cat == "Lu" or cat == "Lt":
                flags |= UPPER
        elif cat[0] == "N":
            flags |= DIGIT
        elif cat[0] == "Z" or chr(cp) in "\t\n\r\x0b\x0c":
            flags |= SPACE
        elif cat[0] in "PS":
            flags |= PUNCT
        table[cp] = flags
    for ch in SEPARATORS:
        table[ord(ch)] |= SEPARATOR
    for ch in QUOTES:
        table[ord(ch)] |= QUOTE
    for ch in TERMINALS:
        table[ord(ch)] |= TERMINAL
    return table


@lru_cache(maxsize=1)
def stopword_hashes() -> np.ndarray:
    """Sorted token hashes of the union of the ``stop-words`` package's lists."""
    import stop_words

    base = Path(stop_words.__file__).parent / "stop-words"
    words: set[str] = set()
    for path in sorted(base.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            word = line.strip().casefold()
            if word:
                words.add(word)
    from ..normalize import tokens

    toks = sorted({t for w in words for t in tokens(w)})
    return unique_ints(token_hashes(toks))


_REPORTING_WORDS = frozenset(w for lang in REPORTING.values() for p in lang for w in p.split()
                             if len(w) > 3)


@dataclass(slots=True)
class DocFeatures:
    """Features of one document's lines: ``dense`` (lines x len(DENSE)) and the sparse bag of
    words as ``(line index, bucket)`` pairs, plus the long-line mask used for context."""

    dense: np.ndarray
    rows: np.ndarray
    buckets: np.ndarray


def _counts(flags: np.ndarray, bit: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    csum = np.concatenate(([0], np.cumsum((flags & bit) != 0, dtype=np.int64)))
    out: np.ndarray = csum[ends] - csum[starts]
    return out


def _line_hits(pattern: re.Pattern[str], text: str, starts: np.ndarray, ends: np.ndarray
               ) -> np.ndarray:
    """1.0 for every line (``text[starts[i]:ends[i]]``) that holds a match of ``pattern``:
    the lines its anchor (:data:`_ANCHORS`) finds, confirmed by the pattern itself."""
    hits = np.zeros(len(starts), dtype=np.float64)
    positions = [m.start() for m in _ANCHORS[pattern].finditer(text)]
    if positions:
        lines = unique_ints(np.searchsorted(starts, np.asarray(positions), side="right") - 1)
        for i in lines.tolist():
            if pattern.search(text, int(starts[i]), int(ends[i])):
                hits[i] = 1.0
    return hits


# The columns of the four patterns, and the bit :func:`dedup._lines.anchor_lines` gives a line
# that may hold a match of each (the copyright pattern runs on the lowercased line).
_PATTERNS = ((_URL, 1), (_EMAIL, 2), (_HANDLE, 4), (_COPYRIGHT, 8))


def pattern_hits(lines: Sequence[str], text: str, lengths: np.ndarray, compiled: bool = True
                 ) -> np.ndarray:
    """``has_url``, ``has_email``, ``has_handle`` and ``has_copyright`` of every line
    (``text``: ``lines`` joined by "\\n", ``lengths`` theirs): 1.0 where the line holds a
    match of the pattern (the copyright one in the lowercased line). ``compiled``: the lines
    that may match are flagged by the kernel (``dedup._lines.anchor_lines``: the characters
    every match needs) and each pattern runs on its flagged lines alone; else the patterns'
    anchors (:data:`_ANCHORS`) are found in the whole text, which gives the same columns."""
    n = len(lines)
    out = np.zeros((n, len(_PATTERNS)), dtype=np.float64)
    if compiled and _lines is not None:
        bits = np.empty(n, dtype=np.uint8)
        _lines.anchor_lines(text, np.ascontiguousarray(lengths, dtype=np.int64), bits)
        for c, (pattern, bit) in enumerate(_PATTERNS):
            search = pattern.search
            for i in np.flatnonzero(bits & bit).tolist():
                if search(lines[i].lower() if pattern is _COPYRIGHT else lines[i]):
                    out[i, c] = 1.0
        return out
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
    ends = starts + lengths
    for c, (pattern, _) in enumerate(_PATTERNS[:3]):
        out[:, c] = _line_hits(pattern, text, starts, ends)
    low = text.lower()
    if len(low) != len(text):  # "İ" lowercases to two code points: the lines move
        low_lengths = lengths + np.fromiter((s.count("İ") for s in lines), np.int64, count=n)
        low_starts = np.zeros(n, dtype=np.int64)
        np.cumsum(low_lengths[:-1] + 1, out=low_starts[1:])
        out[:, 3] = _line_hits(_COPYRIGHT, low, low_starts, low_starts + low_lengths)
    else:
        out[:, 3] = _line_hits(_COPYRIGHT, low, starts, ends)
    return out


def doc_features(lines: Sequence[str], toks: Sequence[Sequence[str]]) -> DocFeatures:
    """Features of every line of one document (``lines`` trimmed, ``toks`` their tokens)."""
    return batch_features(lines, toks, np.array([0, len(lines)], dtype=np.int64))


def doc_bounds(sizes: Sequence[int]) -> np.ndarray:
    """``bounds`` for documents of ``sizes`` lines: document ``d`` is lines
    ``bounds[d]:bounds[d + 1]``."""
    bounds = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(np.asarray(sizes, dtype=np.int64), out=bounds[1:])
    return bounds


def line_docs(bounds: np.ndarray) -> np.ndarray:
    """The document of every line."""
    out: np.ndarray = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    return out


def batch_features(lines: Sequence[str], toks: Sequence[Sequence[str]], bounds: np.ndarray
                   ) -> DocFeatures:
    """Features of the lines of several documents at once: ``lines`` and ``toks`` are the
    documents' lines one after the other, document ``d`` being ``bounds[d]:bounds[d + 1]``.

    Every value is the one :func:`doc_features` gives the document alone: the line features do
    not look past their line, and the place features stop at the document's edges. Batching
    only saves the per-call overhead of numpy on short documents.
    """
    return place_features(line_features(lines, toks), bounds)


@dataclass(slots=True)
class LineFeatures:
    """What the features of each line alone are (:func:`line_features`): the dense columns
    but the place ones (``PLACE``, zero here), whether it is a long sentence-like line, the
    ``(line, hash)`` pairs of its content words (for ``body_overlap``), its bag of words and
    whether it names the consent topic (:func:`.classifier.topic_lines`; ``None``: not
    computed)."""

    dense: np.ndarray
    long_line: np.ndarray
    word_lines: np.ndarray
    word_hashes: np.ndarray
    rows: np.ndarray
    buckets: np.ndarray
    topic: np.ndarray | None = None


# Columns that depend on the line's document, filled by :func:`place_features`.
PLACE = ("in_main_run", "log_to_long_line", "long_density", "long_before", "long_after",
         "body_overlap")


def place_features(lf: LineFeatures, bounds: np.ndarray) -> DocFeatures:
    """The features of the lines of documents ``bounds`` (see :func:`batch_features`) from
    their line features: the place columns are filled in ``lf.dense``."""
    dense = lf.dense
    if len(dense):
        doc = line_docs(bounds)
        _place(dense, lf.long_line, bounds, doc)
        dense[:, _COL["body_overlap"]] = _body_overlap(lf.word_hashes, lf.word_lines,
                                                       lf.long_line, doc)
    return DocFeatures(dense, lf.rows, lf.buckets)


CHAR_COUNTS = ("letters", "upper", "digits", "spaces", "punct", "separators", "word_starts",
               "upper_word_starts", "first_flags", "last_flags", "prev_flags", "first_char",
               "last_char")


def char_counts(text: str, lengths: np.ndarray, compiled: bool = True) -> np.ndarray:
    """Per line of ``text`` (lines joined by "\\n", ``lengths`` in code points): the
    :data:`CHAR_COUNTS` (lines x 13, int64): how many code points carry each flag of
    :func:`_flag_table`, how many letters start a word and how many of those are capitals,
    the flags of the first, last and second-last code points and the first and last code
    points (0 where the line is too short). ``compiled``: with the kernel (``dedup._lines``)
    when it is built, which gives the same counts as the numpy below."""
    n = len(lengths)
    out = np.empty((n, len(CHAR_COUNTS)), dtype=np.int64)
    if compiled and _lines is not None:
        _lines.char_counts(text, np.ascontiguousarray(lengths, dtype=np.int64), _flag_table(),
                           out)
        return out
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    ends = starts + lengths
    # One padding code point at the end keeps every index below valid, even for blank pages.
    cps = np.concatenate((np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32),
                          np.zeros(1, dtype=np.uint32)))
    flags = _flag_table()[np.minimum(cps, 0xFFFF)]
    flags[cps > 0xFFFF] = LETTER
    for c, bit in enumerate((LETTER, UPPER, DIGIT, SPACE, PUNCT, SEPARATOR)):
        out[:, c] = _counts(flags, bit, starts, ends)
    is_letter = (flags & LETTER) != 0
    word_start = is_letter & ~np.concatenate(([False], is_letter[:-1]))
    csum_ws = np.concatenate(([0], np.cumsum(word_start)))
    csum_up = np.concatenate(([0], np.cumsum(word_start & ((flags & UPPER) != 0))))
    out[:, 6] = csum_ws[ends] - csum_ws[starts]
    out[:, 7] = csum_up[ends] - csum_up[starts]
    nonempty = lengths > 0
    last = np.where(nonempty, ends - 1, 0)
    out[:, 8] = np.where(nonempty, flags[starts], 0)
    out[:, 9] = np.where(nonempty, flags[last], 0)
    out[:, 10] = np.where(lengths > 1, flags[np.maximum(last - 1, 0)], 0)
    out[:, 11] = np.where(nonempty, cps[starts], 0)
    out[:, 12] = np.where(nonempty, cps[last], 0)
    return out


def line_features(lines: Sequence[str], toks: Sequence[Sequence[str]],
                  keys: Sequence[str] | None = None) -> LineFeatures:
    """The features of every line that do not look past it (``lines`` trimmed, ``toks`` their
    tokens, ``keys`` their keys, ``" ".join(tokens)`` each as the paragraphs hold them, when the
    caller has them): every column but ``PLACE``, with one pass over all the code points and
    one over the keys' (:func:`~dedup.shingle.key_token_columns`: no Python per token)."""
    n = len(lines)
    dense = np.zeros((n, len(DENSE)), dtype=np.float64)
    if n == 0:
        empty = np.empty(0, np.int64)
        return LineFeatures(dense, np.zeros(0, dtype=bool), empty, np.empty(0, np.uint64),
                            empty, empty, np.zeros(0, dtype=bool))
    text = "\n".join(lines)
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=n)
    chars = char_counts(text, lengths)
    letters = chars[:, 0]
    nonspace = lengths - chars[:, 3]
    word_starts, upper_starts = chars[:, 6], chars[:, 7]
    first_flags, last_flags, prev_flags = chars[:, 8], chars[:, 9], chars[:, 10]
    first_char, last_char = chars[:, 11], chars[:, 12]

    hashes, tok_len, digit_tok, words, prefixes = key_token_columns(
        [" ".join(t) for t in toks] if keys is None else keys, PREFIX_CHARS)
    owner = np.repeat(np.arange(n), words)
    tok_chars = np.bincount(owner, weights=tok_len, minlength=n)
    is_stop = _stopword_set().contains(hashes)
    stop_count = np.bincount(owner, weights=is_stop, minlength=n)
    digit_count = np.bincount(owner, weights=digit_tok, minlength=n)

    safe_words = np.maximum(words, 1)
    safe_letters = np.maximum(letters, 1)
    safe_nonspace = np.maximum(nonspace, 1)
    col = _COL
    dense[:, col["log_chars"]] = np.log1p(lengths)
    dense[:, col["log_words"]] = np.log1p(words)
    for name, lo, hi in (("words_1", 1, 1), ("words_2", 2, 2), ("words_3", 3, 3),
                         ("words_4_5", 4, 5), ("words_6_8", 6, 8), ("words_9_15", 9, 15),
                         ("words_16_30", 16, 30), ("words_31_up", 31, 1 << 30)):
        dense[:, col[name]] = (words >= lo) & (words <= hi)
    dense[:, col["upper_share"]] = chars[:, 1] / safe_letters
    dense[:, col["digit_share"]] = chars[:, 2] / safe_nonspace
    dense[:, col["punct_share"]] = chars[:, 4] / safe_nonspace
    dense[:, col["title_share"]] = upper_starts / np.maximum(word_starts, 1)
    terminal = ((last_flags & TERMINAL) != 0) | (((last_flags & QUOTE) != 0)
                                                 & ((prev_flags & TERMINAL) != 0))
    dense[:, col["ends_terminal"]] = terminal
    dense[:, col["ends_colon"]] = last_char == ord(":")
    dense[:, col["starts_bullet"]] = (first_char[:, None] == _BULLET_CODES).any(axis=1)
    seps = chars[:, 5]
    dense[:, col["log_separators"]] = np.log1p(seps)
    dense[:, col["separators_per_word"]] = seps / safe_words
    dense[:, _HITS] = pattern_hits(lines, text, lengths)
    dense[:, col["stopword_share"]] = stop_count / safe_words
    dense[:, col["mean_token_len"]] = np.log1p(tok_chars / safe_words)
    # The cue scores run only on the lines holding a cue's token (found by hash: a line with
    # none scores 0, and a hash that matches by chance only costs a look).
    rule = dense[:, col["cookie_rule"]]
    for i in _lines_with(hashes, owner, n, _COOKIE_ANCHORS):
        rule[i] = cookie_evidence(lines[i], toks=toks[i]).score
    unquoted = rule.copy()
    for i in np.flatnonzero(rule >= 0.5).tolist():
        unquoted[i] = cookie_evidence(_QUOTED.sub(" ", lines[i])).score
    dense[:, col["cookie_rule_unquoted"]] = unquoted
    for i in _lines_with(hashes, owner, n, _REPORTING_WORDS):
        dense[i, col["reporting"]] = min(2, len(_REPORTING_WORDS.intersection(toks[i]))) / 2
    long_line = (words >= 12) & terminal & (stop_count / safe_words >= 0.15)
    dense[:, col["starts_quote"]] = (first_flags & QUOTE) != 0
    dense[:, col["all_digits"]] = (digit_count == words) & (words > 0)
    eligible = ~is_stop & (tok_len >= OVERLAP_MIN_CHARS) & ~digit_tok
    rows, buckets = _bag_of_words(hashes, words, (), tok_len, prefixes)
    topic = np.zeros(n, dtype=bool)  # as topic_lines: the line's tokens, or its text's
    for i in _lines_with(hashes, owner, n, _TOPIC_ANCHORS):
        topic[i] = not _TOPIC_ANCHORS.isdisjoint(toks[i])
    for i in np.flatnonzero((words == 0) & (lengths > 0)).tolist():
        topic[i] = not _TOPIC_ANCHORS.isdisjoint(toks[i] or tokens(lines[i]))
    return LineFeatures(dense, long_line, owner[eligible], hashes[eligible], rows, buckets,
                        topic)


class _HashSet:
    """Membership in a fixed set of 64-bit hashes for whole arrays at once: a table indexed by
    a hash's low bits holds one member per slot (an empty slot holds a value no hash of that
    slot can equal); the few hashes landing in a slot two members share are looked up in the
    sorted members. The same answers as a binary search of every hash, about 10x faster."""

    __slots__ = ("ambiguous", "mask", "members", "table")

    def __init__(self, members: np.ndarray) -> None:
        self.members = unique_ints(members)  # sorted
        bits = max(10, (16 * len(self.members)).bit_length())
        self.mask = np.uint64((1 << bits) - 1)
        slot = (self.members & self.mask).astype(np.intp)
        self.table = np.arange(1 << bits, dtype=np.uint64) ^ np.uint64(1)  # no member's value
        self.table[slot] = self.members
        self.ambiguous = np.bincount(slot, minlength=1 << bits) > 1

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Whether each of ``hashes`` (uint64) is a member."""
        slot = (hashes & self.mask).astype(np.intp)
        found: np.ndarray = self.table[slot] == hashes
        unsure = np.flatnonzero(self.ambiguous[slot] & ~found)
        if len(unsure):
            members = self.members
            at = np.minimum(np.searchsorted(members, hashes[unsure]), len(members) - 1)
            found[unsure] = members[at] == hashes[unsure]
        return found


@lru_cache(maxsize=1)
def _stopword_set() -> _HashSet:
    return _HashSet(stopword_hashes())


@lru_cache(maxsize=4)
def _cue_set(words: frozenset[str]) -> _HashSet:
    return _HashSet(_cue_hashes(words))


@lru_cache(maxsize=4)
def _cue_hashes(words: frozenset[str]) -> np.ndarray:
    """Sorted token hashes of ``words``."""
    return unique_ints(token_hashes(sorted(words)))


def _lines_with(hashes: np.ndarray, owner: np.ndarray, n: int, words: frozenset[str]
                ) -> list[int]:
    """The lines (``owner`` of each token hash) holding a token whose hash is one of
    ``words``': every line holding one of ``words`` and, rarely, one whose token only shares
    a hash with one."""
    cues = _cue_set(words)
    if not len(hashes) or not len(cues.members):
        return []
    found: list[int] = unique_ints(owner[cues.contains(hashes)]).tolist()
    return found


OVERLAP_MIN_CHARS = 4  # shorter words (and stopwords, numbers) say little about a topic


def _body_overlap(h: np.ndarray, line: np.ndarray, long_line: np.ndarray, doc: np.ndarray
                  ) -> np.ndarray:
    """Per line, the share of its distinct content words that occur in one of its document's
    *other* long lines. An article's title and headings repeat the words of its body; a link
    to another article, a menu or a footer does not, however often it recurs in the corpus.

    Exact (grouped by hash and document, no combined key that could collide), and per document:
    the value does not depend on which other documents share the batch.
    """
    n = len(long_line)
    out = np.zeros(n, dtype=np.float64)
    if not len(line):
        return out
    same_line = line[1:] == line[:-1]
    if not np.all((line[1:] > line[:-1]) | (same_line & (h[1:] >= h[:-1]))):
        order = np.lexsort((h, line))  # already in order when they come from the line cache
        line, h = line[order], h[order]
        same_line = line[1:] == line[:-1]
    first = np.r_[True, ~same_line | (h[1:] != h[:-1])]
    line, h = line[first], h[first]  # distinct (line, word) pairs, by line
    # By word, lines in order within a word (a stable sort), so by document too: each
    # (document, word) pair is one run. Only the runs matter, not their order.
    order = np.argsort(h, kind="stable")
    line, h = line[order], h[order]
    d = doc[line]
    is_long = long_line[line].astype(np.int64)
    start = np.r_[True, (d[1:] != d[:-1]) | (h[1:] != h[:-1])]
    group = np.cumsum(start) - 1
    long_in_group = np.bincount(group, weights=is_long)[group]
    elsewhere = (long_in_group - is_long) > 0
    words = np.bincount(line, minlength=n)
    hits = np.bincount(line, weights=elsewhere, minlength=n)
    np.divide(hits, words, out=out, where=words > 0)
    return out


def _place(dense: np.ndarray, long_line: np.ndarray, bounds: np.ndarray, doc: np.ndarray
           ) -> None:
    """The place features of every line, within its own document: the main content is a run
    of long lines; how far the nearest one is, how dense they are around the line, whether one
    stands right before and right after it (a heading between paragraphs). ``doc``: the
    document of every line (:func:`line_docs`)."""
    col = _COL
    n = len(long_line)
    idx = np.arange(n)
    lo, hi = bounds[doc], bounds[doc + 1]  # the line's document: lines lo..hi-1
    where = np.flatnonzero(long_line)
    per_doc = np.bincount(doc[where], minlength=len(bounds) - 1)
    cum = np.concatenate(([0], np.cumsum(per_doc)))
    has = per_doc[doc] > 0
    if len(where):
        a, b = cum[doc], cum[doc + 1] - 1  # the document's long lines: where[a..b]
        first_long = where[np.minimum(a, len(where) - 1)]
        last_long = where[np.maximum(b, 0)]
        dense[:, col["in_main_run"]] = has & (idx >= first_long) & (idx <= last_long)
        pos = np.searchsorted(where, idx)
        left = np.abs(idx - where[np.clip(pos - 1, a, np.maximum(b, a))
                                  .clip(0, len(where) - 1)])
        right = np.abs(where[np.clip(pos, a, np.maximum(b, a)).clip(0, len(where) - 1)] - idx)
        dense[:, col["log_to_long_line"]] = np.log1p(np.minimum(left, right))
    # A document without long lines: the distance is its length.
    for d in np.flatnonzero(per_doc == 0).tolist():
        dense[bounds[d]:bounds[d + 1], col["log_to_long_line"]] = math.log1p(
            int(bounds[d + 1] - bounds[d]))
    lf = long_line.astype(np.float64)
    lcum = np.concatenate(([0.0], np.cumsum(lf)))
    start, stop = np.maximum(idx - 3, lo), np.minimum(idx + 4, hi)
    dense[:, col["long_density"]] = ((lcum[stop] - lcum[start] - lf)
                                     / np.maximum(stop - start - 1, 1))
    before = np.zeros(n, dtype=bool)
    after = np.zeros(n, dtype=bool)
    for k in (1, 2):
        if n > k:
            same = doc[k:] == doc[:-k]
            before[k:] |= long_line[:-k] & same
            after[:-k] |= long_line[k:] & same
    dense[:, col["long_before"]] = before
    dense[:, col["long_after"]] = after


_PREFIX = operator.itemgetter(slice(0, PREFIX_CHARS))  # t[:5]
_SHARED_PREFIXES = 1 << 16  # tokens in a batch above which equal prefixes share one string


def _shared_prefixes(all_toks: Sequence[str], long_tok: np.ndarray) -> list[str]:
    """The 5-character prefixes of the long tokens, one string object per distinct prefix
    (interned): a very long line's prefixes then take 8 bytes each, not a string each."""
    return list(map(sys.intern, map(_PREFIX, itertools.compress(all_toks, long_tok.tolist()))))


def _bag_of_words(hashes: np.ndarray, words: np.ndarray, all_toks: Sequence[str],
                  tok_len: np.ndarray, prefixes: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(line, bucket)`` pairs for unigrams, in-line bigrams and 5-character prefixes.
    ``prefixes``: the prefixes' hashes (:func:`~dedup.shingle.key_token_columns`), when
    the caller has them; else they are hashed here from the prefix strings (the reference)."""
    n = len(words)
    owner = np.repeat(np.arange(n), words)
    uni = hashes
    same_line = owner[1:] == owner[:-1] if len(owner) > 1 else np.zeros(0, dtype=bool)
    with np.errstate(over="ignore"):
        bi = fmix64(hashes[:-1] * _BIGRAM + hashes[1:])[same_line] if len(hashes) > 1 \
            else np.empty(0, dtype=np.uint64)
    long_tok = tok_len > PREFIX_CHARS
    if prefixes is None:
        strings = list(map(_PREFIX, itertools.compress(all_toks, long_tok.tolist()))) \
            if len(all_toks) <= _SHARED_PREFIXES else _shared_prefixes(all_toks, long_tok)
        prefixes = token_hashes(strings) if strings else np.empty(0, dtype=np.uint64)
    pre = prefixes ^ _PREFIX_SALT
    rows = np.concatenate((owner, owner[1:][same_line], owner[long_tok]))
    buckets = np.concatenate((uni, bi, pre))
    np.bitwise_and(buckets, _MASK, out=buckets)  # in place: a long line's tokens are many
    return rows, buckets.view(np.int64)  # under 2**63 now: the same values as int64
