"""The corpus index: key tables against a brute-force model, save/load, refusals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import Config
from dedup.errors import ConfigError
from dedup.index import Column, CorpusIndex, KeyTable, Store


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=0, max_size=30), max_size=12),
       st.lists(st.integers(0, 45), max_size=20))
def test_key_table_finds_exactly_the_stored_pairs(batches: list[list[int]],
                                                  queries: list[int]) -> None:
    table = KeyTable()
    stored: list[tuple[int, int]] = []
    row = 0
    for batch in batches:  # many small inserts: levels get merged along the way
        rows = list(range(row, row + len(batch)))
        table.add(np.asarray(batch, dtype=np.uint64), np.asarray(rows, dtype=np.uint64))
        stored += list(zip(batch, rows, strict=True))
        row += len(batch)
    assert len(table) == len(stored)
    q, found = table.lookup(np.asarray(queries, dtype=np.uint64))
    got = sorted(zip(q.tolist(), found.tolist(), strict=True))
    want = sorted((i, r) for i, key in enumerate(queries) for k, r in stored if k == key)
    assert got == want
    # levels stay few: sizes grow at least fourfold from the newest to the oldest
    sizes = [len(level) for level in table.levels]
    assert all(4 * b < a for a, b in itertools.pairwise(sizes))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from([0, 1, 7, 40, 0xFFFFFFFF]),
                                   st.sampled_from([0, 3, 9, 0xFFFFFFFF])), max_size=40),
                max_size=8),
       st.lists(st.sampled_from([0, 1, 2, 7, 40, 41, 0xFFFFFFFF]), max_size=30))
def test_key_table_look_up_kernel_equals_the_numpy_reference(
        batches: list[list[tuple[int, int]]], queries: list[int]) -> None:
    """The galloping kernel gives the reference's answer array for array, in its order (by
    level, query position, row), with repeated keys, repeated pairs and full 32-bit values."""
    table = KeyTable()
    for batch in batches:
        table.add(np.asarray([k for k, _ in batch], dtype=np.uint64),
                  np.asarray([r for _, r in batch], dtype=np.uint64))
    keys = np.asarray(queries, dtype=np.uint64)
    (q, rows), (ref_q, ref_rows) = table.lookup(keys), table.lookup(keys, compiled=False)
    assert q.dtype == ref_q.dtype and rows.dtype == ref_rows.dtype
    assert q.tolist() == ref_q.tolist() and rows.tolist() == ref_rows.tolist()


def test_the_look_up_kernel_refuses_unsorted_queries() -> None:
    pairs = pytest.importorskip("dedup._pairs")
    with pytest.raises(ValueError, match="sorted"):
        pairs.level_lookup(np.zeros(3, dtype=np.uint64), np.array([2, 1], dtype=np.uint64))


def test_key_table_handles_full_32_bit_keys_and_rows() -> None:
    table = KeyTable()
    keys = np.array([0xFFFFFFFF, 0, 0xFFFFFFFF], dtype=np.uint64)
    table.add(keys, np.array([0xFFFFFFFF, 5, 7], dtype=np.uint64))
    q, rows = table.lookup(np.array([0xFFFFFFFF], dtype=np.uint64))
    assert q.tolist() == [0, 0] and sorted(rows.tolist()) == [7, 0xFFFFFFFF]


def test_column_grows_and_keeps_values() -> None:
    col = Column(np.uint32)
    for i in range(3000):
        assert col.append(i) == i
    col.append([7, 8])
    assert len(col) == 3002 and col.view()[-3:].tolist() == [2999, 7, 8]
    assert col.nbytes == 3002 * 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 0xFFFFFFFF),
                          st.lists(st.integers(0, 0xFFFFFFFF), max_size=40)), max_size=80),
       st.lists(st.integers(0, 0xFFFFFFFF), max_size=5))
def test_column_appends_single_values_and_arrays_alike(items: list, loaded: list[int]) -> None:
    """A column loaded from saved data (full to its last cell) or new, with single values
    (the fast path) and lists interleaved, holds what was appended, in order."""
    col = Column(np.uint32, np.asarray(loaded, dtype=np.uint32)) if loaded else Column(np.uint32)
    expected = list(loaded)
    for item in items:
        assert col.append(item) == len(expected)
        expected.extend(item if isinstance(item, list) else [item])
    assert col.view().tolist() == expected and len(col) == len(expected)


def test_memory_store_spills_to_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dedup.index.SPILL_BYTES", 64)
    store = Store(None)
    offsets = [store.append_row(np.arange(i, i + 5, dtype=np.uint32)) for i in range(20)]
    assert store.rows.memory is None  # spilled
    for i, off in enumerate(offsets):
        assert store.read_row(off, off + 20).tolist() == list(range(i, i + 5))
    store.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=()) | st.sampled_from("\n\r\x85é"),
                        max_size=6), min_size=1, max_size=20),
       st.sampled_from(["memory", "spilled", "directory"]), st.data())
def test_many_ids_read_at_once_are_the_ids_read_one_by_one(
        ids: list[str], where: str, data: st.DataObject) -> None:
    """doc_ids of any documents, in any order and repeated, from memory, a spilled store or an
    index directory: each document's doc_id (newlines, other line breaks, non-ASCII and lone
    surrogates in the ids included)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        if where == "spilled":
            mp.setattr("dedup.index.SPILL_BYTES", 16)
        index = CorpusIndex(Config(), Path(tmp) / "ix" if where == "directory" else None)
        try:
            for doc_id in ids:
                index.add_document(doc_id, 10, None)
            picked = data.draw(st.lists(st.integers(0, len(ids) - 1), max_size=12))
            assert index.doc_ids(np.asarray(picked, dtype=np.int64)) == \
                [index.doc_id(d) for d in picked]
            assert index.doc_ids(np.arange(len(ids))) == [i.replace("\n", " ") for i in ids]
        finally:
            index.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30), st.sampled_from(["memory", "spilled",
                                                                          "directory"]),
       st.data())
