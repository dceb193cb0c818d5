"""The prepared record: what a worker ships back rebuilds the parent's document, the record is
immutable, and its codec refuses another format version."""

from __future__ import annotations

import dataclasses
import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.errors import ConfigError
from dedup.pipeline import Cleaner
from dedup.records import FORMAT, KeyColumns, KeysChunk, Prepared, PreparedKeys, decode
from dedup.segment import BLANK
from dedup.staged import CorpusOutcome, DropColumns, Outcomes
from dedup.types import DocCluster, Document, Paragraph


def _prepared(n: int = 60) -> list[Document]:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=n, seed=5, split="test"))]
    docs = [Document(str(i), t) for i, t in enumerate(texts)]
    for d in docs:
        d.ordinal = int(d.id)
    return list(Cleaner(Config()).prepare(docs))


def test_a_record_through_its_codec_rebuilds_the_document() -> None:
    """Paragraphs, offsets, verdicts (the shared blank verdict included) and the corpus keys."""
    for doc in _prepared():
        keys = doc.corpus_keys
        assert keys is not None
        record = pickle.loads(pickle.dumps(Prepared.of(doc)))
        copy = record.apply(Document(doc.id, doc.text))
        assert [(p.index, p.text, p.start, p.end, p.verdict) for p in copy.paragraphs] == \
            [(p.index, p.text, p.start, p.end, p.verdict) for p in doc.paragraphs]
        assert all(q.verdict is BLANK for p, q in zip(doc.paragraphs, copy.paragraphs,
                                                      strict=True) if p.verdict is BLANK)
        got = copy.corpus_keys
        assert got is not None
        assert (got.content, got.tokens, got.longs, got.short_hash) == \
            (keys.content, keys.tokens, keys.longs, keys.short_hash)
        assert sorted(got.sets) == sorted(keys.sets)
        assert all((got.sets[k] == keys.sets[k]).all() for k in keys.sets)
        assert (got.keys32 is None) == (keys.keys32 is None)
        if keys.keys32 is not None:
            assert (got.keys32 == keys.keys32).all()
    # A caller's own paragraphs (not slices of the text) travel as they are.
    own = Document("own", "first line\nsecond line")
    own.paragraphs = [Paragraph(0, "something else", 0, 10)]
    record = pickle.loads(pickle.dumps(Prepared.of(own)))
    assert record.apply(Document("own", own.text)).paragraphs[0].text == "something else"


def test_a_record_is_immutable_before_and_after_its_codec() -> None:
    doc = next(d for d in _prepared(8) if d.corpus_keys and d.corpus_keys.sets)
    for record in (Prepared.of(doc), pickle.loads(pickle.dumps(Prepared.of(doc)))):
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.error = "changed"  # type: ignore[misc]
        assert record.keys is not None
        for array in (record.bounds, record.keys.values, record.keys.sizes):
            with pytest.raises(ValueError, match="read-only"):
                array[:1] = 0
        # what the corpus stage gets are views it cannot write through either
        keys = record.apply(Document(doc.id, doc.text)).corpus_keys
        assert keys is not None
        first = next(iter(keys.sets.values()))
        with pytest.raises(ValueError, match="read-only"):
            first[:1] = np.uint32(0)
    # and the worker's own document keeps writeable arrays
    assert doc.corpus_keys is not None and next(iter(doc.corpus_keys.sets.values())).flags.writeable


def test_a_record_of_another_format_is_refused() -> None:
    doc = _prepared(2)[0]
    reduced = Prepared.of(doc).__reduce__()
    assert reduced[0] is decode and reduced[1][0] == FORMAT
    with pytest.raises(ConfigError, match=f"format {FORMAT + 1}, this dedup reads {FORMAT}"):
        decode(FORMAT + 1, *reduced[1][1:])


def _same_keys(a: PreparedKeys | None, b: PreparedKeys | None) -> bool:
    if a is None or b is None:
        return a is b
    arrays = ("sizes", "values", "keys32", "groups")
    plain = ("content", "tokens", "longs", "order", "shorts", "hashes")
    return all(getattr(a, f) == getattr(b, f) for f in plain) and all(
        (getattr(a, f) is None) == (getattr(b, f) is None)
        and (getattr(a, f) is None or (getattr(a, f).dtype == getattr(b, f).dtype
                                       and getattr(a, f).shape == getattr(b, f).shape
                                       and np.array_equal(getattr(a, f), getattr(b, f))))
        for f in arrays)


_ARRAY = st.lists(st.integers(0, 2**32 - 1), max_size=6)


