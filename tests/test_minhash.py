"""Shingles and signatures: pinned values and agreement with datasketch itself."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.shingle import jaccard, shingle_batch, shingle_set, token_hashes
from dedup.signature import signatures, to32

WORDS = st.lists(st.sampled_from(list("abcdefghij")), max_size=30).map(tuple)


def test_pinned_shingle_hashes() -> None:
    # Golden values: a change here changes every index and every fingerprint.
    hashes, offsets = shingle_batch([("the", "quick", "brown", "fox")], size=3, seed=1)
    assert offsets.tolist() == [0, 2]
    assert hashes.tolist() == [13046135871408087487, 13744674986008333023]
    assert signatures(hashes, offsets, 8, 1)[0].tolist() == [
        2403770365, 2451711718, 745941453, 838331158, 75398786, 1797783749, 3543342368, 346760307,
    ]


@given(st.lists(WORDS, max_size=8), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_batch_equals_one_by_one(batch: list[tuple[str, ...]], size: int) -> None:
    hashes, offsets = shingle_batch(batch, size)
    for i, toks in enumerate(batch):
        alone, _ = shingle_batch([toks], size)
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == alone.tolist()


@given(st.lists(WORDS, min_size=1, max_size=6), st.sampled_from([16, 64, 128]))
@settings(max_examples=40, deadline=None)
def test_signatures_equal_datasketch_update_batch(batch: list[tuple[str, ...]],
                                                  num_perm: int) -> None:
    hashes, offsets = shingle_batch(batch, 3)
    sigs = signatures(hashes, offsets, num_perm, seed=3)
    for i in range(len(batch)):
        m = MinHash(num_perm=num_perm, seed=3, hashfunc=lambda x: x)
        m.update_batch(to32(hashes[offsets[i] : offsets[i + 1]]).tolist())
        assert np.array_equal(m.hashvalues, sigs[i])


def test_signature_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [tuple(f"w{i}" for i in range(n)) for n in (50, 3, 0, 200, 7)]
    hashes, offsets = shingle_batch(batch, 3)
    whole = signatures(hashes, offsets, 32)
    import dedup.signature as sig

    monkeypatch.setattr(sig, "_CELLS", 64)  # the numpy reference's chunks
    assert np.array_equal(sig.signatures(hashes, offsets, 32, compiled=False), whole)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                              blacklist_characters="\x00"), min_size=1,
                         max_size=8), max_size=40))
@settings(max_examples=100, deadline=None)
def test_token_hashes_depend_only_on_the_token(toks: list[str]) -> None:
    hashes = token_hashes(toks).tolist()
    alone = [token_hashes([t])[0] for t in toks]
    assert hashes == [int(h) for h in alone]
    by_token: dict[str, int] = {}
    for t, h in zip(toks, hashes, strict=True):
        assert by_token.setdefault(t, h) == h


def test_token_hashes_spread() -> None:
    words = [f"w{i}" for i in range(50000)] + ["ab", "ba", "a", "b", "aa"]
    assert len(set(token_hashes(words).tolist())) == len(words)
    assert token_hashes(["x"], seed=1)[0] != token_hashes(["x"], seed=2)[0]


def test_exact_jaccard() -> None:
    a = shingle_set(tuple(["a", "b", "c", "d", "e"]), 2)
    b = shingle_set(tuple(["a", "b", "c", "d", "x"]), 2)
    assert jaccard(a, a) == 1.0
    assert jaccard(a, b) == pytest.approx(3 / 5)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.integers(1, 4), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_candidate_pairs_are_the_rows_sharing_a_key(n: int, bands: int, values: int,
                                                   seed: int) -> None:
    from dedup.lsh import candidate_pairs

    keys = np.random.default_rng(seed).integers(0, values, size=(n, bands)).astype(np.uint64)
    brute: dict[int, set[int]] = {}
    for j in range(n):
        for i in range(j):
            if set(keys[i].tolist()) & set(keys[j].tolist()):
                brute.setdefault(j, set()).add(i)
    assert candidate_pairs(keys) == brute


@given(st.lists(st.tuples(st.sets(st.integers(0, 60)), st.sets(st.integers(0, 60))),
                max_size=12))
def test_batched_similarities_equal_the_pairwise_jaccard(pairs: list[tuple[set[int], set[int]]]
                                                         ) -> None:
    """Empty sets, equal sets, disjoint sets, several pairs at once: each value is the one the
    plain two-array Jaccard gives, to the last bit."""
    from dedup.crossdoc import similarities

    arrays = [[np.array(sorted(x), dtype=np.uint32) for x in pair] for pair in pairs]
    got = similarities([a for a, _ in arrays], [b for _, b in arrays])
    assert got.tolist() == [jaccard(a, b) for a, b in arrays]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=7), max_size=9),
                min_size=1, max_size=6),
       st.integers(1, 12), st.sampled_from([(3, 1, 32), (2, 5, 16)]))
def test_cached_signatures_equal_computed_ones(batches: list[list[list[str]]], capacity: int,
                                               config: tuple[int, int, int]) -> None:
    """Repeats inside a batch and across batches, empty sequences, a cache small enough to
    start afresh mid-stream, and a config change: every row is the computed one."""
    from dedup.signature import Shingles, SketchCache

    size, seed, num_perm = config
    cache = SketchCache(capacity)
    cache.signatures(["a b c"], Shingles([("a", "b", "c")], 3, 1), (3, 1, 8))  # other config
    for batch in batches:
        hashes, offsets = shingle_batch(batch, size, seed)
        keys = [" ".join(t) for t in batch]
        rows = Shingles(batch, size, seed, keys)
        got = cache.signatures(keys, rows, config)
        assert np.array_equal(got, signatures(hashes, offsets, num_perm, seed))
        assert len(cache) <= capacity
        # only rows the cache did not hold were hashed, or all at once when most were new
        assert rows.hashed <= len(set(keys)) or rows.hashed == len(batch)
        read = cache.signatures(keys, Shingles.computed(hashes, offsets), config)
        assert np.array_equal(read, got)


def test_a_pickled_cache_starts_empty() -> None:
    """Caches travel inside the state sent to Dask workers: they go as empty ones."""
    import pickle

    from dedup.boilerplate.model import LineCache
    from dedup.signature import Shingles, SketchCache

    sketches = SketchCache(capacity=5)
    hashes, offsets = shingle_batch([("a", "b", "c")], 3, 1)
    rows = Shingles.computed(hashes, offsets)
    sketches.signatures(["a b c"], rows, (3, 1, 8))
    assert len(sketches) == 1
    copy = pickle.loads(pickle.dumps(sketches))
    assert len(copy) == 0 and copy.capacity == 5
    assert np.array_equal(copy.signatures(["a b c"], rows, (3, 1, 8)),
                          signatures(hashes, offsets, 8, 1))
    lines = pickle.loads(pickle.dumps(LineCache(capacity=7)))
    assert len(lines) == 0 and lines.capacity == 7


def test_long_keys_are_computed_not_cached() -> None:
    """The bound on entries is a bound on memory only if keys are short: a line longer than
    MAX_KEY_CHARS is computed each time."""
    from dedup.cache import MAX_KEY_CHARS
    from dedup.signature import Shingles, SketchCache

    long = tuple(f"w{i}" for i in range(MAX_KEY_CHARS // 2))
    short = ("a", "b", "c")
    hashes, offsets = shingle_batch([long, short], 3, 1)
    cache = SketchCache()
    got = cache.signatures([" ".join(long), " ".join(short)], Shingles.computed(hashes, offsets),
                           (3, 1, 8))
    assert np.array_equal(got, signatures(hashes, offsets, 8, 1))
    assert len(cache) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdef"), max_size=6), min_size=1, max_size=8),
       st.lists(st.lists(st.integers(0, 7), max_size=6), max_size=4))
def test_shingles_hash_the_rows_asked_for_as_the_batch_does(batch: list[list[str]],
                                                            asks: list[list[int]]) -> None:
    """Rows asked for in any order, repeated, several times, or all at once: each is what
    shingle_batch gives it in the whole batch, and each is hashed once (only the rows asked
    for, unless a first request names half of them or more: then all)."""
    from dedup.signature import Shingles, take_rows

    hashes, offsets = shingle_batch(batch, 3, 1)
    rows = Shingles(batch, 3, 1, [" ".join(t) for t in batch])
    asked: set[int] = set()
    for ask in [*asks, list(range(len(batch)))]:
        at = [i % len(batch) for i in ask]
        got = rows.rows(at)
        want = take_rows(hashes, offsets, at)
        assert got[0].tobytes() == want[0].tobytes() and got[1].tolist() == want[1].tolist()
        asked |= set(at)
        assert rows.hashed in (len(asked), len(batch))
