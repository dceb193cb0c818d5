"""Word shingles, hashed with numpy for a whole batch (no per-token or per-shingle Python work).

A paragraph of ``n`` tokens gives the ``n - k + 1`` hashes of its ``k``-token windows; a paragraph
shorter than ``k`` gives one hash of all its tokens. Token hashes are seeded 64-bit polynomial
hashes of the UTF-8 bytes (:func:`token_hashes`); a window hash is a polynomial over its token
hashes, mixed with the MurmurHash3 64-bit finaliser.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import unique_ints

_pairs: Any
try:  # the compiled pair verification, built by the package's own build
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: numpy below
    _pairs = None

_minhash: Any
try:  # the compiled hashing kernels, built by the package's own build
    _minhash = importlib.import_module("dedup._minhash")
except ImportError:  # pragma: no cover - a source tree without the build: numpy below
    _minhash = None

_MULT_INT = 0x9E3779B97F4A7C15
_MULT = np.uint64(_MULT_INT)
_MASK64 = (1 << 64) - 1
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise (a bijection on uint64)."""
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    out: np.ndarray = h ^ (h >> _S33)
    return out


_P_INT = 0x100000001B3  # odd, so invertible modulo 2**64
_P = np.uint64(_P_INT)
_P_INV = np.uint64(pow(_P_INT, -1, 1 << 64))
_SEED_MIX = 0xD6E8FEB86659FD93


def token_hashes(tokens: Sequence[str], seed: int = 1, compiled: bool = True) -> np.ndarray:
    """A 64-bit hash of each token, as uint64, computed for all tokens at once.

    The tokens are joined (NUL-separated) into one UTF-8 buffer; a token's hash is the
    polynomial ``sum((byte + 1) * P**i)`` over its bytes, taken from prefix sums of the whole
    buffer, mixed with the seed, its length and MurmurHash3's finaliser. No Python work per token.
    ``compiled``: in one pass by the kernel when it is built (the same values).
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    return _hash_joined("\x00".join(tokens), seed, compiled)


def token_and_prefix_hashes(tokens: Sequence[str], chars: int, seed: int = 1,
                            compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``token_hashes(tokens, seed)`` and the hashes of the ``chars``-character prefixes of the
    tokens longer than that, ``token_hashes([t[:chars] for t in tokens if len(t) > chars],
    seed)``: the per-token reference of :func:`key_token_columns`' prefixes.

    >>> whole, pre = token_and_prefix_hashes(["cookies", "ok", "consent"], 5)
    >>> bool((pre == token_hashes(["cooki", "conse"])).all())
    True
    """
    empty = np.empty(0, dtype=np.uint64)
    if not tokens:
        return empty, empty
    prefixes = [t[:chars] for t in tokens if len(t) > chars]
    return (token_hashes(tokens, seed, compiled),
            token_hashes(prefixes, seed, compiled) if prefixes else empty)


