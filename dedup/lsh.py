"""LSH banding: MinHash signatures -> one 64-bit key per band, computed for a whole batch.

Two paragraphs become candidates when they share the key of at least one band (``bands`` bands of
``rows`` rows each). Bands and rows come from the verified threshold through datasketch's own
optimiser (``MinHashLSH``'s parameters), tuned for a lower threshold and weighted to recall,
because every candidate is verified afterwards: a missed pair costs more than a wrong candidate.
Keys are plain ``uint64`` values, so an index of them is compact (no Python object per band).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch import MinHashLSH

from .config import LSHConfig
from .shingle import fmix64

LSH_SLACK = 0.15
LSH_WEIGHTS = (0.2, 0.8)
_MULT = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=16)
def lsh_params(cfg: LSHConfig) -> tuple[int, int]:
    """``(bands, rows)`` for ``cfg``: its own when set, else datasketch's optimum.

    >>> lsh_params(LSHConfig(num_perm=128, threshold=0.7))
    (25, 5)
    """
    if cfg.bands:
        return cfg.bands, cfg.rows
    probe = MinHashLSH(threshold=max(0.05, cfg.threshold - LSH_SLACK), num_perm=cfg.num_perm,
                       weights=LSH_WEIGHTS)
    return int(probe.b), int(probe.r)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per (signature, band): shape ``(n, bands)``.

    Each key mixes the band's ``rows`` signature values and the band number, so keys of
    different bands never collide by construction of the same values.
    """
    n = signatures.shape[0]
    view = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        h: np.ndarray = np.tile(np.arange(1, bands + 1, dtype=np.uint64), (n, 1))
        for j in range(rows):
            h = fmix64(h * _MULT + view[:, :, j])
    return h


def candidate_pairs(keys: np.ndarray, groups: np.ndarray | None = None) -> dict[int, set[int]]:
    """For every row of ``keys`` (shape ``(n, bands)``), the earlier rows sharing a band key.

    ``groups`` (one non-decreasing number per row, e.g. the document of each paragraph of a
    batch) keeps pairs inside a group: the rows of several documents are paired in one sort,
    each only with its own document's. One sort of all keys finds the equal ones; only rows
    that have candidates appear.

    >>> k = np.array([[1, 2], [3, 4], [5, 2], [1, 9]], dtype=np.uint64)
    >>> sorted(candidate_pairs(k).items())
    [(2, {0}), (3, {0})]
    >>> sorted(candidate_pairs(k, np.array([0, 0, 1, 1])).items())
    []
    """
    n, bands = keys.shape
    out: dict[int, set[int]] = {}
    if n < 2:
        return out
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
        return out
    found = np.unique(np.concatenate(pairs))
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
    owner = np.repeat(groups.astype(np.int64), bands)
    flat = keys.ravel()
    order = np.lexsort((flat, owner))
    f, o = flat[order], owner[order]
    new = np.r_[True, (f[1:] != f[:-1]) | (o[1:] != o[:-1])]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, len(f)])
    return np.unique(o[starts[sizes > limit]])