@st.composite
def _keys(draw: st.DrawFn) -> PreparedKeys | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    ints = st.lists(st.integers(0, 50), max_size=5).map(tuple)
    rows = draw(st.integers(0, 4))
    top = draw(st.sampled_from([2**32 - 1, 2**64 - 1]))  # band keys that fit 32 bits, or not
    return PreparedKeys(
        draw(ints), draw(ints), draw(ints), draw(ints),
        np.array(draw(st.lists(st.integers(0, 9), max_size=4)), dtype=np.int64),
        np.array(draw(_ARRAY), dtype=np.uint32),
        None if draw(st.booleans()) else np.array(
            draw(st.lists(st.integers(0, top), min_size=3 * rows, max_size=3 * rows)),
            dtype=np.uint64).reshape(rows, 3),
        draw(ints), tuple(draw(st.lists(st.integers(0, 2**64 - 1), max_size=4))),
        None if draw(st.booleans()) else np.array(draw(_ARRAY), dtype=np.uint64))


@settings(max_examples=200, deadline=None)
@given(st.lists(_keys(), max_size=8))
def test_a_chunk_of_keys_through_its_codec_is_the_same_keys(keys: list[PreparedKeys | None]
                                                            ) -> None:
    """Documents without keys, without band keys or groups, empty arrays, band keys in 32 bits
    or wider: equal records (the band keys uint64 again), with read-only arrays, whatever the
    chunk holds."""
    got = pickle.loads(pickle.dumps(KeysChunk(keys)))
    assert len(got) == len(keys) and all(map(_same_keys, got, keys))
    for k in got:
        if k is not None and len(k.values):
            with pytest.raises(ValueError, match="read-only"):
                k.values[:1] = 0


def test_keys_of_mixed_kinds_travel_as_a_plain_list() -> None:
    """Band keys of two widths (or other dtypes) cannot be joined: each record goes whole."""
    def one(width: int) -> PreparedKeys:
        return PreparedKeys((0,), (5,), (0,), (0,), np.array([2], dtype=np.int64),
                            np.array([1, 2], dtype=np.uint32),
                            np.zeros((1, width), dtype=np.uint64), (), (), None)
    keys = [one(2), one(3)]
    assert KeysChunk(keys).__reduce__()[0] is list
    assert all(map(_same_keys, pickle.loads(pickle.dumps(KeysChunk(keys))), keys))


def test_a_chunk_of_keys_of_another_format_is_refused() -> None:
    doc = _prepared(2)[0]
    assert doc.corpus_keys is not None
    func, args = KeysChunk([PreparedKeys.of(doc.corpus_keys)]).__reduce__()
    assert args[0] == FORMAT
    with pytest.raises(ConfigError, match=f"format {FORMAT + 1}, this dedup reads {FORMAT}"):
        func(FORMAT + 1, *args[1:])


def test_outcomes_through_their_codec_are_the_same_outcomes() -> None:
    outcomes = Outcomes([None, CorpusOutcome((), DocCluster("a")),
                         CorpusOutcome(((3, "duplicate:cross-doc", 0.9, "b", 4, "cluster b"),),
                                       DocCluster("b", True, 0.75, 2, 40))])
    got = pickle.loads(pickle.dumps(outcomes))
    assert isinstance(got, Outcomes) and got == outcomes


def _columns(rng: np.random.Generator, n: int, names: int) -> DropColumns:
    return DropColumns(rng.integers(0, 50, n), rng.random(n).round(rng.integers(1, 8)),
                       rng.integers(0, names, n), rng.integers(1, 60, n),
                       tuple(f"doc-{rng.integers(1 << 30)}" for _ in range(names)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(0, 4), min_size=1, max_size=12),
       st.lists(st.integers(0, 4), max_size=12))
def test_outcomes_made_from_columns_travel_as_columns_and_make_the_same_rows(
        seed: int, first: list[int], second: list[int]) -> None:
    """A chunk whose documents come from two windows' columns (and a document without a
    corpus outcome, and one with rows of its own): through the codec each outcome makes the
    rows it made before, the similarity rounded to 4 places and the detail its cluster's."""
    rng = np.random.default_rng(seed)
    outcomes: list[CorpusOutcome | None] = [None]
    expected: list[CorpusOutcome | None] = [None]
    for sizes in (first, second):
        cols = _columns(rng, sum(sizes), 3)
        lo = 0
        for k, n in enumerate(sizes):
            cluster = DocCluster(f"c{k}", bool(k % 2), 0.5 + k / 10, k, 10 * k)
            outcomes.append(CorpusOutcome.of_columns(cols, lo, lo + n, cluster))
            expected.append(CorpusOutcome(
                [(int(cols.para[i]), "duplicate:cross-doc", round(float(cols.sim[i]), 4),
                  cols.names[int(cols.target[i])], int(cols.line[i]), f"document cluster c{k}")
                 for i in range(lo, lo + n)], cluster))
            lo += n
    own = CorpusOutcome(((1, "duplicate:document", 0.9, "x", 0, "near-duplicate of x"),),
                        DocCluster("x", True, 0.9, 3, 7))
    outcomes.append(own)
    expected.append(own)
    got = pickle.loads(pickle.dumps(Outcomes(outcomes)))
    assert isinstance(got, Outcomes) and len(got) == len(expected)
    assert [None if o is None else (o.drops, o.cluster) for o in got] == \
        [None if o is None else (o.drops, o.cluster) for o in expected]
    assert [o.drops for o in outcomes if o is not None] == \
        [o.drops for o in expected if o is not None]
    assert got == Outcomes(expected)
    with pytest.raises(AttributeError):  # immutable
        got[-1].cluster = DocCluster("other")  # type: ignore[misc, union-attr]


