"""The compiled hashing kernels (dedup._minhash) equal their numpy references bit for bit: the
token hashes, and the MinHash signatures (and so datasketch's: tests/test_minhash.py pins that
for both paths)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dedup import shingle, signature
from dedup.shingle import shingle_batch, token_hashes
from dedup.signature import permutations, shingle_sets32, signatures

_HASHES = hnp.arrays(np.uint64, st.integers(0, 300),
                     elements=st.integers(0, 2**64 - 1))


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert signature._minhash is not None


@settings(max_examples=200, deadline=None)
@given(_HASHES, st.data(), st.sampled_from([1, 2, 16, 128, 256]), st.integers(0, 2**31))
def test_the_kernel_equals_numpy(hashes: np.ndarray, data: st.DataObject, num_perm: int,
                                 seed: int) -> None:
    """Any 64-bit hashes (extreme values included), cut into sequences of any lengths, empty
    ones among them."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(hashes)), max_size=12)))
    offsets = np.array([0, *cuts, len(hashes)], dtype=np.int64)
    got = signatures(hashes, offsets, num_perm, seed)
    want = signatures(hashes, offsets, num_perm, seed, compiled=False)
    assert got.dtype == np.uint32 and got.shape == (len(offsets) - 1, num_perm)
    assert np.array_equal(got, want)


def test_long_sequences_past_the_reference_chunks() -> None:
    """A sequence longer than the numpy reference's chunk (2**20 cells), beside short ones."""
    batch = [tuple(f"w{i}" for i in range(n)) for n in (9000, 0, 5, 20000, 2)]
    hashes, offsets = shingle_batch(batch, 3)
    assert np.array_equal(signatures(hashes, offsets, 128),
                          signatures(hashes, offsets, 128, compiled=False))


def test_empty_sequences_get_the_empty_signature() -> None:
    out = signatures(np.zeros(0, dtype=np.uint64), np.zeros(3, dtype=np.int64), 4)
    assert out.tolist() == [[2**32 - 1] * 4] * 2
    assert signatures(np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64), 4).shape == (0, 4)


def _args() -> list[object]:
    a, b = permutations(4, 1)
    return [np.arange(3, dtype=np.uint64), np.array([0, 1, 3], dtype=np.int64), a, b,
            np.zeros((2, 4), dtype=np.uint32)]


@pytest.mark.parametrize("position, bad", [
    (0, np.arange(3, dtype=np.int64)),  # hashes not unsigned
    (1, np.array([0, 1, 3], dtype=np.int32)),  # offsets not int64
    (1, np.array([0, 2, 1], dtype=np.int64)),  # decreasing, and not ending at len(hashes)
    (1, np.array([1, 3], dtype=np.int64)),  # not starting at 0
    (1, np.zeros(0, dtype=np.int64)),  # no offsets at all
    (3, np.zeros(3, dtype=np.uint32)),  # b shorter than a
    (4, np.zeros((2, 3), dtype=np.uint32)),  # out of the wrong shape
    (4, np.zeros((2, 4), dtype=np.uint64)),  # out of the wrong type
])
def test_bad_arguments_raise_before_writing(position: int, bad: object) -> None:
    args = _args()
    args[position] = bad
    out = args[4]
    assert isinstance(out, np.ndarray)
    before = out.copy()
    with pytest.raises(ValueError, match="do not fit"):
        signature._minhash.signatures(*args)
    assert np.array_equal(out, before)


def test_a_read_only_output_is_refused() -> None:
    args = _args()
    out = args[4]
    assert isinstance(out, np.ndarray)
    out.setflags(write=False)
    with pytest.raises((BufferError, ValueError, TypeError)):
        signature._minhash.signatures(*args)


_TOKENS = st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                           max_size=12), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_TOKENS, st.integers(0, 2**40))
def test_token_hashes_equal_numpy(tokens: list[str], seed: int) -> None:
    """Any tokens (empty ones, non-ASCII, astral characters), any seed."""
    got = token_hashes(tokens, seed)
    assert got.dtype == np.uint64 and len(got) == len(tokens)
    assert np.array_equal(got, token_hashes(tokens, seed, compiled=False))


def test_token_hashes_past_the_reference_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy reference hashes long buffers in chunks (and a token longer than a chunk in
    pieces): the kernel's one pass gives the same values."""
    tokens = ["a" * 50, "é" * 7, "x", "long" * 40, ""] * 20
    monkeypatch.setattr(shingle, "HASH_CHUNK", 64)
    assert np.array_equal(token_hashes(tokens, 3), token_hashes(tokens, 3, compiled=False))


_KEY_TOKENS = st.lists(st.text(st.characters(exclude_categories=["Cs", "Z", "Cc"]),
                               min_size=1, max_size=9), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(_KEY_TOKENS, max_size=8), st.integers(0, 8), st.integers(0, 2**40))
