"""The corpus stage's candidate kernels (dedup._pairs) equal their numpy references: the shared
shingles of verified pairs (crossdoc.similarities) and a window's candidate pairs by band key
(staged._bucket_pairs), crowded windows included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import crossdoc, staged
from dedup.crossdoc import similarities
from dedup.staged import Crowded, _bucket_pairs

_SET = st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1)), max_size=30).map(
    lambda values: np.array(sorted(set(values)), dtype=np.uint32))


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert crossdoc._pairs is not None and staged._pairs is not None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_SET, _SET), max_size=20))
def test_similarities_equal_the_reference(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Any sorted unique 32-bit sets (extremes and empty sets among them), bit for bit."""
    mine, stored = [a for a, _ in pairs], [b for _, b in pairs]
    got = similarities(mine, stored)
    want = similarities(mine, stored, compiled=False)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    brute = [len(set(a.tolist()) & set(b.tolist())) / max(len(set(a.tolist()) | set(b.tolist())), 1)
             if len(a) or len(b) else 1.0 for a, b in pairs]
    assert got.tolist() == pytest.approx(brute)


@st.composite
def _overlapping(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two long sets from one small universe (blocks of four that share values, equal block
    maxima, one set ending mid-block), or a set and an edited copy of it."""
    universe = draw(st.integers(1, 400))
    a = draw(st.lists(st.integers(0, universe), max_size=160, unique=True))
    if draw(st.booleans()):
        b = draw(st.lists(st.integers(0, universe), max_size=160, unique=True))
    else:
        cut = draw(st.sets(st.sampled_from(a))) if a else set()
        b = [v for v in a if v not in cut] + draw(st.lists(st.integers(0, universe), max_size=20))
    return (np.array(sorted(set(a)), dtype=np.uint32), np.array(sorted(set(b)), dtype=np.uint32))


@settings(max_examples=300, deadline=None)
@given(st.lists(_overlapping(), min_size=1, max_size=8))
def test_long_overlapping_sets_count_every_shared_value_once(
        pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """The kernel compares four values of each set at a time (SSE2) before the last few one
    by one: every shared value counted once, whatever the sizes and overlaps."""
    out = np.zeros(len(pairs), dtype=np.int64)
    crossdoc._pairs.intersections([a for a, _ in pairs], [b for _, b in pairs], out)
    assert out.tolist() == [len(set(a.tolist()) & set(b.tolist())) for a, b in pairs]


def test_sets_that_are_not_uint32_take_the_reference() -> None:
    """A set of another type (a store read back as int64, say) is not misread."""
    mine = [np.array([1, 2, 3], dtype=np.int64), np.array([5], dtype=np.uint32)]
    stored = [np.array([2, 3, 4], dtype=np.uint32), np.array([5, 6], dtype=np.uint32)]
    assert similarities(mine, stored).tolist() == [0.5, 0.5]
    assert similarities(mine, stored, compiled=False).tolist() == [0.5, 0.5]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)),
                          st.integers(0, 12)), max_size=60),
       st.integers(1, 8))
def test_bucket_pairs_equal_the_reference(entries: list[tuple[int, int]], crowded: int) -> None:
    """Keys shared by few or many owners (an owner repeating a key), crowded or not: the same
    pairs, or Crowded with the same width."""
    keys = np.array([k for k, _ in entries], dtype=np.uint64)
    owner = np.array([o for _, o in entries], dtype=np.int64)
    try:
        want = _bucket_pairs(keys, owner, crowded, compiled=False)
    except Crowded as exc:
        with pytest.raises(Crowded) as got:
            _bucket_pairs(keys, owner, crowded)
        assert got.value.args == exc.args
        return
    later, earlier = _bucket_pairs(keys, owner, crowded)
    assert later.dtype == want[0].dtype == earlier.dtype == want[1].dtype
    assert np.array_equal(later, want[0]) and np.array_equal(earlier, want[1])
    brute = sorted({(b, a) for k, a in entries for k2, b in entries if k == k2 and a < b})
    assert list(zip(later.tolist(), earlier.tolist(), strict=True)) == brute


def test_bad_arguments_are_refused_before_anything_is_written() -> None:
    kernel = crossdoc._pairs
    out = np.full(1, -7, dtype=np.int64)
    one = [np.array([1], dtype=np.uint32)]
    with pytest.raises(ValueError, match="differ in length"):
        kernel.intersections(one, [], out)
    with pytest.raises(ValueError, match="int64"):
        kernel.intersections(one, one, np.zeros(1, dtype=np.int32))
    with pytest.raises(ValueError, match="int64"):
        kernel.intersections(one, one, np.zeros(2, dtype=np.int64))
    with pytest.raises(TypeError, match="uint32"):
        kernel.intersections(one, ["not a buffer"], out)
    with pytest.raises(TypeError, match="uint32"):
        kernel.intersections(one, [np.array([[1]], dtype=np.uint32)], out)
    assert out.tolist() == [-7]
    owner = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="below 2"):
        kernel.bucket_pairs(np.array([2**32], dtype=np.uint64), owner, 4)
    with pytest.raises(ValueError, match="owners"):
        kernel.bucket_pairs(np.array([1], dtype=np.uint64), np.array([-1], dtype=np.int64), 4)
    with pytest.raises(ValueError, match="same length"):
        kernel.bucket_pairs(np.array([1, 2], dtype=np.uint64), owner, 4)
    with pytest.raises(ValueError, match="same length"):
        kernel.bucket_pairs(np.array([1], dtype=np.int32), owner, 4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(0, 6), min_size=3,
                                                      max_size=3)), max_size=30),
       st.booleans())
def test_doc_pairs_equal_the_sorting_reference(rows: list[tuple[int, list[int]]],
                                               grouped: bool) -> None:
    """Few distinct keys, so rows share them often, a row may repeat a key in two bands, and
    keys of any size (the high bit set too); groups non-decreasing, as batches give them."""
    from dedup.lsh import candidate_pairs

    rows = sorted(rows, key=lambda r: r[0])
    keys = np.array([[k * 0x9E3779B97F4A7C15 % 2**64 for k in ks] for _, ks in rows],
                    dtype=np.uint64).reshape(len(rows), 3)
    groups = np.array([g for g, _ in rows], dtype=np.int64) if grouped else None
    assert candidate_pairs(keys, groups) == candidate_pairs(keys, groups, compiled=False)


def test_doc_pairs_by_hand_and_bad_arguments() -> None:
    from dedup import lsh

    keys = np.array([[1, 2], [3, 4], [5, 2], [1, 9], [1, 2]], dtype=np.uint64)
    assert lsh.candidate_pairs(keys) == {2: {0}, 3: {0}, 4: {0, 2, 3}}
    assert lsh.candidate_pairs(keys, np.array([0, 0, 1, 1, 1])) == {4: {2, 3}}
    with pytest.raises(ValueError, match="0 or more"):
        lsh._pairs.doc_pairs(keys, np.array([0, 0, -1, 1, 1]))
    with pytest.raises(ValueError, match="one per row"):
        lsh._pairs.doc_pairs(keys, np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="one per row"):
        lsh._pairs.doc_pairs(keys.astype(np.int32), np.zeros(5, dtype=np.int64))
    assert lsh._pairs.doc_pairs(np.zeros((0, 2), dtype=np.uint64),
                                np.zeros(0, dtype=np.int64)) == b""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.integers(0, 40)), min_size=1, max_size=8), st.data())
def test_pair_jaccards_equal_jaccard(raw: list[set[int]], data: st.DataObject) -> None:
    """Sets sharing values often, empty ones too, values of any size (the high bit set)."""
    from dedup.shingle import jaccard, pair_jaccards

    sets = [np.array(sorted(v * 0x9E3779B97F4A7C15 % 2**64 for v in s), dtype=np.uint64)
            for s in raw]
    sets = [np.unique(s) for s in sets]
    idx = st.integers(0, len(sets) - 1)
    pairs = data.draw(st.lists(st.tuples(idx, idx), max_size=12))
    a = np.array([p for p, _ in pairs], dtype=np.int64)
    b = np.array([q for _, q in pairs], dtype=np.int64)
    got = pair_jaccards(sets, a, b)
    assert got.dtype == np.float64
    assert got.tolist() == [jaccard(sets[p], sets[q]) for p, q in pairs]
    assert got.tobytes() == pair_jaccards(sets, a, b, compiled=False).tobytes()


def test_pair_intersections_bad_arguments() -> None:
    from dedup import shingle

    sets = [np.array([1, 2], dtype=np.uint64), np.array([2], dtype=np.uint64)]
    out = np.zeros(1, dtype=np.int64)
    with pytest.raises(IndexError):
        shingle._pairs.pair_intersections(sets, np.array([0]), np.array([2]), out)
    with pytest.raises(TypeError, match="uint64"):
        shingle._pairs.pair_intersections([sets[0], sets[1].astype(np.uint32)], np.array([0]),
                                          np.array([1]), out)
    with pytest.raises(ValueError, match="one length"):
        shingle._pairs.pair_intersections(sets, np.array([0, 1]), np.array([1]), out)
    shingle._pairs.pair_intersections(sets, np.array([0]), np.array([1]), out)
    assert out.tolist() == [1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), max_size=15), min_size=1, max_size=8), st.data())
def test_row_jaccards_equal_the_numpy_reference(rows: list[list[int]], data: st.DataObject
                                                ) -> None:
    """Unsorted rows with repeated hashes and empty rows, any pairs (a row with itself too):
    the kernel's sort-once-and-merge equals np.unique per row and pair_jaccards, bit for bit."""
    from dedup.cluster import _pair_sims
    from dedup.signature import Shingles

    values = [np.array([v * 0x9E3779B97F4A7C15 % 2**64 for v in r], dtype=np.uint64)
              for r in rows]
    hashes = np.concatenate(values)
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    idx = st.integers(0, len(rows) - 1)
    pairs = data.draw(st.lists(st.tuples(idx, idx), max_size=12))
    hi = np.array([p for p, _ in pairs], dtype=np.int64)
    lo = np.array([q for _, q in pairs], dtype=np.int64)
    rows = Shingles.computed(hashes, offsets)
    got = _pair_sims(hi, lo, rows)
    want = _pair_sims(hi, lo, rows, compiled=False)
    assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes()


def test_row_jaccards_bad_arguments() -> None:
    hashes = np.array([1, 2, 3], dtype=np.uint64)
    offsets = np.array([0, 2, 3], dtype=np.int64)
    out = np.full(1, 7.0)
    for args in ((np.array([2]), np.array([0])),  # a row out of range
                 (np.array([1, 0]), np.array([0]))):  # lengths differ
        with pytest.raises((IndexError, ValueError)):
            crossdoc._pairs.row_jaccards(hashes, offsets, *args, out)
    with pytest.raises(ValueError):
        crossdoc._pairs.row_jaccards(hashes, np.array([0, 4, 3]), np.array([1]), np.array([0]),
                                     out)
    with pytest.raises(TypeError):
        crossdoc._pairs.row_jaccards(hashes.astype(np.int32), offsets, np.array([1]),
                                     np.array([0]), out)
    assert out.tolist() == [7.0]
    crossdoc._pairs.row_jaccards(hashes, offsets, np.array([1]), np.array([0]), out)
    assert out.tolist() == [0.0]
