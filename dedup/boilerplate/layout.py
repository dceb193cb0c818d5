"""Layout features: the repeated shapes of cards and lists, prices, sorted runs, the title.

Where :mod:`.structure` sees runs of short lines and the main block of sentences, these see
what list, shop and forum pages are made of: a card (name, price, a button) repeats its line
shapes every few lines; a product's price sits by its name; an index is sorted; content lines
share words with the page's title; a page of short lines is judged against its own lengths.
Computed per document over the non-blank lines of a batch (``bounds`` as in
:mod:`.structure`); no value depends on another document of the batch.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import DENSE
from .structure import Segmented, key_ids

_D = {name: i for i, name in enumerate(DENSE)}
_WORD_BUCKETS = [_D[c] for c in ("words_1", "words_2", "words_3", "words_4_5", "words_6_8",
                                 "words_9_15", "words_16_30", "words_31_up")]
_CURRENCY = re.compile(r"(?:[$€£¥₹₽₩]|(?:USD|EUR|GBP|CHF|JPY|INR|AUD|CAD) ?)\d"
                       r"|\d(?: ?[$€£¥₹₽₩]|[.,]\d\d(?!\d))")
LAGS = tuple(range(1, 9))
PERIOD_HALF = 6  # half-width of the window in which a lag's recurrence rate is measured

_layout: Any
try:  # the compiled kernel, built by the package's own build
    _layout = importlib.import_module("dedup._layout")
except ImportError:  # pragma: no cover - a source tree without the build: the Python below
    _layout = None


def currency(texts: Sequence[str], dense: np.ndarray) -> np.ndarray:
    """1 for a line holding a price-like number (currency sign next to digits, or d.dd);
    only short lines (8 words or fewer) with digits are searched."""
    out = np.zeros(len(texts))
    rows = np.flatnonzero((dense[:, _D["digit_share"]] > 0)
                          & (dense[:, _D["log_words"]] <= np.log1p(8)))
    out[rows] = [_CURRENCY.search(texts[i]) is not None for i in rows.tolist()]
    return out


def shape_ids(dense: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """A coarse shape class per line: word-count bucket, digits, price, title case,
    terminal/colon end, bullet, mostly upper case."""
    bucket = np.argmax(dense[:, _WORD_BUCKETS], axis=1)
    bits = ((dense[:, _D["digit_share"]] > 0).astype(np.int64)
            | (cur > 0).astype(np.int64) << 1
            | (dense[:, _D["title_share"]] >= 0.5).astype(np.int64) << 2
            | (dense[:, _D["ends_terminal"]] > 0).astype(np.int64) << 3
            | (dense[:, _D["ends_colon"]] > 0).astype(np.int64) << 4
            | (dense[:, _D["starts_bullet"]] > 0).astype(np.int64) << 5
            | (dense[:, _D["upper_share"]] > 0.6).astype(np.int64) << 6)
    out: np.ndarray = bucket * 128 + bits
    return out


def _same_at(seg: Segmented, values: np.ndarray, lag: int) -> np.ndarray:
    """values[i] == values[i + lag] within the document (False past its end)."""
    j = seg.idx + lag
    ok = j < seg.hi
    out = np.zeros(seg.n, dtype=np.float64)
    out[ok] = values[seg.idx[ok]] == values[j[ok]]
    return out


def _doc_rank(seg: Segmented, values: np.ndarray) -> np.ndarray:
    """Percentile rank (0..1) of each row's value within its document."""
    order = np.lexsort((seg.idx, values, seg.doc))  # ties by position: no batch dependence
    rank = np.empty(seg.n, dtype=np.float64)
    rank[order] = np.arange(seg.n)
    rank -= seg.lo
    out: np.ndarray = rank / np.maximum(seg.hi - seg.lo - 1, 1)
    return out


def _doc_median(seg: Segmented, values: np.ndarray) -> np.ndarray:
    order = np.lexsort((values, seg.doc))
    s = values[order]
    mid = (seg.bounds[:-1] + seg.bounds[1:] - 1) // 2
    nonempty = seg.bounds[1:] > seg.bounds[:-1]
    med = np.zeros(len(seg.bounds) - 1)
    med[nonempty] = s[mid[nonempty]]
    out: np.ndarray = med[seg.doc]
    return out


def _sorted_run(seg: Segmented, texts: Sequence[str]) -> np.ndarray:
    """log1p of the length of the longest alphabetically non-decreasing run of lines holding
    the row (a sorted list of names: a glossary, an index, a list page)."""
    n = seg.n
    low = np.array(list(map(str.casefold, texts)), dtype=object)
    pair = np.zeros(n, dtype=bool)  # pair[i]: line i-1 <= line i, same document
    if n > 1:
        pair[1:] = (low[1:] >= low[:-1]).astype(bool) & (seg.doc[1:] == seg.doc[:-1])
    length, _ = seg.run_length(pair)  # runs of sorted pairs; a run of r pairs spans r+1 lines
    here = np.where(pair, length + 1, 0)
    nxt = np.zeros(n)
    nxt[:-1] = np.where(pair[1:], length[1:] + 1, 0)
    out: np.ndarray = np.log1p(np.maximum(here, nxt))
    return out


