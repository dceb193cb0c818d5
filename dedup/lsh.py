"""LSH banding: MinHash signatures -> one 64-bit key per band, computed for a whole batch.

Two paragraphs become candidates when they share the key of at least one band (``bands`` bands of
``rows`` rows each). Bands and rows come from the verified threshold through datasketch's own
optimiser (``MinHashLSH``'s parameters, reproduced by :func:`optimal_params` without scipy),
tuned for a lower threshold and weighted to recall, because every candidate is verified
afterwards: a missed pair costs more than a wrong candidate. Keys are plain ``uint64`` values,
so an index of them is compact (no Python object per band).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import numpy as np

from .arrays import unique_ints
from .config import LSHConfig
from .shingle import fmix64

_pairs: Any
_minhash: Any
try:  # the compiled candidate pairs and band keys, built by the package's own build
    _pairs = importlib.import_module("dedup._pairs")
    _minhash = importlib.import_module("dedup._minhash")
except ImportError:  # pragma: no cover - a source tree without the build: numpy below
    _pairs = _minhash = None

LSH_SLACK = 0.15
LSH_WEIGHTS = (0.2, 0.8)
_MULT = np.uint64(0x9E3779B97F4A7C15)
#: scipy's ``quad`` default tolerances (epsabs = epsrel = 1.49e-8), with which datasketch
#: integrates: its values may be off by that much, so an optimum closer than twice it (in
#: weighted error) to the runner-up is left to datasketch itself.
_QUAD_TOL = 1.49e-8
_MIN_NODES = 8


@lru_cache(maxsize=32)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on ``[-1, 1]``: exact for
    polynomials of degree ``2n - 1`` or less. Newton's method on the Legendre polynomial
    ``P_n`` (three-term recurrence) from Tricomi's first guesses; the nodes agree with
    ``numpy.polynomial.legendre.leggauss`` to a unit in the last place.

    >>> x, w = gauss_legendre(3)
    >>> [round(v, 12) for v in x.tolist()], round(float(w.sum()), 12)
    ([0.774596669241, 0.0, -0.774596669241], 2.0)
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"gauss_legendre: n must be a positive int, got {n!r}")
    k = np.arange(1, n + 1, dtype=np.float64)
    x = np.cos(np.pi * (k - 0.25) / (n + 0.5))
    for _ in range(32):  # quadratic convergence: 3-5 steps from these guesses
        p, dp = _legendre(n, x)
        dx = p / dp
        x = x - dx
        if float(np.max(np.abs(dx))) <= 1e-15:
            break
    p, dp = _legendre(n, x)
    w = 2.0 / ((1.0 - x * x) * dp * dp)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _legendre(n: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P_n(x)`` and ``P_n'(x)`` by the three-term recurrence."""
    p0, p1 = np.ones_like(x), x.copy()
    for j in range(2, n + 1):
        p0, p1 = p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j
    if n == 1:
        p0 = np.ones_like(x)
    return p1, n * (x * p1 - p0) / (x * x - 1.0)


