"""MinHash signatures for whole batches of paragraphs with numpy, compatible with datasketch.

The permutations are datasketch's own ``affine32`` ones (``MinHash(num_perm, seed)``): each
32-bit shingle hash is pre-mixed with the MurmurHash3 32-bit finaliser and permuted as
``a*h + b mod 2^32``; a signature is the column-wise minimum. The result equals
``MinHash.update_batch`` on the same hashes (a test pins this) but runs as a few numpy
operations per batch instead of a Python loop.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch import MinHash

SCHEME = "affine32"
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
_S16 = np.uint32(16)
_S13 = np.uint32(13)
_MAX32 = np.uint32(0xFFFFFFFF)
# Bound the (shingles x permutations) matrix a batch materialises: 2**20 cells = 4 MiB.
_CELLS = 1 << 20


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters ``(a, b)`` for ``num_perm`` and ``seed``."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def to32(hashes: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit values datasketch's affine32 scheme takes."""
    folded: np.ndarray = (hashes ^ (hashes >> np.uint64(32))).astype(np.uint32)
    return folded


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S16)
    h = h * _F1
    h = h ^ (h >> _S13)
    h = h * _F2
    out: np.ndarray = h ^ (h >> _S16)
    return out


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 128,
               seed: int = 1) -> np.ndarray:
    """MinHash signatures, one row per sequence, from :func:`dedup.shingle.shingle_batch` output.

    A sequence with no shingles gets the empty signature (all ``2**32 - 1``), like datasketch.
    """
    a, b = permutations(num_perm, seed)
    n = len(offsets) - 1
    out = np.full((n, num_perm), _MAX32, dtype=np.uint32)
    if not len(hashes):
        return out
    mixed = _fmix32(to32(hashes))
    counts = np.diff(offsets)
    step = max(1, _CELLS // num_perm)
    # Process whole sequences per chunk so reduceat never spans two chunks.
    first = 0
    while first < n:
        last = int(np.searchsorted(offsets, offsets[first] + step, side="right")) - 1
        last = min(max(last, first + 1), n)
        lo, hi = int(offsets[first]), int(offsets[last])
        if hi > lo:
            with np.errstate(over="ignore"):
                phv = mixed[lo:hi, None] * a[None, :] + b[None, :]
            nonempty = np.flatnonzero(counts[first:last] > 0)
            starts = offsets[first:last][nonempty] - lo
            out[first + nonempty] = np.minimum.reduceat(phv, starts, axis=0)
        first = last
    return out

