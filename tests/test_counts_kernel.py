"""The line counts' compiled update (dedup._counts) equals its numpy reference bit for bit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate import repetition
from dedup.boilerplate.repetition import NEW_CONTENT, LineCounts

Prepared = tuple[np.ndarray, np.ndarray] | None

_KEYS = [f"line {i} " + "word " * (i % 15) for i in range(25)] + [""]


def _pair(width: int, bloom_bits: int, depth: int, near_full: bool
          ) -> tuple[LineCounts, LineCounts]:
    """Two equal sketches; ``near_full``: counters a step or two from wrapping around."""
    kernel = LineCounts(width=width, depth=depth, bloom_bits=bloom_bits)
    numpy = LineCounts(width=width, depth=depth, bloom_bits=bloom_bits)
    if near_full:
        for counts in (kernel, numpy):
            counts.table[:] = np.uint32(2**32 - 2)
            counts.pairs[:] = np.uint32(2**32 - 1)
    return kernel, numpy


def _apply_both(kernel: LineCounts, numpy: LineCounts, prepared: list[Prepared],
                cuts: list[int]) -> None:
    at = 0
    for cut in [*cuts, len(prepared)]:
        kernel.apply_many(prepared[at:at + cut])
        numpy.apply_many(prepared[at:at + cut], compiled=False)
        at += cut
        if at >= len(prepared):
            break


def _assert_equal(kernel: LineCounts, numpy: LineCounts) -> None:
    assert kernel.documents == numpy.documents
    for name in ("table", "pairs", "bloom"):
        a, b = getattr(kernel, name), getattr(numpy, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert repetition._counts is not None
    assert callable(repetition._counts.apply_counts)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(_KEYS), st.booleans()), max_size=14),
                min_size=1, max_size=30),
       st.lists(st.integers(1, 12), max_size=8), st.sampled_from([1 << 2, 1 << 4, 1 << 8]),
       st.sampled_from([1 << 3, 1 << 6, 1 << 10]), st.integers(1, 6), st.booleans())
def test_the_kernel_counts_documents_as_the_numpy_reference(
        docs: list[list[tuple[str, bool]]], cuts: list[int], width: int, bloom_bits: int,
        depth: int, near_full: bool) -> None:
    """Lines repeated within and across documents, documents without lines, tiny sketches
    (colliding cells and Bloom bits), batches of any size, counters wrapping around."""
    kernel, numpy = _pair(width, bloom_bits, depth, near_full)
    prepared = kernel.prepare_many([([k for k, _ in d], [f for _, f in d]) for d in docs])
    _apply_both(kernel, numpy, prepared, cuts)
    _assert_equal(kernel, numpy)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(_KEYS), st.booleans()), max_size=14),
                min_size=1, max_size=30),
       st.lists(st.integers(1, 12), max_size=8), st.sampled_from([1 << 2, 1 << 8]),
       st.sampled_from([1 << 3, 1 << 10]), st.integers(1, 6))
def test_packed_chunks_count_as_their_documents_one_by_one(
        docs: list[list[tuple[str, bool]]], cuts: list[int], width: int, bloom_bits: int,
        depth: int) -> None:
    """A parallel run's workers send each chunk's hashing packed (a few arrays, not two per
    document): counted by the kernel or by the reference, chunk after chunk, the sketch is
    the one of the documents prepared and counted one after the other."""
    packed_k = LineCounts(width=width, depth=depth, bloom_bits=bloom_bits)
    packed_n = LineCounts(width=width, depth=depth, bloom_bits=bloom_bits)
    one_by_one = LineCounts(width=width, depth=depth, bloom_bits=bloom_bits)
    documents = [([k for k, _ in d], [f for _, f in d]) for d in docs]
    at = 0
    for cut in [*cuts, len(documents)]:
        chunk = documents[at:at + cut]
        if not chunk:
            break
        packed = packed_k.prepare_packed(chunk)
        assert len(packed) == len(chunk)
        packed_k.apply_packed(packed)
        packed_n.apply_packed(packed, compiled=False)
        at += cut
    for keys, flags in documents:
        one_by_one.apply(one_by_one.prepare(keys, flags))
    _assert_equal(packed_k, one_by_one)
    _assert_equal(packed_n, one_by_one)


@st.composite
def _synthetic(draw: st.DrawFn, width: int, bloom_bits: int, depth: int) -> Prepared:
    """A prepared document of any shape, contexts-free and line-free ones included, with bits
    uint32 or int64."""
    if draw(st.integers(0, 5)) == 0:
        return None
    n, k = draw(st.integers(0, 6)), draw(st.integers(0, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cells = rng.integers(0, width, (depth, n))
    bits = rng.integers(0, bloom_bits, (3, n, k)).astype(draw(st.sampled_from([np.int64,
                                                                               np.uint32])))
    return cells, bits


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([1 << 2, 1 << 6]), st.sampled_from([1 << 3, 1 << 5, 1 << 9]),
       st.integers(1, 6), st.floats(0, 1), st.integers(0, 2**32 - 1), st.data())
def test_the_kernel_equals_the_reference_on_any_prepared_documents(
        width: int, bloom_bits: int, depth: int, density: float, seed: int,
        data: st.DataObject) -> None:
    """Random cells and bits on a Bloom filter filled to any density beforehand, so that every
    share of seen pairs occurs, exactly half included; documents with lines but no context
    (never new: the reference's mean of nothing is NaN) and with no line at all."""
    prepared = data.draw(st.lists(_synthetic(width, bloom_bits, depth), max_size=25))
    cuts = data.draw(st.lists(st.integers(1, 10), max_size=6))
    kernel, numpy = _pair(width, bloom_bits, depth, data.draw(st.booleans()))
    rng = np.random.default_rng(seed)
    kernel.bloom[:] = numpy.bloom[:] = np.packbits(rng.random(bloom_bits) < density)
    _apply_both(kernel, numpy, prepared, cuts)
    _assert_equal(kernel, numpy)


def test_the_integer_test_is_the_references_mean() -> None:
    """2 * seen < k, the kernel's test, is the reference's float mean < NEW_CONTENT."""
    assert NEW_CONTENT == 0.5
    for k in range(1, 200):
        for seen in range(k + 1):
            flags = np.arange(k) < seen
            assert (2 * seen < k) == bool(flags.mean() < NEW_CONTENT)


def test_lines_meeting_new_content_count_in_pairs() -> None:
    """A hand-checked case, so that both paths cannot agree on doing nothing."""
    for compiled in (True, False):
        counts = LineCounts(width=1 << 4, bloom_bits=1 << 6, depth=1)
        cells = np.array([[3, 5]])
        bits = np.array([[[1, 2]], [[9, 10]], [[17, 18]]]).repeat(2, axis=1)  # both lines alike
        counts.apply_many([(cells, bits), (cells, bits[:, :, :1]), None], compiled=compiled)
        assert counts.documents == 3
        assert counts.table[0, [3, 5]].tolist() == [2, 2]
        # document 1's lines: all pairs new, both count; document 2's: seen (set by document 1)
        assert counts.pairs[0, [3, 5]].tolist() == [1, 1] and counts.pairs.sum() == 2
        assert np.flatnonzero(np.unpackbits(counts.bloom, bitorder="little")).tolist() == \
            [1, 2, 9, 10, 17, 18]


def test_bits_are_uint32_while_they_fit() -> None:
    counts = LineCounts(width=1 << 4, bloom_bits=1 << 6)
    for bloom_bytes, dtype in ((1 << 29, np.uint32), (1 << 30, np.int64)):
        # a view of any length without the memory: prepare_many reads only its length
        counts.bloom = np.broadcast_to(np.zeros(1, dtype=np.uint8), (bloom_bytes,))
        prepared = counts.prepare(["a line", "another"], [True, False])
        assert prepared is not None and prepared[1].dtype == dtype
        assert int(prepared[1].max()) < bloom_bytes * 8


def _args(depth: int = 2, width: int = 8, bloom: int = 4) -> dict[str, np.ndarray]:
    """Valid arguments: two documents, with 2 lines x 3 contexts and 1 line x 1 context."""
    return {"table": np.zeros((depth, width), np.uint32),
            "pairs": np.zeros((depth, width), np.uint32),
            "bloom": np.zeros(bloom, np.uint8),
            "cells": np.arange(depth * 3, dtype=np.int64).reshape(depth, 3) % width,
            "bits": np.arange(3 * 7, dtype=np.int64).reshape(3, 7) % (bloom * 8),
            "lines": np.array([2, 1], np.int64), "contexts": np.array([3, 1], np.int64)}


_BAD: dict[str, tuple[str, Callable[[np.ndarray], None]]] = {
    "cell at width": ("cells", lambda a: a.__setitem__((1, 2), 8)),
    "negative cell": ("cells", lambda a: a.__setitem__((0, 0), -1)),
    "bit past the filter": ("bits", lambda a: a.__setitem__((2, 6), 32)),
    "negative bit": ("bits", lambda a: a.__setitem__((0, 0), -1)),
}
_BAD_ARGS: dict[str, dict[str, np.ndarray]] = {
    "cells of another depth": {"cells": np.zeros((3, 3), np.int64)},
    "cells int32": {"cells": np.zeros((2, 3), np.int32)},
    "cells flat": {"cells": np.zeros(6, np.int64)},
    "bits of 2 hashes": {"bits": np.zeros((2, 7), np.int64)},
    "bits int16": {"bits": np.zeros((3, 7), np.int16)},
    "too few bits": {"bits": np.zeros((3, 6), np.int64)},
    "lines not adding up": {"lines": np.array([2, 2], np.int64)},
    "negative lines": {"lines": np.array([-1, 4], np.int64)},
    # sizes adding up, every pair accounted for, but a line count below zero
    "negative lines, no pair": {"lines": np.array([3, -1, 1], np.int64),
                                "contexts": np.array([1, 0, 0], np.int64),
                                "bits": np.zeros((3, 3), np.int64)},
    "too many bits": {"bits": np.zeros((3, 8), np.int64)},
    "too many cells": {"cells": np.zeros((2, 4), np.int64)},
    "contexts not adding up": {"contexts": np.array([3, 2], np.int64)},
    "huge contexts": {"contexts": np.array([2**62, 1], np.int64)},
    "contexts of another length": {"contexts": np.array([3, 1, 0], np.int64)},
    "lines int32": {"lines": np.array([2, 1], np.int32)},
    "pairs of another width": {"pairs": np.zeros((2, 16), np.uint32)},
    "table uint64": {"table": np.zeros((2, 8), np.uint64)},
    "table flat": {"table": np.zeros(16, np.uint32)},
}


def test_the_valid_arguments_are_valid() -> None:
    args = _args()
    repetition._counts.apply_counts(*args.values())
    assert args["table"].sum() == 6 and args["bloom"].any()


@pytest.mark.parametrize("case", sorted(_BAD) + sorted(_BAD_ARGS))
def test_arguments_that_do_not_fit_raise_and_write_nothing(case: str) -> None:
    args = _args()
    if case in _BAD:
        name, spoil = _BAD[case]
        spoil(args[name])
    else:
        args.update(_BAD_ARGS[case])
    with pytest.raises(ValueError, match="do not fit"):
        repetition._counts.apply_counts(*args.values())
    assert not args["table"].any() and not args["pairs"].any() and not args["bloom"].any()


def test_apply_many_refuses_cells_outside_the_sketch() -> None:
    counts = LineCounts(width=1 << 4, bloom_bits=1 << 6)
    with pytest.raises(ValueError):
        counts.apply_many([(np.full((4, 1), 16), np.zeros((3, 1, 1), np.uint32))])
    assert counts.documents == 0 and not counts.table.any()


def test_a_read_only_sketch_is_refused() -> None:
    args = _args()
    args["bloom"].flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):  # numpy's refusal of a writable buffer
        repetition._counts.apply_counts(*args.values())
    assert not args["table"].any()


