"""Gradient-boosted tree ensembles at inference time: flat node arrays, no training library.

Training uses scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (the
``train`` extra); :func:`from_sklearn` copies its trees into flat arrays that ship in the
package's model file. :meth:`Ensemble.raw` evaluates them with the compiled kernel
(``dedup._trees``, built with the package) or, where it is not built, with the numpy reference
below, which gives the same sums in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_kernel: Any
try:  # the compiled kernel, built by the package's own build
    from .. import _trees as _kernel  # type: ignore[attr-defined,no-redef]
except ImportError:  # pragma: no cover - a source tree used without building
    _kernel = None


@dataclass(frozen=True, slots=True)
class Ensemble:
    """A binary tree ensemble: ``raw(x) = base + sum over trees of the leaf value``.

    Node arrays of all trees together; ``roots[t]`` is tree ``t``'s first node; a leaf has
    ``feature == -1``. A row goes left when ``x <= threshold``, or when ``x`` is NaN and
    ``missing_left`` is set.
    """

    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    missing_left: np.ndarray  # uint8
    value: np.ndarray  # float64
    roots: np.ndarray  # int32
    base: float
    columns: int

    def raw(self, x: np.ndarray, compiled: bool = True) -> np.ndarray:
        """The raw score (log-odds) of every row of ``x`` (rows x ``columns``)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.columns:
            raise ValueError(f"expected rows of {self.columns} features, got {x.shape}")
        out = np.empty(len(x), dtype=np.float64)
        if not len(x):
            return out
        if compiled and _kernel is not None:
            _kernel.predict(x, self.columns, self.feature, self.threshold, self.left,
                            self.right, self.missing_left, self.value, self.roots, self.base,
                            out)
            return out
        return self._raw_numpy(x)

    def _raw_numpy(self, x: np.ndarray) -> np.ndarray:
        """The reference: every row walks each tree, level by level, all rows at once."""
        out = np.full(len(x), self.base, dtype=np.float64)
        rows = np.arange(len(x))
        leaf = self.feature < 0
        feat = np.where(leaf, 0, self.feature)
        for root in self.roots.tolist():
            node = np.full(len(x), root, dtype=np.int64)
            while True:
                open_ = ~leaf[node]
                if not open_.any():
                    break
                v = x[rows, feat[node]]
                go_left = np.where(np.isnan(v), self.missing_left[node] != 0,
                                   v <= self.threshold[node])
                step = np.where(go_left, self.left[node], self.right[node])
                node = np.where(open_, step, node)
            out += self.value[node]
        return out

    def proba(self, x: np.ndarray) -> np.ndarray:
        """P(class 1) of every row."""
        out: np.ndarray = 1.0 / (1.0 + np.exp(-self.raw(x)))
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The ensemble as named arrays (for ``np.savez``)."""
        return {f"{prefix}_feature": self.feature, f"{prefix}_threshold": self.threshold,
                f"{prefix}_left": self.left, f"{prefix}_right": self.right,
                f"{prefix}_missing_left": self.missing_left, f"{prefix}_value": self.value,
                f"{prefix}_roots": self.roots,
                f"{prefix}_base": np.array([self.base, self.columns], dtype=np.float64)}

    @classmethod
    def from_arrays(cls, data: Any, prefix: str) -> Ensemble:
        """The ensemble saved by :meth:`arrays`, checked for consistency."""
        base, columns = (float(v) for v in data[f"{prefix}_base"])
        ens = cls(np.ascontiguousarray(data[f"{prefix}_feature"], dtype=np.int32),
                  np.ascontiguousarray(data[f"{prefix}_threshold"], dtype=np.float64),
                  np.ascontiguousarray(data[f"{prefix}_left"], dtype=np.int32),
                  np.ascontiguousarray(data[f"{prefix}_right"], dtype=np.int32),
                  np.ascontiguousarray(data[f"{prefix}_missing_left"], dtype=np.uint8),
                  np.ascontiguousarray(data[f"{prefix}_value"], dtype=np.float64),
                  np.ascontiguousarray(data[f"{prefix}_roots"], dtype=np.int32),
                  base, int(columns))
        n = len(ens.feature)
        inner = ens.feature >= 0
        if not (len(ens.threshold) == len(ens.left) == len(ens.right) == len(ens.value)
                == len(ens.missing_left) == n) or not len(ens.roots):
            raise ValueError("tree arrays of inconsistent sizes")
        if (np.any(ens.feature[inner] >= ens.columns) or np.any(ens.roots < 0)
                or np.any(ens.roots >= n)
                or np.any((ens.left[inner] <= np.flatnonzero(inner)) | (ens.left[inner] >= n))
                or np.any((ens.right[inner] <= np.flatnonzero(inner))
                          | (ens.right[inner] >= n))):
            raise ValueError("tree arrays point outside themselves")
        return ens


def from_sklearn(model: Any, columns: int) -> Ensemble:
    """The trees of a fitted binary ``HistGradientBoostingClassifier`` as an :class:`Ensemble`
    (numerical features only)."""
    feature, threshold, left, right, missing, value, roots = [], [], [], [], [], [], []
    offset = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        roots.append(offset)
        leaf = nodes["is_leaf"].astype(bool)
        feature.append(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int32))
        threshold.append(nodes["num_threshold"].astype(np.float64))
        left.append(np.where(leaf, -1, nodes["left"] + offset).astype(np.int32))
        right.append(np.where(leaf, -1, nodes["right"] + offset).astype(np.int32))
        missing.append(nodes["missing_go_to_left"].astype(np.uint8))
        value.append(nodes["value"].astype(np.float64))
        offset += len(nodes)
    base = float(np.ravel(model._baseline_prediction)[0])
    return Ensemble(np.concatenate(feature), np.concatenate(threshold), np.concatenate(left),
                    np.concatenate(right), np.concatenate(missing), np.concatenate(value),
                    np.asarray(roots, dtype=np.int32), base, columns)