def _key_gaps(keys: Sequence[str], doc: np.ndarray) -> np.ndarray:
    """Per row: the line distance to the nearest other occurrence of the same key in the
    document (0 when the key occurs once or is empty)."""
    n = len(keys)
    gap = np.zeros(n)
    if n < 2:
        return gap
    kid, _, empty = key_ids(keys)
    idx = np.arange(n)
    order = np.lexsort((idx, kid, doc))
    same = (kid[order][1:] == kid[order][:-1]) & (doc[order][1:] == doc[order][:-1])
    diff = np.where(same, idx[order][1:] - idx[order][:-1], np.iinfo(np.int64).max)
    to_prev = np.r_[np.iinfo(np.int64).max, diff]
    to_next = np.r_[diff, np.iinfo(np.int64).max]
    best = np.minimum(to_prev, to_next)
    gap[order] = np.where(best == np.iinfo(np.int64).max, 0, best)
    gap[empty] = 0
    return gap


LAYOUT = tuple(
    ["price", "price_w3", "price_prev", "price_next", "price_doc"]
    + [f"period_r{k}" for k in LAGS]
    + ["period_best", "period_best_k", "period_excess", "card_mid", "shape_run", "shape_doc",
       "shape_spread", "card_run", "card_place",
       "rel_chars", "rank_chars", "doc_sentence_share", "doc_mean_chars", "doc_long_lines",
       "doc_short_share", "sorted_run", "key_gap", "rep_w4", "rep_gap_regular",
       "overlap_w3", "overlap_w10", "overlap_prev", "overlap_next",
       "title_dist", "title_share_words"]
)


def layout_features(texts: Sequence[str], keys: Sequence[str], dense: np.ndarray,
                    bounds: np.ndarray) -> np.ndarray:
    """The ``LAYOUT`` columns of the non-blank lines of a batch (``texts``, their normalised
    ``keys`` and :data:`.features.DENSE` columns ``dense``)."""
    if not len(texts):
        return np.zeros((0, len(LAYOUT)))
    seg = Segmented(bounds)
    n = seg.n
    cols: dict[str, np.ndarray] = {}
    words = np.expm1(dense[:, _D["log_words"]])
    log_chars = dense[:, _D["log_chars"]]
    terminal = dense[:, _D["ends_terminal"]]
    stop = dense[:, _D["stopword_share"]]
    cur = currency(texts, dense)
    # price
    price = cur * (words <= 6)
    cols["price"] = price
    cols["price_w3"] = seg.window_mean(price, 3, 3, self_too=False)
    cols["price_prev"] = seg.shift(price, -1)
    cols["price_next"] = seg.shift(price, 1)
    cols["price_doc"] = np.log1p(seg.doc_sum(price))
    # period
    shape = shape_ids(dense, cur)
    rates = []
    for k in LAGS:
        same = _same_at(seg, shape, k)
        # pairs (j, j+k) with j in [i-k-PERIOD_HALF, i+PERIOD_HALF]
        r = seg.window_mean(same, k + PERIOD_HALF, PERIOD_HALF)
        cols[f"period_r{k}"] = r
        rates.append(r)
    R = np.nan_to_num(np.vstack(rates[1:]))
    cols["period_best"] = R.max(axis=0)
    cols["period_best_k"] = 2 + np.argmax(R, axis=0).astype(np.float64)
    cols["period_excess"] = R.max(axis=0) - np.nan_to_num(rates[0])
    # the line's own shape recurs 2..8 lines before and after
    back = np.zeros(n, dtype=bool)
    fwd = np.zeros(n, dtype=bool)
    for k in LAGS[1:]:
        same = _same_at(seg, shape, k) > 0  # shape[i] == shape[i + k]
        fwd |= same
        back[k:] |= same[:-k]
    same1 = _same_at(seg, shape, 1) > 0
    card = back & fwd & ~same1 & ~np.r_[False, same1[:-1]]
    cols["card_mid"] = card.astype(np.float64)
    brk = np.ones(n, dtype=bool)
    brk[1:] = (shape[1:] != shape[:-1]) | (seg.doc[1:] != seg.doc[:-1])
    run = np.cumsum(brk) - 1
    sizes = np.bincount(run)
    cols["shape_run"] = np.log1p(sizes[run])
    # how common the shape is on the page, and how spread out its occurrences are
    key = seg.doc.astype(np.int64) * 4096 + shape
    order = np.argsort(key, kind="stable")  # rows by (doc, shape), then by position
    ks = key[order]
    start = np.r_[True, ks[1:] != ks[:-1]]
    grp = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    ends = np.r_[starts[1:], n] - 1
    cnt = (ends - starts + 1)[grp]
    span = (order[ends] - order[starts] + 1)[grp]
    cnt_row = np.empty(n)
    cnt_row[order] = cnt
    span_row = np.empty(n)
    span_row[order] = span
    cols["shape_doc"] = np.log1p(cnt_row)
    cols["shape_spread"] = span_row / cnt_row
    # regions of card structure (lines in card_mid, allowing one-line gaps)
    soft = card | (np.r_[False, card[:-1]] & np.r_[card[1:], False])
    length, place = seg.run_length(soft)
    cols["card_run"] = np.log1p(length)
    cols["card_place"] = np.nan_to_num(place, nan=-1.0)
    # relative
    cols["rel_chars"] = log_chars - _doc_median(seg, log_chars)
    cols["rank_chars"] = _doc_rank(seg, log_chars)
    sentence = ((words >= 10) & (terminal > 0) & (stop >= 0.15)).astype(np.float64)
    lines = np.maximum(seg.hi - seg.lo, 1)
    cols["doc_sentence_share"] = seg.doc_sum(sentence) / lines
    cols["doc_mean_chars"] = seg.doc_sum(log_chars) / lines
    cols["doc_long_lines"] = np.log1p(seg.doc_sum(sentence))
    cols["doc_short_share"] = seg.doc_sum((words <= 4).astype(np.float64)) / lines
    # sorted
    cols["sorted_run"] = _sorted_run(seg, texts)
    # repeat
    gap = _key_gaps(keys, seg.doc)
    rep = (gap > 0).astype(np.float64)
    cols["key_gap"] = np.log1p(gap)
    cols["rep_w4"] = seg.window_mean(rep, 4, 4, self_too=False)
    # a repeated line recurring at a short regular gap (a card's button/badge)
    cols["rep_gap_regular"] = ((gap >= 2) & (gap <= 8)).astype(np.float64)
    # overlap
    ov = dense[:, _D["body_overlap"]]
    cols["overlap_w3"] = seg.window_mean(ov, 3, 3, self_too=False)
    cols["overlap_w10"] = seg.window_mean(ov, 10, 10, self_too=False)
    cols["overlap_prev"] = seg.shift(ov, -1)
    cols["overlap_next"] = seg.shift(ov, 1)
    title = _title(texts, dense, bounds)
    cols["title_dist"] = title[:, 0]
    cols["title_share_words"] = title[:, 1]
    out: np.ndarray = np.column_stack([cols[c] for c in LAYOUT])
    return out