def key_token_columns(keys: Sequence[str], chars: int, seed: int = 1, compiled: bool = True
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tokens of normalised line keys (" ".join(tokens) each, as
    :func:`dedup.normalize.normalize` sets them) as columns, all lines' tokens one after the
    other: each token's hash (:func:`token_hashes`), length and ``str.isdigit``, each line's
    token count, and the hashes of the ``chars``-character prefixes of the tokens longer than
    that (see :func:`token_and_prefix_hashes`). ``compiled``: in one pass over the keys' UTF-8
    by the kernel (``dedup._minhash.key_columns``), no string per token; the same values.

    >>> hashes, lengths, digits, words, pre = key_token_columns(["we use cookies", "", "2026"], 5)
    >>> lengths.tolist(), digits.tolist(), words.tolist(), len(pre)
    ([2, 3, 7, 4], [False, False, False, True], [3, 0, 1], 1)
    """
    if compiled and _minhash is not None and keys:
        data = "\n".join(keys).encode("utf-8")
        cols = _minhash.key_columns(data, (seed * _SEED_MIX) & _MASK64, chars)
        return (np.frombuffer(cols[0], dtype=np.uint64), np.frombuffer(cols[1], dtype=np.int64),
                np.frombuffer(cols[2], dtype=np.bool_), np.frombuffer(cols[3], dtype=np.int64),
                np.frombuffer(cols[4], dtype=np.uint64))
    toks = [t for k in keys if k for t in k.split(" ")]
    lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    hashes, prefixes = token_and_prefix_hashes(toks, chars, seed, compiled)
    return (hashes, lengths, np.fromiter(map(str.isdigit, toks), dtype=bool, count=len(toks)),
            np.fromiter((k.count(" ") + 1 if k else 0 for k in keys), dtype=np.int64,
                        count=len(keys)), prefixes)


HASH_CHUNK = 1 << 20  # bytes hashed at a time: bounds the prefix-sum arrays (8 bytes per byte)


def _hash_joined(joined: str, seed: int, compiled: bool = True) -> np.ndarray:
    """Token hashes of a non-empty NUL-separated token string (see :func:`token_hashes`).

    ``compiled``: by the kernel (``dedup._minhash.token_hashes``, one pass over the bytes) when
    it is built. The numpy reference below takes a token's hash from prefix sums; a token's hash
    depends on its own bytes only, so a long buffer is hashed ``HASH_CHUNK`` bytes at a time,
    cut at separators (a longer token by itself, in pieces): the same values, in bounded
    memory."""
    data = joined.encode("utf-8")
    if compiled and _minhash is not None:
        out = np.empty(data.count(0) + 1, dtype=np.uint64)
        _minhash.token_hashes(data, (seed * _SEED_MIX) & _MASK64, out)
        return out
    buf = np.frombuffer(data, dtype=np.uint8)
    if len(buf) <= HASH_CHUNK:
        raw, lengths = _raw_hashes(buf)
    else:
        raw, lengths = _raw_hashes_chunked(buf)
    with np.errstate(over="ignore"):
        mixed = raw + lengths.astype(np.uint64) * _MULT + np.uint64(
            (seed * _SEED_MIX) & _MASK64)
    return fmix64(mixed)


def _raw_hashes(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum((byte + 1) * P**i)`` over each NUL-separated token's bytes, and its length."""
    n = len(buf)
    with np.errstate(over="ignore"):
        powers = np.empty(n + 1, dtype=np.uint64)
        powers[0] = 1
        np.cumprod(np.full(n, _P, dtype=np.uint64), out=powers[1:])
        inverse = np.empty(n + 1, dtype=np.uint64)
        inverse[0] = 1
        np.cumprod(np.full(n, _P_INV, dtype=np.uint64), out=inverse[1:])
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum((buf.astype(np.uint64) + np.uint64(1)) * powers[:n], out=prefix[1:])
        seps = np.flatnonzero(buf == 0)
        starts = np.concatenate(([0], seps + 1))
        ends = np.concatenate((seps, [n]))
        raw = (prefix[ends] - prefix[starts]) * inverse[starts]
    return raw, ends - starts


def _raw_hashes_chunked(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_raw_hashes` of a long buffer, ``HASH_CHUNK`` bytes at a time."""
    n = len(buf)
    seps = np.flatnonzero(buf == 0)
    raws: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    lo = 0  # where the next token starts
    while True:
        if n - lo <= HASH_CHUNK:
            raw, length = _raw_hashes(buf[lo:])
            raws.append(raw)
            lengths.append(length)
            break
        k = int(np.searchsorted(seps, lo + HASH_CHUNK)) - 1  # the last separator in the chunk
        if k >= 0 and seps[k] >= lo:
            raw, length = _raw_hashes(buf[lo:seps[k]])
            lo = int(seps[k]) + 1
        else:  # one token longer than a chunk: P**offset times each piece's sum
            k = int(np.searchsorted(seps, lo))
            end = int(seps[k]) if k < len(seps) else n
            total = 0
            for at in range(lo, end, HASH_CHUNK):
                piece = int(_raw_hashes(buf[at:min(at + HASH_CHUNK, end)])[0][0])
                total = (total + pow(_P_INT, at - lo, 1 << 64) * piece) & _MASK64
            raw = np.array([total], dtype=np.uint64)
            length = np.array([end - lo], dtype=np.int64)
            if end == n:
                raws.append(raw)
                lengths.append(length)
                break
            lo = end + 1
        raws.append(raw)
        lengths.append(length)
    return np.concatenate(raws), np.concatenate(lengths)


_SLICE_COPY = 1 << 16  # shingles above which a sequence's hashes are copied as one slice


def shingle_batch(
    batch: Sequence[Sequence[str]], size: int = 3, seed: int = 1,
    keys: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many token sequences at once.

    Returns ``(hashes, offsets)``: the hashes of sequence ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]`` (not de-duplicated). An empty sequence has none.
    ``keys``: the sequences' keys (``" ".join(tokens)`` each, as paragraphs hold them), when
    the caller has them: the token hashes are then read from the keys by the kernel
    (:func:`key_token_columns`), with no string per token; the same values.
    """
    if keys is not None and _minhash is not None and batch:
        flat, _, _, lengths, _ = key_token_columns(keys, 1 << 62, seed)  # no prefixes
    else:
        lengths = np.fromiter((len(t) for t in batch), dtype=np.int64, count=len(batch))
        joined = "\x00".join("\x00".join(toks) for toks in batch if toks)
        flat = _hash_joined(joined, seed) if joined else np.empty(0, dtype=np.uint64)
    starts = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    # Window hashes over the flat array; windows that cross a boundary are discarded below.
    with np.errstate(over="ignore"):
        win = np.zeros(max(len(flat) - size + 1, 0), dtype=np.uint64)
        for j in range(size):
            win = win * _MULT + flat[j : j + len(win)]
    counts = np.where(lengths >= size, lengths - size + 1, np.minimum(lengths, 1))
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint64)
    huge = np.flatnonzero((counts > _SLICE_COPY) & (lengths >= size))
    for i in huge.tolist():  # a very long sequence is one slice (no per-shingle index arrays)
        out[offsets[i]:offsets[i + 1]] = win[starts[i]:starts[i] + counts[i]]
    long_ = (lengths >= size) & (counts <= _SLICE_COPY)
    if long_.any():
        # Copy each long sequence's windows: win[start + w] -> out[offset + w], w < count.
        c = counts[long_]
        owner = np.repeat(np.arange(len(c)), c)
        w = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        out[offsets[:-1][long_][owner] + w] = win[starts[:-1][long_][owner] + w]
    for i in np.flatnonzero((lengths < size) & (lengths > 0)):
        h = 0
        for t in flat[starts[i] : starts[i + 1]].tolist():
            h = (h * _MULT_INT + t) & _MASK64
        out[offsets[i]] = h
    return fmix64(out), offsets


def shingle_set(tokens: Sequence[str], size: int = 3, seed: int = 1) -> np.ndarray:
    """Sorted unique shingle hashes of one token sequence (what verification compares)."""
    hashes, _ = shingle_batch([tokens], size, seed)
    return unique_ints(hashes)


def pair_jaccards(sets: list[np.ndarray], a: np.ndarray, b: np.ndarray, compiled: bool = True
                  ) -> np.ndarray:
    """:func:`jaccard` of ``sets[a[i]]`` and ``sets[b[i]]`` for every ``i`` (sorted unique uint64
    arrays; ``a``, ``b`` int64), as float64. ``compiled``: the shared values counted by one
    merge per pair in the kernel (``dedup._pairs.pair_intersections``) and divided as
    :func:`jaccard` divides (int64 counts, one correctly rounded division each), the same
    similarities as :func:`jaccard` pair by pair (the reference)."""
    if not (compiled and _pairs is not None) or not len(a):
        return np.array([jaccard(sets[i], sets[j]) for i, j in zip(a.tolist(), b.tolist(),
                                                                   strict=True)],
                        dtype=np.float64)
    shared = np.empty(len(a), dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    _pairs.pair_intersections(sets, a, b, shared)
    sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    la, lb = sizes[a], sizes[b]
    union = la + lb - shared
    out: np.ndarray = shared / np.maximum(union, 1)
    empty = (la == 0) | (lb == 0)  # jaccard: 1.0 for two empty sets, 0.0 for one
    out[empty] = (la[empty] == lb[empty]).astype(np.float64)
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    if not len(a) or not len(b):
        return 1.0 if len(a) == len(b) else 0.0
    # Both sorted and unique: where each of ``a`` would go in ``b`` says whether it is there.
    pos = np.searchsorted(b, a)
    inter = int(np.count_nonzero(b[np.minimum(pos, len(b) - 1)] == a))
    return inter / (len(a) + len(b) - inter)
