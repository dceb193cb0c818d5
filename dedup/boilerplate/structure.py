"""Page-structure features: what makes a menu a menu on any site, from the text dump alone.

A line's own shape (:mod:`.features`) says little on a real page, where a product name, a forum
post and a menu item can all be three title-case words. What tells them apart is where the line
stands: inside a run of short lines or among paragraphs, before or after the page's main block
of text, how dense the text is around it (jusText's and boilerpipe's evidence), whether the
page repeats it, whether a paragraph follows it (a heading). Every feature here is computed per
document with numpy over the non-blank lines of a batch of documents (``bounds``: document
``d`` is rows ``bounds[d]:bounds[d + 1]``); no value depends on the other documents of the
batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import DENSE

_D = {name: i for i, name in enumerate(DENSE)}
SHORT_WORDS = 4  # a line of this many words or fewer is a menu-item-sized line
WINDOWS = (1, 3, 10)  # half-widths of the windows text density is measured in

_layout: Any
try:  # the compiled kernel, built by the package's own build
    _layout = importlib.import_module("dedup._layout")
except ImportError:  # pragma: no cover - a source tree without the build: numpy below
    _layout = None


def _docs(bounds: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    return out


class Segmented:
    """Window sums and neighbours within each document of a batch."""

    def __init__(self, bounds: np.ndarray) -> None:
        self.bounds = bounds
        self.doc = _docs(bounds)
        self.n = int(bounds[-1])
        self.idx = np.arange(self.n)
        self.lo = bounds[self.doc]
        self.hi = bounds[self.doc + 1]

    def window_mean(self, values: np.ndarray, before: int, after: int,
                    self_too: bool = True, compiled: bool = True) -> np.ndarray:
        """Mean of ``values`` over rows ``i - before .. i + after`` of the row's document
        (without row ``i`` unless ``self_too``); NaN when the window holds no row. Summed
        offset by offset, so each row's sum runs in the same order whatever the batch.
        ``compiled``: with the kernel (``dedup._layout``) when it is built, which sums in the
        same order as the numpy below and gives the same values bit for bit."""
        if compiled and _layout is not None:
            mean: np.ndarray = np.full(self.n, np.nan)
            _layout.window_mean(np.ascontiguousarray(values, dtype=np.float64),
                                np.ascontiguousarray(self.bounds, dtype=np.int64),
                                before, after, self_too, mean)
            return mean
        total = np.zeros(self.n)
        count = np.zeros(self.n)
        for o in range(-before, after + 1):
            if o == 0 and not self_too:
                continue
            got = self.shift(values, o)
            ok = ~np.isnan(got)
            total += np.where(ok, got, 0.0)
            count += ok
        out: np.ndarray = np.full(self.n, np.nan)
        np.divide(total, count, out=out, where=count > 0)
        return out

    def shift(self, values: np.ndarray, offset: int) -> np.ndarray:
        """The value of the row ``offset`` away in the same document, NaN past its edges."""
        out: np.ndarray = np.full(self.n, np.nan)
        j = self.idx + offset
        ok = (j >= self.lo) & (j < self.hi)
        out[ok] = values[j[ok]]
        return out

    def doc_sum(self, values: np.ndarray) -> np.ndarray:
        """Each row's document total of ``values``."""
        per: np.ndarray = np.bincount(self.doc, weights=values, minlength=len(self.bounds) - 1)
        out: np.ndarray = per[self.doc]
        return out

    def run_length(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows in ``mask``: the length of the run of consecutive masked rows (within the
        document) holding the row, and the row's place in it (0..1); 0 and NaN elsewhere."""
        n = self.n
        brk = np.ones(n, dtype=bool)
        if n > 1:
            brk[1:] = (mask[1:] != mask[:-1]) | (self.doc[1:] != self.doc[:-1])
        run = np.cumsum(brk) - 1
        starts = np.flatnonzero(brk)
        sizes = np.diff(np.append(starts, n))
        length = np.where(mask, sizes[run], 0).astype(np.float64)
        place = np.where(mask, (self.idx - starts[run]) / np.maximum(sizes[run] - 1, 1), np.nan)
        return length, place

    def main_block(self, gain: np.ndarray, compiled: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The document's run of rows with the largest sum of ``gain`` (Kadane's maximum
        subarray): whether each row is in it, and its signed distance in rows to the run
        (negative before, positive after, 0 inside) and the run's share of the document's
        positive gain. ``compiled``: every document in one call of the kernel
        (``dedup._layout``) when it is built and the gains are finite, which gives the same
        values bit for bit (its positive gain summed as numpy sums); the loop below, a few
        numpy calls a document, is the reference."""
        inside = np.zeros(self.n, dtype=bool)
        dist = np.zeros(self.n, dtype=np.float64)
        share = np.zeros(self.n, dtype=np.float64)
        g = np.ascontiguousarray(gain, dtype=np.float64)
        if compiled and _layout is not None and np.isfinite(g).all():
            _layout.main_block(g, np.ascontiguousarray(self.bounds, dtype=np.int64),
                               inside.view(np.uint8), dist, share)
            return inside, dist, share
        for d in range(len(self.bounds) - 1):
            a, b = int(self.bounds[d]), int(self.bounds[d + 1])
            if a == b:
                continue
            g = gain[a:b]
            c = np.concatenate(([0.0], np.cumsum(g)))
            low = np.minimum.accumulate(c[:-1])
            best = c[1:] - low
            end = int(np.argmax(best))  # the run ends at row `end` (inclusive)
            start = int(np.flatnonzero(c[: end + 1] == low[end])[-1])
            rows = np.arange(b - a)
            inside[a:b] = (rows >= start) & (rows <= end)
            dist[a:b] = np.where(rows < start, rows - start, np.where(rows > end, rows - end, 0))
            pos = float(np.clip(g, 0, None).sum())
            share[a:b] = float(best[end]) / pos if pos > 0 else 0.0
        return inside, dist, share


def key_ids(keys: Sequence[str]) -> tuple[np.ndarray, int, np.ndarray]:
    """Each key's id (the distinct keys numbered in order of first occurrence), how many
    distinct keys there are, and which keys are empty."""
    n = len(keys)
    distinct = dict.fromkeys(keys)
    table = dict(zip(distinct, range(len(distinct)), strict=True))
    ids = np.fromiter(map(table.__getitem__, keys), dtype=np.int64, count=n)
    empty = ids == table[""] if "" in table else np.zeros(n, dtype=bool)
    return ids, len(table), empty


def _repeats(keys: Sequence[str], doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many times each row's key stands in its document, and whether this is its first."""
    n = len(keys)
    if not n:
        return np.ones(0), np.ones(0)
    ids, distinct, empty = key_ids(keys)
    combo = doc.astype(np.int64) * (distinct + 1) + ids
    _, first_at, inverse, counts = np.unique(combo, return_index=True, return_inverse=True,
                                             return_counts=True)
    count = counts[inverse].astype(np.float64)
    first = (first_at[inverse] == np.arange(n)).astype(np.float64)
    count[empty] = 1.0
    first[empty] = 1.0
    return count, first


STRUCTURE = tuple(
    ["rel_pos", "log_from_start", "log_to_end", "log_lines", "char_share_before",
     "short_run", "short_run_place", "long_run",
     "page_repeats", "page_first", "block_in", "block_dist", "block_share",
     "block_in_chars", "block_dist_chars",
     "prev_log_chars", "next_log_chars", "prev2_log_chars", "next2_log_chars",
     "prev_terminal", "next_terminal", "prev_stop", "next_stop",
     "prev_title", "next_title", "next_is_long", "prev_is_long"]
    + [f"w{w}_{name}" for w in WINDOWS
       for name in ("log_chars", "stop", "terminal", "short", "title", "digits")]
    + [f"before{w}_log_chars" for w in (3, 10)] + [f"after{w}_log_chars" for w in (3, 10)]
)


def structure_features(dense: np.ndarray, keys: Sequence[str], bounds: np.ndarray
                       ) -> np.ndarray:
    """The ``STRUCTURE`` columns of the non-blank lines of a batch (``dense``: their
    :data:`.features.DENSE` columns; ``keys``: their normalised keys)."""
    seg = Segmented(bounds)
    n = seg.n
    out = np.zeros((n, len(STRUCTURE)), dtype=np.float64)
    if not n:
        return out
    col = {name: i for i, name in enumerate(STRUCTURE)}
    chars = np.rint(np.expm1(dense[:, _D["log_chars"]]))  # integers: exact running sums
    log_chars = dense[:, _D["log_chars"]]
    words = np.expm1(dense[:, _D["log_words"]])
    stop = dense[:, _D["stopword_share"]]
    terminal = dense[:, _D["ends_terminal"]]
    title = dense[:, _D["title_share"]]
    digits = dense[:, _D["digit_share"]]
    short = (words <= SHORT_WORDS).astype(np.float64)
    sentence = ((words >= 10) & (terminal > 0) & (stop >= 0.15)).astype(np.float64)
    lines = (seg.hi - seg.lo).astype(np.float64)
    pos = (seg.idx - seg.lo).astype(np.float64)
    out[:, col["rel_pos"]] = pos / np.maximum(lines - 1, 1)
    out[:, col["log_from_start"]] = np.log1p(pos)
    out[:, col["log_to_end"]] = np.log1p(lines - 1 - pos)
    out[:, col["log_lines"]] = np.log1p(lines)
    cchars = np.cumsum(chars) - chars
    start_chars = np.concatenate(([0.0], np.cumsum(chars)))[seg.lo]
    out[:, col["char_share_before"]] = (cchars - start_chars) / np.maximum(seg.doc_sum(chars), 1)
    length, place = seg.run_length(short > 0)
    out[:, col["short_run"]] = np.log1p(length)
    out[:, col["short_run_place"]] = place
    long_len, _ = seg.run_length(short == 0)
    out[:, col["long_run"]] = np.log1p(long_len)
    count, first = _repeats(keys, seg.doc)
    out[:, col["page_repeats"]] = np.log(count)
    out[:, col["page_first"]] = first
    inside, dist, share = seg.main_block(sentence - 0.35)
    out[:, col["block_in"]] = inside
    out[:, col["block_dist"]] = np.sign(dist) * np.log1p(np.abs(dist))
    out[:, col["block_share"]] = share
    inside, dist, _ = seg.main_block(np.log1p(chars) - 3.5)
    out[:, col["block_in_chars"]] = inside
    out[:, col["block_dist_chars"]] = np.sign(dist) * np.log1p(np.abs(dist))
    for name, values, off in (("prev_log_chars", log_chars, -1), ("next_log_chars", log_chars, 1),
                              ("prev2_log_chars", log_chars, -2),
                              ("next2_log_chars", log_chars, 2),
                              ("prev_terminal", terminal, -1), ("next_terminal", terminal, 1),
                              ("prev_stop", stop, -1), ("next_stop", stop, 1),
                              ("prev_title", title, -1), ("next_title", title, 1),
                              ("next_is_long", sentence, 1), ("prev_is_long", sentence, -1)):
        out[:, col[name]] = seg.shift(values, off)
    for w in WINDOWS:
        for name, values in (("log_chars", log_chars), ("stop", stop), ("terminal", terminal),
                             ("short", short), ("title", title), ("digits", digits)):
            out[:, col[f"w{w}_{name}"]] = seg.window_mean(values, w, w, self_too=False)
    for w in (3, 10):
        out[:, col[f"before{w}_log_chars"]] = seg.window_mean(log_chars, w, -1)
        out[:, col[f"after{w}_log_chars"]] = seg.window_mean(log_chars, -1, w)
    return out