_WORD = re.compile(r"\w{4,}")


def _title(texts: Sequence[str], dense: np.ndarray, bounds: np.ndarray,
           compiled: bool = True) -> np.ndarray:
    """The page's title guessed from the text alone: among heading-like lines (2..20 words, no
    terminal punctuation) in the first 60% of the page, the one whose content words (4+
    letters, case-folded) recur most in the page's other lines. Per line: signed log distance
    in lines to the title, and the share of the line's content words found in the title.
    ``compiled``: the word counts by the kernel (``dedup._layout``) when it is built, which
    gives the same values as the Python below, bit for bit."""
    seg = Segmented(bounds)
    n = seg.n
    words = np.expm1(dense[:, _D["log_words"]])
    heading = (words >= 2) & (words <= 20) & (dense[:, _D["ends_terminal"]] == 0)
    if compiled and _layout is not None:
        return _title_compiled(texts, heading, bounds, seg)
    dist = np.zeros(n)
    share = np.zeros(n)
    bags = [frozenset(_WORD.findall(t.casefold())) for t in texts]
    for d in range(len(bounds) - 1):
        a, b = int(bounds[d]), int(bounds[d + 1])
        if b - a < 2:
            continue
        df: dict[str, int] = {}
        for s in bags[a:b]:
            for w in s:
                df[w] = df.get(w, 0) + 1
        best, best_score = -1, 0.0
        for i in range(a, a + max(1, int(0.6 * (b - a)))):
            if not heading[i] or not bags[i]:
                continue
            sc = sum(min(df[w] - 1, 5) for w in bags[i]) / np.sqrt(len(bags[i]) + 1)
            if sc > best_score:
                best, best_score = i, sc
        if best < 0:
            dist[a:b] = 0.0
            continue
        rows = np.arange(a, b)
        dist[a:b] = np.sign(rows - best) * np.log1p(np.abs(rows - best))
        tb = bags[best]
        share[a:b] = [len(s & tb) / len(s) if s else 0.0 for s in bags[a:b]]
    out: np.ndarray = np.column_stack([dist, share])
    return out


def _title_compiled(texts: Sequence[str], heading: np.ndarray, bounds: np.ndarray,
                    seg: Segmented) -> np.ndarray:
    """:func:`_title` with the words counted by ``dedup._layout.title_words``: the title line
    per document, each line's distinct word count and how many of those the title holds."""
    n = seg.n
    best = np.empty(len(bounds) - 1, dtype=np.int64)
    sizes = np.empty(n, dtype=np.int64)
    shared = np.empty(n, dtype=np.int64)
    _layout.title_words(texts, np.ascontiguousarray(bounds, dtype=np.int64),
                        np.ascontiguousarray(heading, dtype=np.bool_), best, sizes, shared)
    title = best[seg.doc]
    off = seg.idx - title
    dist = np.where(title >= 0, np.sign(off) * np.log1p(np.abs(off)), 0.0)
    share = np.zeros(n)
    np.divide(shared, sizes, out=share, where=sizes > 0)
    out: np.ndarray = np.column_stack([dist, share])
    return out
