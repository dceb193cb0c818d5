"""The learned boilerplate classifier: two stacked multinomial logistic regressions, numpy only.

Stage 1 scores each line alone (hashed words + shape + place, :mod:`.features`). Stage 2 adds
context: the stage-1 class probabilities of the neighbouring lines (a short line inside a menu
block, a heading between two paragraphs) and, when corpus counts are available, how often the
line recurs across documents (:mod:`.repetition`). Both stages are linear, so inference is a few
matrix products per document; the weights ship inside the package (``model.npz``) and are
trained by ``dedup train-classifier`` (scikit-learn, the ``train`` extra) on the corpus dev split.

The output per line is ``P(boilerplate) = 1 - P(content)`` and the most likely category; one
threshold on that probability is the precision/recall knob (``--preset``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import MAX_KEY_CHARS, BoundedCache
from ..config import BoilerplateConfig
from ..errors import ConfigError
from ..types import DROP, Document, Paragraph, Verdict
from .classifier import block_verdict, consent_block
from .features import (
    BUCKETS,
    DENSE,
    DocFeatures,
    LineFeatures,
    batch_features,
    doc_bounds,
    line_docs,
    line_features,
    place_features,
)
from .repetition import LONG_LINE, LineCounts

CLASSES = ("content", "cookie", "nav", "login", "newsletter", "share", "related", "comments",
           "ads", "legal", "credits")
CONTEXT = tuple(
    [f"bp_{o:+d}" for o in (-2, -1, 1, 2)]
    + [f"p{o:+d}_{c}" for o in (-1, 1) for c in CLASSES]
    + ["bp_window", "self_log_p_content"]
    + [f"self_{c}" for c in CLASSES]
)
REPETITION = ("log_df", "log_df_ratio", "log_diversity", "diversity_share",
              "prev_log_diversity", "next_log_diversity", "short_x_log_diversity",
              "short_x_log_df_ratio", "long_x_log_diversity", "has_counts")
STAGE2 = DENSE + CONTEXT + REPETITION
MODEL_PATH = Path(__file__).with_name("model.npz")
PRESETS = {"precision": 0.8, "balanced": 0.6, "recall": 0.35}


CLIP = 4.0  # standardised features are clipped: no line is scored far outside training data

_linear: Any
try:  # the compiled kernels, built by the package's own build
    _linear = importlib.import_module("dedup._linear")
except ImportError:  # pragma: no cover - a source tree used without building
    _linear = None


def standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standardised and clipped; a missing value (NaN: no neighbour, no corpus counts) becomes
    0, the training mean, so it pushes the score neither way."""
    out: np.ndarray = np.nan_to_num(np.clip((x - mean) / scale, -CLIP, CLIP), nan=0.0)
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass(frozen=True, slots=True)
class LinearStage:
    """One multinomial logistic regression: standardised dense part, optional hashed words.

    The word weights are kept sparse: ``word_rows`` (the buckets with a weight, sorted) and
    ``word_weights`` (one row of class weights each). Only about one bucket in eight has one,
    so the table a line's words are looked up in is 2.5 MB instead of 23 MB (it stays in the
    processor's cache), and the sums are exactly those of the full table.
    """

    mean: np.ndarray
    scale: np.ndarray
    dense: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    word_rows: np.ndarray | None = None  # (used,) bucket numbers
    word_weights: np.ndarray | None = None  # (used, classes)
    _slot: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _table: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.word_rows is None or self.word_weights is None:
            return
        # Bucket -> row of the table; row 0 is all zeros, for the buckets without a weight.
        slot = np.zeros(BUCKETS, dtype=np.int32)
        slot[self.word_rows] = np.arange(1, len(self.word_rows) + 1, dtype=np.int32)
        table = np.zeros((len(self.bias), len(self.word_rows) + 1), dtype=self.word_weights.dtype)
        table[:, 1:] = self.word_weights.T
        object.__setattr__(self, "_slot", slot)
        object.__setattr__(self, "_table", table)

    def logits(self, x: np.ndarray, rows: np.ndarray | None = None,
               buckets: np.ndarray | None = None, word_z: np.ndarray | None = None,
               compiled: bool = True) -> np.ndarray:
        """Logits of the lines ``x``; the hashed words come as ``(line, bucket)`` pairs or,
        already summed, as ``word_z`` (:meth:`word_logits`). ``compiled``: with the kernel
        (``dedup._linear``) when it is built, which gives the same sums as the numpy below."""
        z: np.ndarray
        if compiled and _linear is not None and len(x):
            z = np.empty((len(x), len(self.bias)), dtype=np.float64)
            _linear.logits(np.ascontiguousarray(x, dtype=np.float64), self.mean, self.scale,
                           CLIP, self.dense, self.bias, z)
        else:
            xs = standardise(x, self.mean, self.scale)
            # Feature by feature rather than one matrix product: each line's sum is then taken
            # in the same order whatever the other lines of the batch (a BLAS product may block
            # rows differently for different batch sizes), so batching never changes a score.
            z = np.broadcast_to(self.bias, (len(x), len(self.bias))).copy()
            for j in range(xs.shape[1]):
                z += xs[:, j : j + 1] * self.dense[j]
        if word_z is not None:
            z += word_z
        elif rows is not None and buckets is not None and len(rows):
            z += self.word_logits(rows, buckets, len(x), compiled)
        return z

    def word_logits(self, rows: np.ndarray, buckets: np.ndarray, n: int,
                    compiled: bool = True) -> np.ndarray:
        """The hashed words' part of the logits of ``n`` lines (``(line, bucket)`` pairs): each
        line's sum runs over its own pairs in their order, whatever the other lines."""
        out = np.zeros((n, len(self.bias)), dtype=np.float64)
        if self._slot is not None and self._table is not None and len(rows):
            if compiled and _linear is not None:
                _linear.word_logits(np.ascontiguousarray(rows, dtype=np.int64),
                                    np.ascontiguousarray(buckets, dtype=np.int64),
                                    self._slot, self._table, out)
                return out
            at = self._slot[buckets]
            for c in range(out.shape[1]):  # bincount sums in float64 whatever the table's type
                out[:, c] = np.bincount(rows, weights=self._table[c][at], minlength=n)
        return out


