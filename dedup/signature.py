"""MinHash signatures for whole batches of paragraphs with numpy, compatible with datasketch.

The permutations are datasketch's own ``affine32`` ones (``MinHash(num_perm, seed)``): each
32-bit shingle hash is pre-mixed with the MurmurHash3 32-bit finaliser and permuted as
``a*h + b mod 2^32``; a signature is the column-wise minimum. The result equals
``MinHash.update_batch`` on the same hashes (a test pins this) but runs as a few numpy
operations per batch instead of a Python loop. The permutation parameters are drawn here the
way datasketch draws them, so the clean never imports datasketch (its package imports scipy,
about half a second of every process's start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .cache import BoundedCache
from .shingle import shingle_batch

SCHEME = "affine32"
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
_S16 = np.uint32(16)
_S13 = np.uint32(13)
_MAX32 = np.uint32(0xFFFFFFFF)
# Bound the (shingles x permutations) matrix a batch materialises: 2**20 cells = 4 MiB.
_CELLS = 1 << 20

_minhash: Any
try:  # the compiled signatures, built by the package's own build
    _minhash = importlib.import_module("dedup._minhash")
except ImportError:  # pragma: no cover - a source tree without the build: numpy below
    _minhash = None


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters ``(a, b)`` for ``num_perm`` and ``seed``.

    The same draws as ``MinHash(num_perm, seed, scheme="affine32").permutations`` (datasketch
    2.x ``_init_permutations``): ``RandomState(seed)``, then ``num_perm`` odd multipliers
    ``2*randint(0, 2^31) + 1`` and ``num_perm`` offsets ``randint(0, 2^32)``, all uint32; a
    test compares them with datasketch's byte for byte.

    >>> a, b = permutations(4, 1)
    >>> a.dtype.name, bool((a % 2 == 1).all()), len(b)
    ('uint32', True, 4)
    """
    if not _is_int(num_perm) or num_perm < 1:
        raise ValueError(f"num_perm must be a positive int, got {num_perm!r}")
    if not _is_int(seed) or not 0 <= seed < 1 << 32:
        raise ValueError(f"seed must be an int in [0, 2**32) (numpy's RandomState), got {seed!r}")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
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
               seed: int = 1, compiled: bool = True) -> np.ndarray:
    """MinHash signatures, one row per sequence, from :func:`dedup.shingle.shingle_batch` output.

    A sequence with no shingles gets the empty signature (all ``2**32 - 1``), like datasketch.
    ``compiled``: by the kernel (``dedup._minhash``) when it is built, which gives the same rows
    as the numpy below without materialising the (shingles x permutations) matrix.
    """
    a, b = permutations(num_perm, seed)
    n = len(offsets) - 1
    if compiled and _minhash is not None:
        out = np.empty((n, num_perm), dtype=np.uint32)
        _minhash.signatures(np.ascontiguousarray(hashes, dtype=np.uint64),
                            np.ascontiguousarray(offsets, dtype=np.int64), a, b, out)
        return out
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
        if hi - lo > step:  # one sequence longer than a chunk: the minimum over its pieces
            row = out[first]
            for at in range(lo, hi, step):
                with np.errstate(over="ignore"):
                    phv = mixed[at:min(at + step, hi), None] * a[None, :] + b[None, :]
                np.minimum(row, phv.min(axis=0), out=row)
        elif hi > lo:
            with np.errstate(over="ignore"):
                phv = mixed[lo:hi, None] * a[None, :] + b[None, :]
            nonempty = np.flatnonzero(counts[first:last] > 0)
            starts = offsets[first:last][nonempty] - lo
            out[first + nonempty] = np.minimum.reduceat(phv, starts, axis=0)
        first = last
    return out