def lsh_errors(threshold: float, num_perm: int, false_positive_weight: float,
               false_negative_weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(b, r)`` with ``b * r <= num_perm`` in datasketch's search order (``b`` then
    ``r`` increasing) and its weighted error: the false-positive area
    ``int_0^t 1 - (1 - s^r)^b ds`` and the false-negative area ``int_t^1 (1 - s^r)^b ds``.

    Both integrands are polynomials in ``s`` of degree ``b * r``, so a Gauss-Legendre rule of
    ``n >= (b*r + 1) / 2`` points integrates them exactly (up to rounding, about 1e-15): each
    pair gets the smallest power of two at least that (and at least 8) as ``n``.
    """
    b = np.concatenate([np.full(num_perm // k, k, dtype=np.int64) for k in range(1, num_perm + 1)])
    r = np.concatenate([np.arange(1, num_perm // k + 1, dtype=np.int64)
                        for k in range(1, num_perm + 1)])
    need = (b * r) // 2 + 1
    nodes = np.maximum(_MIN_NODES, 1 << np.ceil(np.log2(need)).astype(np.int64))
    fp = np.empty(len(b), dtype=np.float64)
    fn = np.empty(len(b), dtype=np.float64)
    t = float(threshold)
    for n in sorted(set(nodes.tolist())):
        at = np.flatnonzero(nodes == n)
        x, w = gauss_legendre(int(n))
        bb = b[at, None].astype(np.float64)
        rr = r[at, None].astype(np.float64)
        s = t / 2 * (x + 1)
        fp[at] = ((1.0 - (1.0 - s[None, :] ** rr) ** bb) * (w * (t / 2))).sum(axis=1)
        s = (1 - t) / 2 * (x + 1) + t
        fn[at] = (((1.0 - s[None, :] ** rr) ** bb) * (w * ((1 - t) / 2))).sum(axis=1)
    return b, r, fp * false_positive_weight + fn * false_negative_weight


def optimal_params(threshold: float, num_perm: int,
                   weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """``(bands, rows)`` minimising the weighted false-positive and false-negative areas:
    ``MinHashLSH(threshold, num_perm, weights)``'s ``(b, r)``, without importing scipy.

    datasketch integrates with scipy's adaptive ``quad`` and keeps the first strict minimum
    in its search order; here the same integrals are exact (:func:`lsh_errors`) and
    ``argmin`` keeps the first minimum in the same order. Where the runner-up is within
    ``quad``'s tolerance of the optimum (exact ties such as ``num_perm=3, threshold=0.5``, or
    about 1 in 1,500 settings), only datasketch's own rounding can say which it picks, so
    datasketch is asked (and imports scipy) for those settings alone.

    >>> optimal_params(0.55, 128, (0.2, 0.8))
    (25, 5)
    """
    wfp, wfn = (float(w) for w in weights)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0.0, 1.0], got {threshold!r}")
    if isinstance(num_perm, bool) or not isinstance(num_perm, (int, np.integer)) or num_perm < 2:
        raise ValueError(f"num_perm must be an int of at least 2, got {num_perm!r}")
    if not (0.0 <= wfp <= 1.0 and 0.0 <= wfn <= 1.0):
        raise ValueError(f"weights must be in [0.0, 1.0], got {weights!r}")
    b, r, error = lsh_errors(threshold, int(num_perm), wfp, wfn)
    best = int(np.argmin(error))
    close = int(np.count_nonzero(error <= error[best] + 2 * _QUAD_TOL * (wfp + wfn)))
    if close > 1:
        from datasketch.lsh import _optimal_param  # scipy: only for near-ties

        chosen: tuple[int, int] = _optimal_param(threshold, int(num_perm), wfp, wfn)
        return int(chosen[0]), int(chosen[1])
    return int(b[best]), int(r[best])


@lru_cache(maxsize=16)
def lsh_params(cfg: LSHConfig) -> tuple[int, int]:
    """``(bands, rows)`` for ``cfg``: its own when set, else datasketch's optimum
    (:func:`optimal_params`).

    >>> lsh_params(LSHConfig(num_perm=128, threshold=0.7))
    (25, 5)
    """
    if cfg.bands:
        return cfg.bands, cfg.rows
    return optimal_params(max(0.05, cfg.threshold - LSH_SLACK), cfg.num_perm, LSH_WEIGHTS)


def band_keys(signatures: np.ndarray, bands: int, rows: int, compiled: bool = True
              ) -> np.ndarray:
    """One uint64 key per (signature, band): shape ``(n, bands)``.

    Each key mixes the band's ``rows`` signature values and the band number, so keys of
    different bands never collide by construction of the same values. ``compiled``: uint32
    signatures by the kernel (``dedup._minhash.band_keys``), the same keys as the numpy below.
    """
    n = signatures.shape[0]
    if (compiled and _minhash is not None and signatures.dtype == np.uint32
            and signatures.ndim == 2 and n):
        out = np.empty((n, bands), dtype=np.uint64)
        _minhash.band_keys(np.ascontiguousarray(signatures), signatures.shape[1], bands, rows,
                           out)
        return out
    view = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        h: np.ndarray = np.tile(np.arange(1, bands + 1, dtype=np.uint64), (n, 1))
        for j in range(rows):
            h = fmix64(h * _MULT + view[:, :, j])
    return h


def candidate_pairs(keys: np.ndarray, groups: np.ndarray | None = None, compiled: bool = True
                    ) -> dict[int, set[int]]:
    """For every row of ``keys`` (shape ``(n, bands)``), the earlier rows sharing a band key.

    ``groups`` (one non-decreasing number per row, e.g. the document of each paragraph of a
    batch) keeps pairs inside a group: the rows of several documents are paired in one sort,
    each only with its own document's. One sort of all keys finds the equal ones; only rows
    that have candidates appear. ``compiled``: the rows grouped by (key, group) in a hash table
    (``dedup._pairs.doc_pairs``) when it is built, the same pairs without the sort.

    >>> k = np.array([[1, 2], [3, 4], [5, 2], [1, 9]], dtype=np.uint64)
    >>> sorted(candidate_pairs(k).items())
    [(2, {0}), (3, {0})]
    >>> sorted(candidate_pairs(k, np.array([0, 0, 1, 1])).items())
    []
    """
    return _pair_dict(_packed_pairs(keys, groups, compiled))


def candidate_pair_arrays(keys: np.ndarray, groups: np.ndarray | None = None,
                          compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`candidate_pairs` as two int64 arrays ``(later, earlier)``, one entry per pair,
    sorted by ``later`` then ``earlier``.

    >>> k = np.array([[1, 2], [3, 4], [5, 2], [1, 9]], dtype=np.uint64)
    >>> [a.tolist() for a in candidate_pair_arrays(k)]
    [[2, 3], [0, 0]]
    """
    found = _packed_pairs(keys, groups, compiled)
    return found >> 32, found & 0xFFFFFFFF


