"""What a line's words say on real pages: a linear model over the hashed words, trained on them.

The words model of :mod:`.model` learned its classes from the generated corpus. This one is
trained on real pages with human gold (``dedup train-classifier --real-pages``): "customer
reviews", "related", "posted by", a date line, a price. It sees the same ``(line, bucket)``
pairs (unigrams, in-line bigrams, 5-letter prefixes hashed into :data:`.features.BUCKETS`), so
the line cache computes both in one pass (:meth:`Lexical.joint`). Its score is the log-odds of
content, the words' sum scaled by ``1 / sqrt(2 * words - 1)`` (about the number of pairs) so a
long line is not judged on its length. The page model reads it with its neighbours'
(``LEXICAL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .features import BUCKETS, DENSE
from .model import LinearStage
from .structure import Segmented

_LOG_WORDS = DENSE.index("log_words")

LEXICAL = ("lex", "lex_prev", "lex_next", "lex_w3", "lex_w10", "lex_doc")


def pair_scale(dense: np.ndarray) -> np.ndarray:
    """Per line: ``1 / sqrt(2 * words - 1)`` (at most 1), from its ``DENSE`` columns."""
    words = np.rint(np.expm1(dense[:, _LOG_WORDS]))
    out: np.ndarray = 1.0 / np.sqrt(np.maximum(2.0 * words - 1.0, 1.0))
    return out


@dataclass(frozen=True, slots=True)
class Lexical:
    """Weights of the buckets that have one (``rows``, sorted) and the bias."""

    rows: np.ndarray
    weights: np.ndarray
    bias: float

    def __post_init__(self) -> None:
        rows, weights = self.rows, self.weights
        if (rows.ndim != 1 or weights.shape != rows.shape or not np.issubdtype(rows.dtype,
                                                                              np.integer)
                or (len(rows) and (rows[0] < 0 or rows[-1] >= BUCKETS
                                   or np.any(np.diff(rows) <= 0)))
                or not np.all(np.isfinite(weights)) or not np.isfinite(self.bias)):
            raise ValueError("lexical weights: rows must be sorted distinct buckets, one "
                             "finite weight each")

    def joint(self, stage: LinearStage) -> LinearStage:
        """``stage`` with one more class column holding these word weights (dense weights and
        bias 0): the line cache sums both at once. The first columns' sums are exactly
        ``stage``'s (the added buckets add 0.0 to them)."""
        if stage.word_rows is None or stage.word_weights is None:
            raise ValueError("the words model has no word weights")
        # the union of two sets of buckets, sorted: a mask over the buckets (np.union1d sorts
        # or hashes 290,000 values, 0.09-0.13 s of every process's start; this takes 2 ms)
        seen = np.zeros(BUCKETS, dtype=bool)
        seen[stage.word_rows] = True
        seen[self.rows] = True
        rows = np.flatnonzero(seen).astype(np.result_type(stage.word_rows, self.rows))
        k = len(stage.bias)
        weights = np.zeros((len(rows), k + 1), dtype=stage.word_weights.dtype)
        weights[np.searchsorted(rows, stage.word_rows), :k] = stage.word_weights
        weights[np.searchsorted(rows, self.rows), k] = self.weights
        return LinearStage(stage.mean, stage.scale,
                           np.hstack([stage.dense, np.zeros((len(stage.dense), 1))]),
                           np.append(stage.bias, 0.0), rows, weights)

    def score(self, word_sum: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """Log-odds of content of lines whose words' weights sum to ``word_sum``."""
        out: np.ndarray = word_sum * pair_scale(dense) + self.bias
        return out

    def arrays(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_rows": self.rows, f"{prefix}_weights": self.weights,
                f"{prefix}_bias": np.array([self.bias])}

    @classmethod
    def from_arrays(cls, data: Any, prefix: str) -> Lexical:
        bias = np.asarray(data[f"{prefix}_bias"], dtype=np.float64)
        if bias.shape != (1,):
            raise ValueError("lexical bias: one value expected")
        return cls(np.asarray(data[f"{prefix}_rows"]), np.asarray(data[f"{prefix}_weights"]),
                   float(bias[0]))


def lexical_columns(score: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The ``LEXICAL`` columns: each line's score, its neighbours', window and page means."""
    seg = Segmented(bounds)
    if not seg.n:
        return np.zeros((0, len(LEXICAL)))
    out: np.ndarray = np.column_stack([
        score, seg.shift(score, -1), seg.shift(score, 1),
        seg.window_mean(score, 3, 3, self_too=False),
        seg.window_mean(score, 10, 10, self_too=False),
        seg.doc_sum(score) / np.maximum(seg.hi - seg.lo, 1)])
    return out