def shingle_sets32(hashes: np.ndarray, offsets: np.ndarray, compiled: bool = True
                   ) -> list[np.ndarray]:
    """The sorted unique 32-bit folded shingle hashes (:func:`to32`) of every sequence, all at
    once: sort (sequence, hash) pairs, drop repeats, split by sequence. These are the sets the
    corpus index stores and verifies with. ``compiled``: each sequence sorted by the kernel
    (``dedup._minhash.sets32``) when it is built (the same sets)."""
    n = len(offsets) - 1
    if compiled and _minhash is not None:
        values = np.empty(len(hashes), dtype=np.uint32)
        starts = np.empty(n + 1, dtype=np.int64)
        _minhash.sets32(np.ascontiguousarray(hashes, dtype=np.uint64),
                        np.ascontiguousarray(offsets, dtype=np.int64), values, starts)
        cut = starts.tolist()
        return [values[cut[i]:cut[i + 1]] for i in range(n)]
    owner = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
    pairs = np.unique((owner << np.uint64(32)) | to32(hashes).astype(np.uint64))
    bounds = np.searchsorted(pairs, np.arange(n + 1, dtype=np.uint64) << np.uint64(32)).tolist()
    values = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return [values[bounds[i]:bounds[i + 1]] for i in range(n)]


def take_rows(hashes: np.ndarray, offsets: np.ndarray, at: list[int]
          ) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes and offsets of sequences ``at`` only (in that order)."""
    idx = np.asarray(at, dtype=np.int64)
    lengths = offsets[idx + 1] - offsets[idx]
    sub = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum(lengths, out=sub[1:])
    take = np.repeat(offsets[idx] - sub[:-1], lengths) + np.arange(int(sub[-1]))
    return hashes[take], sub


class Shingles:
    """The shingle hashes of a batch of token sequences, rows asked for by position: hashed
    when a row is first asked for and kept (a paragraph whose signature and set come from
    :class:`SketchCache` never needs its shingles; when a first request names half the rows or
    more, every row is hashed at once), or read from arrays computed already (:meth:`computed`).
    Either way a row's hashes are what :func:`.shingle.shingle_batch` gives it: every value is
    per sequence.

    >>> s = Shingles([("a", "b", "c", "d"), ("e", "f"), ("g",)])
    >>> h, off = s.rows([1, 1])
    >>> off.tolist(), bool((h[:1] == shingle_batch([("e", "f")])[0]).all()), s.hashed
    ([0, 1, 2], True, 1)
    """

    def __init__(self, tokens: Sequence[Sequence[str]], size: int = 3, seed: int = 1,
                 keys: Sequence[str] | None = None) -> None:
        self._tokens = tokens
        self._keys = keys
        self._size, self._seed = size, seed
        self._done: dict[int, np.ndarray] = {}
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.hashed = 0  # rows hashed here so far

    @classmethod
    def computed(cls, hashes: np.ndarray, offsets: np.ndarray) -> Shingles:
        """Rows read from ``hashes``/``offsets`` as :func:`.shingle.shingle_batch` returns them."""
        out = cls([()] * (len(offsets) - 1))
        out._arrays = (hashes, offsets)
        return out

    def __len__(self) -> int:
        return len(self._tokens)

    def rows(self, at: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The hashes and offsets of rows ``at``, in that order (as :func:`take_rows`)."""
        if self._arrays is not None:
            return take_rows(*self._arrays, list(at))
        done = self._done
        n = len(self._tokens)
        todo = sorted({i for i in at if i not in done})
        if not done and 2 * len(todo) >= n:
            # most rows (no cache, or few repeats): every row hashed in one go, then read as
            # arrays (cheaper than keeping rows one by one)
            self._arrays = shingle_batch(self._tokens, self._size, self._seed, self._keys)
            self.hashed = n
            return take_rows(*self._arrays, list(at))
        if todo:
            tokens, keys = self._tokens, self._keys
            hashes, offsets = shingle_batch([tokens[i] for i in todo], self._size, self._seed,
                                            None if keys is None else [keys[i] for i in todo])
            bounds = offsets.tolist()
            for j, i in enumerate(todo):
                done[i] = hashes[bounds[j]:bounds[j + 1]]
            self.hashed += len(todo)
        parts = [done[i] for i in at]
        sizes = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        out_offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(sizes, out=out_offsets[1:])
        return (np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)), out_offsets