def test_records_of_a_size_are_the_records_read_one_by_one(
        payloads: list[int], where: str, data: st.DataObject) -> None:
    """Many rows' records read at once, from memory, a spilled store or an index directory,
    are the records read row by row; rows of another size are marked so, never read past;
    and so are many rows' sets and (document, line) heads of any sizes."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        if where == "spilled":
            mp.setattr("dedup.index.SPILL_BYTES", 16)
        index = CorpusIndex(Config(), Path(tmp) / "ix" if where == "directory" else None)
        try:
            d = index.add_document("doc", 10, None)
            for n, size in enumerate(payloads):
                index.add_row(d, n + 1, np.arange(size, dtype=np.uint32) + 7 * n)
            rows = np.asarray(data.draw(st.lists(st.integers(0, len(payloads) - 1),
                                                 max_size=12)), dtype=np.int64)
            for size in (2, 4, 5):
                values, whole = index.records_of_size(rows, size)
                assert values.shape == (len(rows), size) and values.dtype == np.uint32
                for r, got, ok in zip(rows.tolist(), values.tolist(), whole.tolist(),
                                      strict=True):
                    doc, line, payload = index.record(r)
                    assert ok == (len(payload) + 2 == size)
                    assert got == ([doc, line, *payload.tolist()] if ok else [0] * size)
            # any rows' sets and heads at once, in the order asked, repeats included
            bounds, values = index.payloads(rows)
            docs, lines = index.heads(rows)
            assert bounds.tolist()[0] == 0 and len(bounds) == len(rows) + 1
            assert values.dtype == np.uint32 and len(values) == bounds[-1]
            for i, r in enumerate(rows.tolist()):
                doc, line, payload = index.record(r)
                assert values[bounds[i]:bounds[i + 1]].tolist() == payload.tolist()
                assert (int(docs[i]), int(lines[i])) == (doc, line)
        finally:
            index.close()


def _fill(index: CorpusIndex) -> None:
    d = index.add_document("doc-a", 40, None)
    r = index.add_row(d, 3, np.array([1, 5, 9], dtype=np.uint32))
    index.bands.add(np.array([11, 12], dtype=np.uint64), np.array([r, r], dtype=np.uint64))
    d2 = index.add_document("doc-b\nwith a newline", 10, d)
    r2 = index.add_row(d2, 1, np.array([4, 2], dtype=np.uint32))
    index.exact.add(np.array([99], dtype=np.uint64), np.array([r2], dtype=np.uint64))


def test_index_saves_and_loads(tmp_path: Path) -> None:
    cfg = Config()
    index = CorpusIndex(cfg, tmp_path / "ix")
    _fill(index)
    index.save()
    index.close()
    meta = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert meta["paragraphs"] == 2 and meta["documents"] == 2 and meta["runs"] == 1
    again = CorpusIndex(cfg, tmp_path / "ix")
    assert again.paragraphs == 2 and again.documents == 2 and again.runs == 1
    assert again.record(0)[:2] == (0, 3)
    assert again.record(0)[2].tolist() == [1, 5, 9]
    assert again.record(1)[2].tolist() == [4, 2]
    assert again.doc_id(0) == "doc-a" and again.doc_id(1) == "doc-b with a newline"
    assert int(again.doc_cluster.view()[1]) == 0
    _q, rows = again.bands.lookup(np.array([12], dtype=np.uint64))
    assert rows.tolist() == [0]
    # new rows go after the loaded ones
    d = again.add_document("doc-c", 5, None)
    assert d == 2 and again.add_row(d, 1, np.array([3], dtype=np.uint32)) == 2
    assert again.record(2)[2].tolist() == [3] and again.record(1)[2].tolist() == [4, 2]
    again.close()


def test_unsaved_records_are_cut_off_on_load(tmp_path: Path) -> None:
    cfg = Config()
    index = CorpusIndex(cfg, tmp_path / "ix")
    _fill(index)
    index.save()
    # a later run appends records, then stops before saving
    d = index.add_document("lost", 5, None)
    index.add_row(d, 1, np.arange(100, dtype=np.uint32))
    index.close()
    again = CorpusIndex(cfg, tmp_path / "ix")
    assert again.paragraphs == 2 and again.documents == 2
    assert (tmp_path / "ix" / "rows.u32").stat().st_size == again.store.rows.end
    again.close()


def test_index_under_another_config_is_refused(tmp_path: Path) -> None:
    index = CorpusIndex(Config(), tmp_path / "ix")
    _fill(index)
    index.save()
    index.close()
    with pytest.raises(ConfigError) as err:
        CorpusIndex(Config().replace(lsh={"num_perm": 64}), tmp_path / "ix")
    assert "num_perm 128 (index) vs 64 (this run)" in str(err.value)
    assert "bands 16 (index) vs 12 (this run)" in str(err.value)
    with pytest.raises(ConfigError, match="shingle_size 2"):
        CorpusIndex(Config().replace(shingle={"size": 3}), tmp_path / "ix")
    # the verification threshold is not baked into the keys: a stricter run may reuse it
    CorpusIndex(Config().replace(lsh={"threshold": 0.9}), tmp_path / "ix").close()


def test_a_directory_that_is_no_index_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a dedup index"):
        CorpusIndex(Config(), tmp_path / "other")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"manifest\.json is damaged"):
        CorpusIndex(Config(), tmp_path / "bad")


@given(st.lists(st.tuples(st.integers(0, 2**31), st.lists(st.integers(0, 2**32 - 1),
                                                             max_size=6)), max_size=8),
       st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_add_rows_equals_add_row_one_by_one(rows: list[tuple[int, list[int]]], doc: int) -> None:
    """The batch write stores the same records at the same offsets, with the same rows."""
    one, many = CorpusIndex(Config(), None), CorpusIndex(Config(), None)
    for index in (one, many):
        index.add_row(0, 5, np.array([7, 8], dtype=np.uint32))  # an earlier row
    payloads = [np.array(p, dtype=np.uint32) for _, p in rows]
    want = [one.add_row(doc, line, p) for (line, _), p in zip(rows, payloads, strict=True)]
    got = many.add_rows(doc, [line for line, _ in rows], payloads)
    assert got == want
    assert np.array_equal(many.row_offsets.view(), one.row_offsets.view())
    assert np.array_equal(many.row_doc.view(), one.row_doc.view())
    for row in want:
        d, line, hashes = many.record(row)
        d1, line1, hashes1 = one.record(row)
        assert (d, line) == (d1, line1) and np.array_equal(hashes, hashes1)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**31),
                          st.lists(st.integers(0, 2**32 - 1), max_size=6)), max_size=10),
       st.lists(st.tuples(st.text(max_size=8), st.integers(0, 2**33), st.integers(0, 4)),
                max_size=6))
@settings(max_examples=60, deadline=None)
def test_window_writes_equal_one_by_one(rows: list[tuple[int, int, list[int]]],
                                        docs: list[tuple[str, int, int]]) -> None:
    """Rows of several documents and several documents, each in one write: the same store
    bytes, offsets, row documents, ids, tokens (capped at 2**32 - 1) and clusters."""
    one, many = CorpusIndex(Config(), None), CorpusIndex(Config(), None)
    for index in (one, many):
        index.add_document("first\nid", 3, None)
        index.add_row(0, 5, np.array([7, 8], dtype=np.uint32))
    want_docs = [one.add_document(i, t, c) for i, t, c in docs]
    assert many.add_documents([i for i, _, _ in docs], [t for _, t, _ in docs],
                              [c for _, _, c in docs]) == (want_docs[0] if docs else 1)
    want = [one.add_row(d, line, np.array(p, dtype=np.uint32)) for d, line, p in rows]
    first = many.add_rows_flat(np.array([d for d, _, _ in rows], dtype=np.int64),
                               np.array([line for _, line, _ in rows], dtype=np.int64),
                               np.array([len(p) for _, _, p in rows], dtype=np.int64),
                               np.array([v for _, _, p in rows for v in p], dtype=np.uint32))
    assert list(range(first, first + len(rows))) == want
    for stream in ("rows", "ids"):
        a, b = getattr(many.store, stream), getattr(one.store, stream)
        assert a.read(0, a.end) == b.read(0, b.end), stream
    for name in ("row_offsets", "row_doc", "doc_id_offsets", "doc_tokens", "doc_cluster"):
        assert np.array_equal(getattr(many, name).view(), getattr(one, name).view()), name
    assert [many.doc_id(d) for d in range(many.documents)] == \
        [one.doc_id(d) for d in range(one.documents)]


def test_add_rows_flat_refuses_a_payload_of_the_wrong_length() -> None:
    index = CorpusIndex(Config(), None)
    with pytest.raises(ValueError, match="payload values"):
        index.add_rows_flat(np.array([0]), np.array([1]), np.array([3]),
                            np.array([1, 2], dtype=np.uint32))
    assert index.paragraphs == 0 and index.store.rows.end == 0