def _packed_pairs(keys: np.ndarray, groups: np.ndarray | None, compiled: bool) -> np.ndarray:
    """The distinct candidate pairs ``later << 32 | earlier`` (int64), sorted."""
    n, bands = keys.shape
    if n < 2:
        return np.empty(0, dtype=np.int64)
    if compiled and _pairs is not None and n < 1 << 31:
        raw = _pairs.doc_pairs(np.ascontiguousarray(keys, dtype=np.uint64), np.ascontiguousarray(
            np.zeros(n, dtype=np.int64) if groups is None else groups, dtype=np.int64))
        packed: np.ndarray = unique_ints(np.frombuffer(raw, dtype=np.uint64)).astype(np.int64)
        return packed
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    rows = order // bands
    # Equal keys sit together, their rows in increasing order (a stable sort), so each group's
    # rows of one key are contiguous too.
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    if groups is not None:
        owner = groups[rows]
        new |= np.r_[True, owner[1:] != owner[:-1]]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, len(flat)])
    # Every pair of entries inside a run of equal keys, a run size at a time (sizes are few: a
    # paragraph repeated k times makes runs of k).
    pairs: list[np.ndarray] = []
    for size in np.unique(sizes[sizes >= 2]).tolist():
        members = rows[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        pairs.append((hi.astype(np.int64) << 32) | lo.astype(np.int64))
    if not pairs:
        return np.empty(0, dtype=np.int64)
    packed = np.unique(np.concatenate(pairs))
    return packed


def _pair_dict(found: np.ndarray) -> dict[int, set[int]]:
    """``{later: {earlier, ...}}`` of the sorted distinct pairs ``later << 32 | earlier``."""
    out: dict[int, set[int]] = {}
    for hi, lo in zip((found >> 32).tolist(), (found & 0xFFFFFFFF).tolist(), strict=True):
        out.setdefault(hi, set()).add(lo)
    return out


def crowded_groups(keys: np.ndarray, groups: np.ndarray, limit: int) -> np.ndarray:
    """The groups (documents) in which more than ``limit`` rows share one band key: pairing
    every two of them would be quadratic (10,000 variants of a template in one page), so their
    candidates are found against the kept rows only (see :mod:`dedup.cluster`).

    >>> k = np.array([[1], [1], [1], [2], [2]], dtype=np.uint64)
    >>> crowded_groups(k, np.array([0, 0, 0, 1, 1]), 2).tolist()
    [0]
    """
    if not len(keys):
        return np.empty(0, dtype=np.int64)
    bands = keys.shape[1]
    flat = keys.ravel()
    # A group's rows sharing a key are at most all rows with that key: only keys held by more
    # than ``limit`` rows in all can be crowded, and one plain sort finds them (usually none).
    s = np.sort(flat)
    runs = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    common = s[runs[np.diff(np.r_[runs, len(s)]) > limit]]
    if not len(common):
        return np.empty(0, dtype=np.int64)
    owner = np.repeat(groups.astype(np.int64), bands)
    mine = np.isin(flat, common)
    flat, owner = flat[mine], owner[mine]
    order = np.lexsort((flat, owner))
    f, o = flat[order], owner[order]
    new = np.r_[True, (f[1:] != f[:-1]) | (o[1:] != o[:-1])]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, len(f)])
    return unique_ints(o[starts[sizes > limit]])