class RowsOf:
    """Rows gathered from the :class:`Shingles` of one or more batches: row ``i`` is row
    ``rows[i]`` of ``sources[i]`` (the corpus stage asks for the rows the in-document stage
    may have hashed already). Each source is asked once per request.

    >>> a, b = Shingles([("a", "b", "c")]), Shingles([("d", "e"), ("f", "g", "h")])
    >>> h, off = RowsOf([b, a], [1, 0]).rows([0, 1])
    >>> off.tolist(), bool((h == shingle_batch([("f", "g", "h"), ("a", "b", "c")])[0]).all())
    ([0, 1, 2], True)
    """

    def __init__(self, sources: Sequence[Shingles], rows: Sequence[int]) -> None:
        self._sources = sources
        self._rows = rows

    def rows(self, at: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The hashes and offsets of rows ``at``, in that order (as :meth:`Shingles.rows`)."""
        srcs = [self._sources[i] for i in at]
        rows = [self._rows[i] for i in at]
        if srcs and all(src is srcs[0] for src in srcs):  # one batch: the common case
            return srcs[0].rows(rows)
        asked: dict[int, tuple[Shingles, list[int]]] = {}
        for src, r in zip(srcs, rows, strict=True):
            asked.setdefault(id(src), (src, []))[1].append(r)
        got: dict[tuple[int, int], np.ndarray] = {}
        for key, (src, mine) in asked.items():
            hashes, offsets = src.rows(mine)
            bounds = offsets.tolist()
            for j, r in enumerate(mine):
                got[key, r] = hashes[bounds[j]:bounds[j + 1]]
        parts = [got[id(src), r] for src, r in zip(srcs, rows, strict=True)]
        sizes = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        out_offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(sizes, out=out_offsets[1:])
        return (np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)), out_offsets


CACHE_ROWS = 1 << 14  # up to about 20 MB of signatures, sets and keys


class SketchCache(BoundedCache):
    """MinHash signatures and 32-bit shingle sets of recently seen paragraphs, by normalised key.

    Web dumps copy paragraphs verbatim (syndicated articles, template text): on the generated
    corpus 94% of the long paragraphs repeat an earlier one word for word. A paragraph's
    signature and set depend only on its tokens (its key is its tokens joined by spaces) and the
    shingle size, seed and number of permutations, so a cached row is exactly what
    :func:`signatures` and :func:`shingle_sets32` compute: the cache changes the speed, never a
    result. Each kind holds at most ``capacity`` rows and starts afresh when full.

    >>> import numpy as np
    >>> toks = [("a", "b", "c", "d"), ("e", "f", "g"), ("a", "b", "c", "d")]
    >>> hashes, offsets = shingle_batch(toks)
    >>> cache = SketchCache()
    >>> rows = Shingles(toks)
    >>> got = cache.signatures([" ".join(t) for t in toks], rows, (3, 1, 128))
    >>> bool((got == signatures(hashes, offsets)).all()), len(cache), rows.hashed
    (True, 2, 3)
    """

    # below a quarter of the rows found, computing is cheaper than looking up and copying
    min_hit_rate = 0.25

    def __init__(self, capacity: int = CACHE_ROWS) -> None:
        super().__init__(capacity)

    def clear(self) -> None:
        self._signatures: dict[str, np.ndarray] = {}
        self._sets: dict[str, np.ndarray] = {}
        self._config: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self._signatures)

    def _check(self, config: tuple[int, int, int]) -> None:
        if config != self._config:
            self.clear()
            self._config = config

    def signatures(self, keys: list[str], shingles: Shingles, config: tuple[int, int, int]
                   ) -> np.ndarray:
        """:func:`signatures` of the sequences ``keys`` name (their ``shingles``, row for
        row); ``config`` is ``(shingle size, seed, num_perm)``. Only keys not seen recently
        are computed, and only their rows of ``shingles`` are asked for."""
        self._check(config)
        _size, seed, num_perm = config
        rows = self.lookup(self._signatures, keys, lambda todo: [
            row.copy() for row in signatures(*shingles.rows(todo), num_perm, seed)])
        # one concatenation of the 1-D rows (np.stack expands every row in Python first)
        return (np.concatenate(rows).reshape(len(rows), num_perm) if rows
                else np.empty((0, num_perm), dtype=np.uint32))

    def sets32(self, keys: list[str], shingles: Shingles | RowsOf, config: tuple[int, int, int]
               ) -> list[np.ndarray]:
        """:func:`shingle_sets32` of the sequences ``keys`` name, computed for the keys not
        seen recently only (from their rows of ``shingles``)."""
        self._check(config)
        return self.lookup(self._sets, keys, lambda todo: [
            value.copy() for value in shingle_sets32(*shingles.rows(todo))])