def test_a_sketch_written_and_mapped_is_the_same_counts(tmp_path) -> None:
    """dump_arrays / map_arrays carry a sketch to another process: the same table, pairs and
    Bloom filter, writable here (privately: the file is not changed), and the file may go."""
    counts = LineCounts(width=1 << 10, depth=3, bloom_bits=1 << 12)
    counts.add_keys(["home news sport", "an article"], [False, True])
    counts.add_keys(["home news sport", "another article"], [False, True])
    path = tmp_path / "sketch"
    counts.dump_arrays(str(path))
    mapped = LineCounts(width=1 << 10, depth=3, bloom_bits=1 << 12)
    mapped.map_arrays(str(path))
    path.unlink()
    assert (mapped.table == counts.table).all() and (mapped.pairs == counts.pairs).all()
    assert (mapped.bloom == counts.bloom).all()
    mapped.add_keys(["home news sport", "an article"], [False, True])
    counts.add_keys(["home news sport", "an article"], [False, True])
    assert (mapped.table == counts.table).all() and (mapped.bloom == counts.bloom).all()
    assert mapped.lookup(["home news sport"]).tolist() == [3]


def test_a_sketch_of_another_shape_is_refused(tmp_path) -> None:
    counts = LineCounts(width=1 << 10, depth=3, bloom_bits=1 << 12)
    counts.dump_arrays(str(tmp_path / "sketch"))
    other = LineCounts(width=1 << 11, depth=3, bloom_bits=1 << 12)
    with pytest.raises(ValueError, match="not the"):
        other.map_arrays(str(tmp_path / "sketch"))
    assert not other.table.any()