def sparse_words(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(word_rows, word_weights)`` of a full ``(BUCKETS, classes)`` weight table."""
    used = np.flatnonzero(np.any(words != 0, axis=1)).astype(np.int32)
    return used, words[used]


def _shifter(n: int, bounds: np.ndarray | None) -> Any:
    """``shifted(values, offset)``: each line gets the value of the line ``offset`` away in
    its own document, NaN past the document's edge."""
    doc = line_docs(bounds) if bounds is not None else np.zeros(n, dtype=np.int64)

    def shifted(values: np.ndarray, offset: int) -> np.ndarray:
        res = np.full(values.shape, np.nan)
        if offset < 0 and n > -offset:
            res[-offset:] = values[:offset]
            res[-offset:][doc[-offset:] != doc[:offset]] = np.nan
        elif offset > 0 and n > offset:
            res[:-offset] = values[offset:]
            res[:-offset][doc[:-offset] != doc[offset:]] = np.nan
        return res

    return shifted


def context_features(p1: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Neighbour and own stage-1 probabilities for every line (see ``CONTEXT``); a missing
    neighbour (first or last lines of a document) is NaN, i.e. neutral. ``bounds``: the
    documents of a batch (see :func:`.features.batch_features`); default one document."""
    n = len(p1)
    bp = 1.0 - p1[:, 0]
    out = np.full((n, len(CONTEXT)), np.nan, dtype=np.float64)
    shifted = _shifter(n, bounds)

    col = 0
    for o in (-2, -1, 1, 2):
        out[:, col] = shifted(bp, o)
        col += 1
    for o in (-1, 1):
        out[:, col : col + len(CLASSES)] = shifted(p1, o)
        col += len(CLASSES)
    window = np.stack([shifted(bp, o) for o in (-3, -2, -1, 1, 2, 3)])
    present = ~np.isnan(window)
    total = np.where(present, window, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    out[:, col] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    col += 1
    out[:, col] = np.log(np.clip(p1[:, 0], 1e-6, 1.0))
    col += 1
    out[:, col : col + len(CLASSES)] = p1
    return out


def _long_median(df: np.ndarray, is_long: np.ndarray, bounds: np.ndarray,
                 loop: bool = False) -> np.ndarray:
    """Per row: the median of ``df`` over its document's long lines (at least 1.0), 1.0 in a
    document without one. All documents at once: each one's long values sorted, the mean of
    its two middle ones (one twice for an odd count), as ``np.median`` takes it; ``loop``:
    ``np.median`` document by document, the reference."""
    ref = np.ones(len(df), dtype=np.float64)
    if loop:
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            long_df = df[a:b][is_long[a:b]]
            if len(long_df):
                ref[a:b] = max(float(np.median(long_df)), 1.0)
        return ref
    docs = len(bounds) - 1
    doc = np.repeat(np.arange(docs), np.diff(bounds))
    owner, values = doc[is_long], df[is_long]
    ordered = values[np.lexsort((values, owner))]
    size = np.bincount(owner, minlength=docs)
    start = np.cumsum(size) - size
    has = size > 0
    lo = start[has] + (size[has] - 1) // 2
    hi = start[has] + size[has] // 2
    median = np.full(docs, 1.0)
    median[has] = np.maximum((ordered[lo] + ordered[hi]) / 2.0, 1.0)
    ref[:] = median[doc]
    return ref


def repetition_features(keys: Sequence[str], words: np.ndarray,
                        counts: LineCounts | None, bounds: np.ndarray | None = None
                        ) -> np.ndarray:
    """Corpus repetition of each line (see ``REPETITION``); without counts every feature is
    NaN (neutral) but ``has_counts``, which is 0. ``bounds``: as for :func:`context_features`."""
    n = len(keys)
    out = np.full((n, len(REPETITION)), np.nan, dtype=np.float64)
    out[:, -1] = 0.0
    if counts is None or not n:
        return out
    if bounds is None:
        bounds = np.array([0, n], dtype=np.int64)
    raw_df, raw_div = counts.estimates(keys)
    df = np.maximum(raw_df, 1).astype(np.float64)
    div = np.maximum(raw_div, 1).astype(np.float64)
    # The document's typical long-line frequency: its median over the document's long lines.
    ref = _long_median(df, words >= LONG_LINE, bounds)
    out[:, 0] = np.log(df)
    out[:, 1] = np.log(df / ref)
    out[:, 2] = np.log(div)
    out[:, 3] = np.minimum(div / df, 1.0)
    # Neighbours' diversity: a related-links block is diverse all through.
    shifted = _shifter(n, bounds)
    out[:, 4] = shifted(out[:, 2], -1)
    out[:, 5] = shifted(out[:, 2], 1)
    short = words <= 6  # interactions a linear model cannot form by itself
    out[:, 6] = short * out[:, 2]
    out[:, 7] = short * out[:, 1]
    out[:, 8] = (words >= LONG_LINE) * out[:, 2]
    out[:, 9] = 1.0
    return out


@dataclass(frozen=True, slots=True)
class Model:
    """The two stages and what they were trained on."""

    stage1: LinearStage
    stage2: LinearStage
    meta: dict[str, Any]

    def predict(self, feats: DocFeatures, keys: Sequence[str], words: np.ndarray,
                counts: LineCounts | None = None, bounds: np.ndarray | None = None,
                word_z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (lines x CLASSES) for one document (or the documents of a batch,
        see ``bounds``), and the stage-2 inputs (``word_z``: the words' stage-1 logits, when
        the features come without their bag of words)."""
        if not len(feats.dense):
            return np.zeros((0, len(CLASSES))), np.zeros((0, len(STAGE2)))
        p1 = softmax(self.stage1.logits(feats.dense, feats.rows, feats.buckets, word_z))
        x2 = np.hstack([feats.dense, context_features(p1, bounds),
                        repetition_features(keys, words, counts, bounds)])
        return softmax(self.stage2.logits(x2)), x2

    def deciding(self, x2: np.ndarray, classes: np.ndarray, k: int = 3
                 ) -> list[list[tuple[str, float]]]:
        """For each row of ``x2``, the ``k`` stage-2 features that pushed it most towards its
        class in ``classes`` (rather than content)."""
        if not len(x2):
            return []
        xs = standardise(x2, self.stage2.mean, self.stage2.scale)
        weights = self.stage2.dense[:, classes].T - self.stage2.dense[:, 0]
        contrib = xs * weights
        top = np.argsort(-contrib, axis=1)[:, :k]
        return [[(STAGE2[j], float(row[j])) for j in order if row[j] > 0]
                for row, order in zip(contrib, top, strict=True)]

    def save(self, path: Path) -> None:
        s1, s2 = self.stage1, self.stage2
        word_rows = (s1.word_rows if s1.word_rows is not None
                     else np.empty(0, dtype=np.int32))
        word_weights = (s1.word_weights if s1.word_weights is not None
                        else np.empty((0, len(CLASSES))))
        np.savez_compressed(
            path,
            s1_mean=s1.mean, s1_scale=s1.scale, s1_dense=s1.dense, s1_bias=s1.bias,
            s1_word_rows=word_rows.astype(np.int32),
            s1_word_weights=word_weights.astype(np.float32),
            s2_mean=s2.mean, s2_scale=s2.scale, s2_dense=s2.dense, s2_bias=s2.bias,
            meta=np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path) -> Model:
        try:
            data = np.load(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the boilerplate model {path}: {exc}",
                              hint="reinstall dedup, or retrain with `dedup train-classifier`"
                              ) from exc
        with data:
            meta = json.loads(bytes(data["meta"]).decode())
            if (tuple(meta.get("dense", ())) != DENSE or tuple(meta.get("classes", ())) != CLASSES
                    or tuple(meta.get("stage2", ())) != STAGE2):
                raise ConfigError(f"the boilerplate model {path} was trained on other features",
                                  hint="retrain it with `dedup train-classifier`")
            s1 = LinearStage(data["s1_mean"], data["s1_scale"], data["s1_dense"],
                             data["s1_bias"], data["s1_word_rows"], data["s1_word_weights"])
            s2 = LinearStage(data["s2_mean"], data["s2_scale"], data["s2_dense"],
                             data["s2_bias"])
        return cls(s1, s2, meta)


@lru_cache(maxsize=4)
def load_model(path: str = str(MODEL_PATH)) -> Model:
    """The model shipped with the package (cached; the file is read once per process)."""
    return Model.load(Path(path))


def threshold_for(cfg: BoilerplateConfig) -> float:
    return PRESETS[cfg.preset] if cfg.threshold is None else cfg.threshold


LINE_CACHE = 1 << 15  # lines whose own features are kept (up to about 50 MB)


@dataclass(frozen=True, slots=True)
class CachedLines:
    """What :meth:`LineCache.features` gives of a batch: the documents' features (the place
    columns filled, no bag of words), the words' logits under the cache's stage, each line's
    token count and whether it holds a word naming the consent topic (:func:`topic_lines`)."""

    feats: DocFeatures
    word_z: np.ndarray
    words: np.ndarray
    topic: np.ndarray


@dataclass(frozen=True, slots=True)
class _Block:
    """Lines' own values as arrays: ``rows`` (one float64 row a line: the dense columns, the
    long-line flag, the token count, the topic flag, the words' logits) and each line's
    content-word hashes (sorted), line ``j``'s being ``hashes[offsets[j]:offsets[j + 1]]``."""

    rows: np.ndarray
    offsets: np.ndarray
    hashes: np.ndarray


def _spread(src: np.ndarray, starts: np.ndarray, sizes: np.ndarray, out: np.ndarray,
            at: np.ndarray) -> None:
    """Copy ``src[starts[j]:starts[j] + sizes[j]]`` to ``out[at[j]:at[j] + sizes[j]]`` for
    every ``j`` (numpy, no loop)."""
    total = int(sizes.sum())
    if total:
        base = np.repeat(np.cumsum(sizes) - sizes, sizes)
        step = np.arange(total, dtype=np.int64) - base
        out[np.repeat(at, sizes) + step] = src[np.repeat(starts, sizes) + step]


class LineCache(BoundedCache):
    """The features of recently seen lines that do not depend on their page (every column but
    the place ones, the long-line flag, the token count, the topic flag and the content words)
    and their words' stage-1 logits, by text and key. Template lines and copied paragraphs
    recur across a dump, and those values are a function of the line alone, so a cached line
    scores exactly as a computed one: the place features and everything after stage 1 are
    still computed for every page. It holds at most ``capacity`` lines and starts afresh when
    full.

    The entries live in arrays, not an object a line: a table from ``(text, key)`` to a slot,
    one float64 row a slot and the slots' content-word hashes (uint64, sorted) in one buffer
    with each slot's start and size. A batch is gathered by fancy indexing, from the slots of
    the lines found and the rows computed for the others (each distinct line once). The last
    batch's result is kept too: the page model and its corpus-evidence model ask for the same
    batch one after the other."""

    def __init__(self, capacity: int = LINE_CACHE) -> None:
        super().__init__(capacity)

    def clear(self) -> None:
        self._slots: dict[tuple[str, str], int] = {}
        self._rows = np.empty((0, 0), dtype=np.float64)
        self._starts = np.empty(0, dtype=np.int64)
        self._sizes = np.empty(0, dtype=np.int64)
        self._hashes = np.empty(0, dtype=np.uint64)
        self._filled = 0  # of ``_hashes``
        self._stage: LinearStage | None = None
        self._last: tuple[list[tuple[str, str]], np.ndarray, CachedLines] | None = None

    def __len__(self) -> int:
        return len(self._slots)

    @staticmethod
    def _compute(paras: Sequence[Paragraph], todo: Sequence[int], stage: LinearStage) -> _Block:
        """The values of lines ``todo`` (see :class:`_Block`)."""
        sub = [paras[i] for i in todo]
        toks = [p.tokens for p in sub]
        lf = line_features([p.text for p in sub], toks, [p.key for p in sub])
        n = len(sub)
        word_z = stage.word_logits(lf.rows, lf.buckets, n)
        topic = lf.topic if lf.topic is not None else np.zeros(n, dtype=bool)
        words = np.fromiter(map(len, toks), dtype=np.float64, count=n)
        rows = np.hstack([lf.dense, lf.long_line[:, None], words[:, None], topic[:, None],
                          word_z], dtype=np.float64)
        order = np.lexsort((lf.word_hashes, lf.word_lines))
        offsets = np.searchsorted(lf.word_lines[order], np.arange(n + 1))
        return _Block(rows, offsets, lf.word_hashes[order])

    def _gathered(self, paras: Sequence[Paragraph], keys: list[tuple[str, str]],
                  stage: LinearStage) -> _Block:
        """The values of every line of ``paras`` (``keys`` their ``(text, key)`` pairs): from
        the slots of those found, computed for the others, which are then kept."""
        n = len(keys)
        if not self.consulted("lines", n):
            return self._compute(paras, range(n), stage)
        get = self._slots.get
        slot = np.array([get(k, -1) for k in keys], dtype=np.int64)
        miss = np.flatnonzero(slot < 0)
        self.tally("lines", n, n - len(miss))
        first: dict[tuple[str, str], int] = {}  # each missing line's first position
        for i in miss.tolist():
            first.setdefault(keys[i], i)
        block = self._compute(paras, list(first.values()), stage)
        width = block.rows.shape[1]
        where = dict(zip(first, range(len(first)), strict=True))
        j = np.array([where[keys[i]] for i in miss.tolist()], dtype=np.int64)
        hit = np.flatnonzero(slot >= 0)
        at = slot[hit]
        rows = np.empty((n, width), dtype=np.float64)
        rows[miss] = block.rows[j]
        sizes = np.empty(n, dtype=np.int64)
        block_sizes = np.diff(block.offsets)
        sizes[miss] = block_sizes[j]
        if len(hit):
            rows[hit] = self._rows[at]
            sizes[hit] = self._sizes[at]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        hashes = np.empty(int(offsets[-1]), dtype=np.uint64)
        _spread(block.hashes, block.offsets[j], sizes[miss], hashes, offsets[miss])
        if len(hit):
            _spread(self._hashes, self._starts[at], sizes[hit], hashes, offsets[hit])
        keep = [m for m, key in enumerate(first) if len(key[0]) <= MAX_KEY_CHARS]
        if keep:
            self._keep([*first], keep, block)
        return _Block(rows, offsets, hashes)

    def _keep(self, keys: list[tuple[str, str]], keep: list[int], block: _Block) -> None:
        """Give the lines ``keep`` of ``block`` (named ``keys``) slots of their own; a cache
        that would overflow starts afresh, and what does not fit even then is left out."""
        if len(self._slots) + len(keep) > self.capacity:
            self._slots.clear()
            self._filled = 0
        keep = keep[: self.capacity - len(self._slots)]
        if not keep:
            return
        idx = np.asarray(keep, dtype=np.int64)
        first = len(self._slots)
        end = first + len(idx)
        width = block.rows.shape[1]
        if self._rows.shape[1] != width:  # a new stage: the table is empty
            self._rows = np.empty((0, width), dtype=np.float64)
        if len(self._rows) < end:
            grown = np.empty((min(self.capacity, max(end, 2 * len(self._rows), 256)), width),
                             dtype=np.float64)
            grown[:first] = self._rows[:first]
            self._rows = grown
            self._starts = np.resize(self._starts, len(grown))
            self._sizes = np.resize(self._sizes, len(grown))
        self._rows[first:end] = block.rows[idx]
        sizes = block.offsets[idx + 1] - block.offsets[idx]
        need = self._filled + int(sizes.sum())
        if len(self._hashes) < need:
            grown_h = np.empty(max(need, 2 * len(self._hashes), 4096), dtype=np.uint64)
            grown_h[: self._filled] = self._hashes[: self._filled]
            self._hashes = grown_h
        starts = self._filled + np.cumsum(sizes) - sizes
        _spread(block.hashes, block.offsets[idx], sizes, self._hashes, starts)
        self._starts[first:end] = starts
        self._sizes[first:end] = sizes
        self._filled = need
        self._slots.update(zip([keys[m] for m in keep], range(first, end), strict=True))

    def features(self, paras: Sequence[Paragraph], bounds: np.ndarray, stage: LinearStage,
                 keys: list[tuple[str, str]] | None = None) -> CachedLines:
        """The features of ``paras`` (the documents ``bounds``, see
        :func:`.features.batch_features`, without the bag of words), their words' logits under
        ``stage``, token counts and topic flags (read-only arrays). ``keys``: their
        ``(text, key)`` pairs, when the caller has them."""
        if stage is not self._stage:
            self.clear()
            self._stage = stage
        if keys is None:
            keys = list(map(_TEXT_KEY, paras))
        last = self._last
        if last is not None and last[0] == keys and np.array_equal(last[1], bounds):
            return last[2]
        n = len(keys)
        d = len(DENSE)
        if not n:
            return CachedLines(place_features(line_features([], []), bounds),
                               np.zeros((0, len(stage.bias))), np.zeros(0, dtype=np.int64),
                               np.zeros(0, dtype=bool))
        block = self._gathered(paras, keys, stage)
        rows = block.rows
        dense = rows[:, :d].copy()
        long_line = rows[:, d] != 0
        words = rows[:, d + 1].astype(np.int64)
        topic = rows[:, d + 2] != 0
        word_z = rows[:, d + 3:]
        word_lines = np.repeat(np.arange(n), np.diff(block.offsets))
        empty = np.empty(0, np.int64)
        lf = LineFeatures(dense, long_line, word_lines, block.hashes, empty, empty)
        result = CachedLines(place_features(lf, bounds), word_z, words, topic)
        for array in (result.feats.dense, word_z, words, topic):
            array.flags.writeable = False  # shared by the callers of the same batch
        self._last = (keys, bounds.copy(), result)
        return result


_TEXT_KEY = attrgetter("text", "key")
_TEXT = attrgetter("text")
_KEY = attrgetter("key")
_LOG_CHARS = DENSE.index("log_chars")


@dataclass(frozen=True, slots=True)
class LineBatch:
    """A batch's paragraphs with what both classifiers read of them, gathered once: the
    documents' ``bounds``, the line features and words' logits (:meth:`LineCache.features`),
    each paragraph's text, key and token count, which ones are lines (not blank) and each
    document's :func:`.classifier.topic_lines`."""

    paras: list[Paragraph]
    bounds: np.ndarray
    feats: DocFeatures
    word_z: np.ndarray
    texts: list[str]
    keys: list[str]
    words: np.ndarray
    lines: np.ndarray
    topical: list[list[int]]


def line_batch(docs: Sequence[Document], cache: LineCache, stage: LinearStage) -> LineBatch:
    """The :class:`LineBatch` of ``docs`` (segmented and normalised), its features from
    ``cache`` under ``stage``."""
    paras = [p for doc in docs for p in doc.paragraphs]
    bounds = doc_bounds([len(doc.paragraphs) for doc in docs])
    pairs = list(map(_TEXT_KEY, paras))
    got = cache.features(paras, bounds, stage, pairs)
    texts = list(map(_TEXT, paras))
    keys = list(map(_KEY, paras))
    lines = got.feats.dense[:, _LOG_CHARS] > 0  # log1p of the length: a line, not blank
    topical = np.flatnonzero(got.topic)  # the batch's topic lines, then each document's
    cut = np.searchsorted(topical, bounds).tolist()
    per_doc = [(topical[cut[d]:cut[d + 1]] - a).tolist()
               for d, a in enumerate(bounds[:-1].tolist())]
    return LineBatch(paras, bounds, got.feats, got.word_z, texts, keys, got.words, lines,
                     per_doc)


class LearnedClassifier:
    """The learned classifier as a pipeline :class:`~dedup.boilerplate.Classifier`.

    ``counts`` (corpus line frequencies) are optional; without them the model uses text and
    context alone. A long sentence-like line is only dropped at ``guard`` probability or above.
    """

    def __init__(self, cfg: BoilerplateConfig = BoilerplateConfig(), model: Model | None = None,
                 counts: LineCounts | None = None) -> None:
        self.cfg = cfg
        self.model = model or load_model(cfg.model or str(MODEL_PATH))
        self.counts = counts
        self.threshold = threshold_for(cfg)
        self.lines = LineCache()  # recurring lines' own features, computed once
        # The stage the cache sums the words under: ``model.stage1`` or one with more columns
        # after its own (a cache shared with the page model, see :meth:`.Lexical.joint`).
        self.cache_stage: LinearStage = self.model.stage1

    def probabilities(self, doc: Document) -> tuple[np.ndarray, DocFeatures, np.ndarray]:
        """Class probabilities per line, the line features and the stage-2 inputs."""
        paras = doc.paragraphs
        bounds = doc_bounds([len(paras)])
        toks = [p.tokens for p in paras]
        feats = batch_features([p.text for p in paras], toks, bounds)
        words = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        probs, x2 = self.model.predict(feats, [p.key for p in paras], words, self.counts,
                                       bounds)
        return probs, feats, x2

    def _batch_probabilities(self, docs: Sequence[Document], batch: LineBatch | None = None
                             ) -> tuple[np.ndarray, DocFeatures, np.ndarray, np.ndarray]:
        batch = batch or line_batch(docs, self.lines, self.cache_stage)
        word_z = batch.word_z[:, : len(self.model.stage1.bias)]
        probs, x2 = self.model.predict(batch.feats, batch.keys, batch.words, self.counts,
                                       batch.bounds, word_z)
        return probs, batch.feats, x2, batch.bounds

    def classify(self, doc: Document) -> list[Verdict | None]:
        return self.classify_batch([doc])[0]

    def classify_batch(self, docs: Sequence[Document], wanted: np.ndarray | None = None,
                       batch: LineBatch | None = None) -> list[list[Verdict | None]]:
        """:meth:`classify` for several documents, their lines scored together (the same
        verdicts as one by one, with less numpy overhead per document).

        ``wanted``: one flag per paragraph of the batch, for a caller that has decided the
        other lines already (the page model, adding this model's drops): only the flagged lines
        get their verdicts, the others ``None`` (the cookie notices among them still count
        where a consent dialog grows from). ``batch``: the :func:`line_batch` of ``docs``
        under :attr:`cache_stage`, when the caller has it."""
        if not any(doc.paragraphs for doc in docs):
            return [[] for _ in docs]
        batch = batch or line_batch(docs, self.lines, self.cache_stage)
        probs, feats, x2, bounds = self._batch_probabilities(docs, batch)
        decision = decide(probs, feats.dense, self.threshold, self.cfg)
        bp = 1.0 - probs[:, 0]
        lines = batch.lines
        candidate = decision.drop & lines
        # A page is not emptied on weak evidence: when every line would go, the lines below
        # the guard probability stay (a page of only a cookie notice still goes).
        doc_of = line_docs(bounds)
        kept_lines = np.bincount(doc_of, weights=lines & ~candidate, minlength=len(docs))
        any_lines = np.bincount(doc_of, weights=lines, minlength=len(docs))
        emptied = ((kept_lines == 0) & (any_lines > 0))[doc_of]
        spared = emptied & (bp < self.cfg.guard) & ~decision.by_rule
        drop = decision.drop & ~spared & lines
        cookie = drop & (decision.cls == CLASSES.index("cookie"))  # what _verdict calls cookie
        shown = drop if wanted is None else drop & wanted
        dropped = np.flatnonzero(shown & ~decision.by_rule)
        why = dict(zip(dropped.tolist(),
                       self.model.deciding(x2[dropped], decision.cls[dropped]), strict=True))
        at = np.flatnonzero(shown).tolist()
        cut = np.searchsorted(at, bounds).tolist()
        out: list[list[Verdict | None]] = []
        for d, doc in enumerate(docs):
            a = int(bounds[d])
            verdicts: list[Verdict | None] = [None] * len(doc.paragraphs)
            for i in at[cut[d]:cut[d + 1]]:
                verdicts[i - a] = self._verdict(i, drop, decision, probs, bp, why)
            for i, how in consent_block(doc, cookie[a:a + len(verdicts)].tolist(),
                                        topical=batch.topical[d]):
                if verdicts[i] is None and (wanted is None or wanted[a + i]):
                    verdicts[i] = block_verdict(how)
            out.append(verdicts)
        return out

    def _verdict(self, i: int, drop: np.ndarray, decision: Decision, probs: np.ndarray,
                 bp: np.ndarray, why: dict[int, list[tuple[str, float]]]) -> Verdict | None:
        if not drop[i]:
            return None
        cls = int(decision.cls[i])
        if decision.by_rule[i]:
            return Verdict(DROP, "boilerplate:cookie", round(float(decision.rule[i]), 4),
                           detail=f"cookie rules {decision.rule[i]:.2f} (model "
                                  f"P(boilerplate)={bp[i]:.2f})")
        features = ", ".join(f"{name} +{value:.1f}" for name, value in why[i])
        detail = f"P({CLASSES[cls]})={probs[i, cls]:.2f}; deciding: {features or 'bias'}"
        if decision.guarded[i]:
            detail += f"; long sentence-like line, guard {self.cfg.guard:.2f}"
        return Verdict(DROP, f"boilerplate:{CLASSES[cls]}", round(float(bp[i]), 4),
                       detail=detail)


RULE_OVERRIDE = 0.9  # cookie-rule score at which a line goes whatever the model says
RULE_OVERRIDE_SENTENCE = 0.97  # the same for a sentence-like line: several strong cues at once


@dataclass(frozen=True, slots=True)
class Decision:
    """Per line: drop or not, the class, whether the rules decided, whether the guard applied."""

    drop: np.ndarray
    cls: np.ndarray
    by_rule: np.ndarray
    rule: np.ndarray
    guarded: np.ndarray


def decide(probs: np.ndarray, dense: np.ndarray, threshold: float,
           cfg: BoilerplateConfig) -> Decision:
    """The drop decision from the model's probabilities and the line features.

    A line goes when P(boilerplate) reaches ``threshold``; a long sentence-like line needs
    ``cfg.guard`` at least; the cookie rules, being high-precision, also drop a line on their
    own at ``RULE_OVERRIDE`` (``RULE_OVERRIDE_SENTENCE`` for a sentence-like line); cue phrases
    in quotation marks do not count.
    """
    col = {name: i for i, name in enumerate(DENSE)}
    bp = 1.0 - probs[:, 0]
    sentence_like = ((dense[:, col["log_words"]] >= np.log1p(cfg.guard_words))
                     & (dense[:, col["ends_terminal"]] > 0)
                     & (dense[:, col["stopword_share"]] >= 0.2))
    needed = np.where(sentence_like, np.maximum(threshold, cfg.guard), threshold)
    by_model = bp >= needed
    # The rules decide alone only on lines that are not sentences and whose cue phrases are
    # not inside quotation marks (journalism quotes button labels; banners offer them).
    rule = dense[:, col["cookie_rule_unquoted"]]
    by_rule = ((rule >= RULE_OVERRIDE) & ~sentence_like | (rule >= RULE_OVERRIDE_SENTENCE)
               ) & ~by_model
    cls = 1 + np.argmax(probs[:, 1:], axis=1)
    cls = np.where(by_rule, CLASSES.index("cookie"), cls)
    return Decision(by_model | by_rule, cls, by_rule, rule, sentence_like & by_model)