@st.composite
def _whole_keys(draw: st.DrawFn) -> PreparedKeys | None:
    """A record as the corpus keys make it: one set, band-key row and group per long
    paragraph (none without), a hash per short line."""
    if draw(st.integers(0, 4)) == 0:
        return None
    content = tuple(draw(st.lists(st.integers(0, 80), max_size=6)))
    longs = tuple(sorted(draw(st.sets(st.integers(0, max(len(content) - 1, 0)), max_size=3))
                         if content else ()))
    sets = [draw(st.lists(st.integers(0, 2**32 - 1), max_size=5)) for _ in longs]
    top = draw(st.sampled_from([2**32 - 1, 2**64 - 1]))
    shorts = tuple(k for k in range(len(content)) if k not in longs)
    return PreparedKeys(
        content, tuple(draw(st.lists(st.integers(0, 500), min_size=len(content),
                                     max_size=len(content)))),
        longs, longs, np.array([len(s) for s in sets], dtype=np.int64),
        np.array([v for s in sets for v in s], dtype=np.uint32),
        np.array(draw(st.lists(st.integers(0, top), min_size=2 * len(longs),
                               max_size=2 * len(longs))), dtype=np.uint64).reshape(-1, 2)
        if longs else None,
        shorts, tuple(draw(st.lists(st.integers(0, 2**64 - 1), min_size=len(shorts),
                                    max_size=len(shorts)))),
        np.array(draw(st.lists(st.integers(0, 2**64 - 1), min_size=len(longs),
                               max_size=len(longs))), dtype=np.uint64) if longs else None)


@settings(max_examples=150, deadline=None)
@given(st.lists(_whole_keys(), max_size=8), st.data())
def test_whole_records_travel_as_columns_and_slice_and_join_back(
        keys: list[PreparedKeys | None], data: st.DataObject) -> None:
    """Whole records come back as columns: equal records, read-only; any slice of the columns
    holds its documents' records, and the slices joined are the whole again."""
    got = pickle.loads(pickle.dumps(KeysChunk(keys)))
    assert isinstance(got, KeyColumns)
    assert len(got) == len(keys) and all(map(_same_keys, got, keys))
    for name in KeyColumns.__slots__:
        with pytest.raises(ValueError, match="read-only"):
            getattr(got, name)[:1] = 0
    cuts = sorted(data.draw(st.lists(st.integers(0, len(keys)), max_size=3)))
    bounds = [0, *cuts, len(keys)]
    parts = [got.slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]
    for part, lo, hi in zip(parts, bounds[:-1], bounds[1:], strict=True):
        assert all(map(_same_keys, part, keys[lo:hi]))
    joined = KeyColumns.join(parts)
    assert all(np.array_equal(getattr(joined, n), getattr(got, n)) for n in KeyColumns.__slots__)
    # pieces that travelled as chunks of their own (one may hold no band keys at all)
    pieces = [pickle.loads(pickle.dumps(KeysChunk(keys[lo:hi])))
              for lo, hi in itertools.pairwise(bounds) if hi > lo]
    if pieces:
        rejoined = KeyColumns.join(pieces)
        assert len(rejoined) == len(keys) and all(map(_same_keys, rejoined, keys))
    assert KeyColumns.of_records(keys) is not None
    plain = [None if k is None else k.corpus_keys() for k in keys]
    made = KeyColumns.of_keys(plain)
    assert all(np.array_equal(getattr(made, n), getattr(got, n)) for n in KeyColumns.__slots__)


def test_the_stages_keys_travel_as_columns() -> None:
    """The keys the per-document stages make are whole: a chunk of them travels as columns."""
    docs = _prepared(20)
    chunk = KeysChunk(None if d.corpus_keys is None else PreparedKeys.of(d.corpus_keys)
                      for d in docs)
    got = pickle.loads(pickle.dumps(chunk))
    assert isinstance(got, KeyColumns) and all(map(_same_keys, got, chunk))