def test_key_columns_equal_the_per_token_reference(lines: list[list[str]], chars: int,
                                                   seed: int) -> None:
    """Keys of any tokens (digits of every script, "²", astral characters, empty lines):
    the kernel's columns are the per-token Python ones, dtypes included."""
    keys = [" ".join(t) for t in lines]
    got = shingle.key_token_columns(keys, chars, seed)
    want = shingle.key_token_columns(keys, chars, seed, compiled=False)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(got, want,
                                                                           strict=True))
    toks = [t for line in lines for t in line]
    assert got[2].tolist() == [t.isdigit() for t in toks]
    assert got[3].tolist() == [len(t) for t in lines] or not keys
    assert np.array_equal(got[0], token_hashes(toks, seed)) or not toks


def test_key_columns_by_hand() -> None:
    hashes, lengths, digits, words, pre = shingle.key_token_columns(
        ["2026 ١٢٣ ²", "", "naïve cookies𝟙"], 5)
    assert lengths.tolist() == [4, 3, 1, 5, 8] and words.tolist() == [3, 0, 2]
    assert digits.tolist() == [True, True, True, False, False]
    assert np.array_equal(pre, token_hashes(["cooki"])) and hashes.flags.writeable
    with pytest.raises(ValueError, match="NUL"):
        shingle._minhash.key_columns(b"a\x00b", 1, 5)
    with pytest.raises(ValueError, match="0 or more"):
        shingle._minhash.key_columns(b"ab", 1, -1)
    with pytest.raises(TypeError):
        shingle._minhash.key_columns("ab", 1, 5)


def test_token_hashes_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one item per token"):
        shingle._minhash.token_hashes(b"a\x00b", 1, np.zeros(3, dtype=np.uint64))
    with pytest.raises(ValueError, match="one item per token"):
        shingle._minhash.token_hashes(b"a\x00b", 1, np.zeros(2, dtype=np.int64))
    with pytest.raises(TypeError):
        shingle._minhash.token_hashes("a", 1, np.zeros(1, dtype=np.uint64))


@settings(max_examples=200, deadline=None)
@given(_HASHES, st.data())
def test_sets32_equal_numpy(hashes: np.ndarray, data: st.DataObject) -> None:
    """Sorted distinct folded hashes per sequence; repeats planted by drawing from few values."""
    pool = data.draw(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=5))
    hashes = np.concatenate([hashes, np.array(data.draw(st.lists(st.sampled_from(pool),
                                                                 max_size=30)), dtype=np.uint64)])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(hashes)), max_size=12)))
    offsets = np.array([0, *cuts, len(hashes)], dtype=np.int64)
    got = shingle_sets32(hashes, offsets)
    want = shingle_sets32(hashes, offsets, compiled=False)
    assert len(got) == len(want) == len(offsets) - 1
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.uint32 and np.array_equal(g, w)


def test_sets32_bad_arguments() -> None:
    hashes, offsets = np.arange(3, dtype=np.uint64), np.array([0, 3], dtype=np.int64)
    with pytest.raises(ValueError, match="do not fit"):
        signature._minhash.sets32(hashes, offsets, np.zeros(2, dtype=np.uint32),
                                  np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="do not fit"):
        signature._minhash.sets32(hashes, np.array([0, 2], dtype=np.int64),
                                  np.zeros(3, dtype=np.uint32), np.zeros(2, dtype=np.int64))


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.uint32, st.tuples(st.integers(0, 12), st.integers(1, 40))),
       st.data())
def test_band_keys_equal_numpy(sigs: np.ndarray, data: st.DataObject) -> None:
    from dedup.lsh import band_keys

    rows = data.draw(st.integers(1, sigs.shape[1]))
    bands = data.draw(st.integers(1, sigs.shape[1] // rows))
    got = band_keys(sigs, bands, rows)
    assert got.dtype == np.uint64 and got.shape == (len(sigs), bands)
    assert np.array_equal(got, band_keys(sigs, bands, rows, compiled=False))
    # a non-contiguous view and uint64 signatures give the same keys
    wide = np.zeros((len(sigs), sigs.shape[1] * 2), dtype=np.uint32)
    wide[:, ::2] = sigs
    assert np.array_equal(band_keys(wide[:, ::2], bands, rows), got)
    assert np.array_equal(band_keys(sigs.astype(np.uint64), bands, rows), got)


def test_band_keys_bad_arguments() -> None:
    from dedup import lsh

    sigs = np.zeros((2, 8), dtype=np.uint32)
    for cols, bands, rows, out in ((8, 3, 3, np.zeros((2, 3), np.uint64)),
                                   (8, 2, 4, np.zeros((2, 3), np.uint64)),
                                   (0, 1, 1, np.zeros((2, 1), np.uint64)),
                                   (8, 2, 4, np.zeros((2, 2), np.int32))):
        with pytest.raises(ValueError, match="band_keys"):
            lsh._minhash.band_keys(sigs, cols, bands, rows, out)


@settings(max_examples=200, deadline=None)
@given(st.lists(_KEY_TOKENS, max_size=8), st.integers(1, 4), st.integers(0, 2**40))
def test_shingles_from_keys_are_those_from_tokens(lines: list[list[str]], size: int,
                                                  seed: int) -> None:
    keys = [" ".join(t) for t in lines]
    got = shingle_batch(lines, size, seed, keys)
    want = shingle_batch(lines, size, seed)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(got, want,
                                                                           strict=True))
