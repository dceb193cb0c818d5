"""The corpus stage decided a window at a time (dedup/staged.py) against the reference
(CorpusDeduper, one document after the other): the same verdicts, clusters and index arrays
on the generated corpus, the seed, and random corpora full of planted copies and variants."""

from __future__ import annotations

import itertools
import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.cli import main
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.crossdoc import MARKS, CorpusDeduper, similarities
from dedup.index import CorpusIndex
from dedup.pipeline import Cleaner
from dedup.records import KeyColumns, KeyRef, KeysChunk, PreparedKeys
from dedup.staged import (
    CROWDED,
    CorpusOutcome,
    OutcomeColumns,
    StagedDeduper,
    corpus_deduper,
    decision_rounds,
    window_columns,
)
from dedup.types import CorpusKeys, DocCluster, Document, Verdict

CFG = Config().replace(boilerplate={"enabled": False})
WORDS = [
    "harbour", "bridge", "council", "budget", "river", "flood", "oak", "bakery", "bread",
    "starter", "mill", "queue", "dawn", "loaf", "engineers", "rivets", "span", "green",
    "commuters", "detour", "parade", "volunteers", "saplings", "winter", "debate", "monday",
    "steel", "repairs", "months",
]


def prepared(texts: list[str], cfg: Config = CFG) -> bytes:
    """The documents after every per-document stage (pickled: each engine gets fresh copies)."""
    cleaner = Cleaner(cfg)
    if cleaner.uses_repetition:
        cleaner.counts = cleaner.count_lines(texts)
        cleaner.classifiers = cleaner._build_classifiers()
    docs = list(cleaner.prepare([Document(id=f"d{i}", text=t, ordinal=i)
                                 for i, t in enumerate(texts)]))
    cleaner.close()
    return pickle.dumps(docs)


Decided = list[tuple[list[Verdict | None], DocCluster | None]]


def decided(blob: bytes, engine: type[CorpusDeduper], cfg: Config = CFG,
            **kw: int) -> tuple[Decided, dict[str, bytes], CorpusDeduper]:
    """Every paragraph's verdict and every document's cluster, and the index's arrays."""
    docs = pickle.loads(blob)
    index = CorpusIndex(cfg)
    deduper = StagedDeduper(cfg, index, **kw) if engine is StagedDeduper else engine(cfg, index)
    out: Decided = [([p.verdict for p in d.paragraphs], d.cluster) for d in deduper(docs)]
    arrays = {"bands": index.bands.compact().tobytes(), "exact": index.exact.compact().tobytes(),
              "rows": index.store.rows.read(0, index.store.rows.end),
              "row_doc": index.row_doc.view().tobytes(),
              "clusters": index.doc_cluster.view().tobytes(),
              "tokens": index.doc_tokens.view().tobytes()}
    index.close()
    return out, arrays, deduper


def assert_same(blob: bytes, cfg: Config = CFG, **kw: int) -> StagedDeduper:
    ref, ref_arrays, _ = decided(blob, CorpusDeduper, cfg)
    got, got_arrays, staged = decided(blob, StagedDeduper, cfg, **kw)
    for n, (a, b) in enumerate(zip(ref, got, strict=True)):
        assert a == b, f"document {n} differs"
    assert got_arrays == ref_arrays
    assert isinstance(staged, StagedDeduper)
    return staged


@pytest.fixture(scope="module")
def generated() -> bytes:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=240, seed=7, split="test"))]
    return prepared(texts, Config())


@pytest.mark.parametrize("window", [1, 7, 64, MARKS])
def test_generated_corpus_same_as_the_reference(generated: bytes, window: int) -> None:
    staged = assert_same(generated, Config(), window=window)
    assert staged.crowded_windows == 0
    assert len(staged.rounds) == -(-240 // window)


def test_the_generated_corpus_has_copies_to_decide(generated: bytes) -> None:
    out, _, _ = decided(generated, StagedDeduper, Config())
    reasons = [v.reason for verdicts, _ in out for v in verdicts if v is not None]
    assert reasons.count("duplicate:cross-doc") > 500


def test_seed_same_as_the_reference(seed_text: str) -> None:
    blob = prepared([seed_text, seed_text, seed_text.replace("\n", "\n\n")], Config())
    assert_same(blob, Config())
    out, _, _ = decided(blob, StagedDeduper, Config())
    reasons = [v.reason for v in out[1][0] if v is not None]
    assert "duplicate:cross-doc" in reasons


def test_a_crowded_window_goes_to_the_reference() -> None:
    base = " ".join(WORDS[:20])
    variants = [base.replace(WORDS[i], WORDS[i].upper() + "x") for i in range(20)]
    texts = [f"{v}\n{base}" for v in variants]
    blob = prepared(texts)
    staged = assert_same(blob, crowded=4)
    assert staged.crowded_windows == 1 and staged.rounds == []
    wide = assert_same(blob, crowded=CROWDED)
    assert wide.crowded_windows == 0 and len(wide.rounds) == 1


def test_the_engine_for_a_run() -> None:
    index = CorpusIndex(CFG)
    assert isinstance(corpus_deduper(CFG, index), StagedDeduper)
    drop = CFG.replace(corpus={"documents": "drop"})
    assert isinstance(corpus_deduper(drop, index), StagedDeduper)
    longest = corpus_deduper(CFG, index, frozenset({1}))  # keep longest: canonical copies
    assert type(longest) is CorpusDeduper
    assert decision_rounds(longest) == {"engine": "sequential"}
    assert decision_rounds(None) == {"engine": "none"}
    with pytest.raises(ValueError, match="window"):
        StagedDeduper(CFG, index, window=MARKS + 1)
    index.close()


def _paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def _variant(rng: random.Random, text: str) -> str:
    words = text.rstrip(".").split()
    for _ in range(rng.randint(1, 3)):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words) + "."


@st.composite
def corpora(draw: st.DrawFn) -> tuple[list[str], int]:
    """Documents drawn from a small pool of long paragraphs (copied exactly, varied by a word
    or three, or fresh), with short headings between them, copies inside one document too."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    pool = [_paragraph(rng, rng.randint(8, 24)) for _ in range(draw(st.integers(1, 6)))]
    heads = ["Key quotes", "Related", "Share this", "Photo: archive"]
    texts = []
    for _ in range(draw(st.integers(1, 14))):
        lines = []
        for _ in range(rng.randint(0, 7)):
            roll = rng.random()
            if roll < 0.4:
                lines.append(rng.choice(pool))
            elif roll < 0.7:
                lines.append(_variant(rng, rng.choice(pool)))
            elif roll < 0.85:
                lines.append(rng.choice(heads))
            else:
                lines.append(_paragraph(rng, rng.randint(3, 20)))
        texts.append("\n".join(lines))
    return texts, draw(st.integers(1, 6))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.sampled_from([0.5, 0.7, 0.9]))
def test_random_corpora_same_as_the_reference(corpus: tuple[list[str], int],
                                              threshold: float) -> None:
    texts, window = corpus
    cfg = CFG.replace(lsh={"threshold": threshold}, corpus={"document_threshold": 0.3})
    assert_same(prepared(texts, cfg), cfg, window=window)


@pytest.mark.parametrize("window", [5, 64])
def test_dropped_documents_same_as_the_reference(generated_drop: bytes, window: int) -> None:
    cfg = Config().replace(corpus={"documents": "drop"})
    staged = assert_same(generated_drop, cfg, window=window)
    out, _, _ = decided(generated_drop, StagedDeduper, cfg, window=window)
    assert sum(v is not None and v.reason == "duplicate:document"
               for verdicts, _ in out for v in verdicts) > 20
    assert staged.restarts >= 0


@pytest.fixture(scope="module")
def generated_drop() -> bytes:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=160, seed=11, split="test"))]
    return prepared(texts, Config().replace(corpus={"documents": "drop"}))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.sampled_from([0.2, 0.5]))
def test_random_corpora_dropping_documents_same_as_the_reference(
        corpus: tuple[list[str], int], document_threshold: float) -> None:
    """Documents that join a cluster are dropped and index nothing: windows decided again
    after them give the reference's verdicts."""
    texts, window = corpus
    cfg = CFG.replace(corpus={"documents": "drop", "document_threshold": document_threshold})
    assert_same(prepared(texts, cfg), cfg, window=window)


def test_a_window_is_decided_again_after_a_dropped_document() -> None:
    """Document 1 joins document 0's cluster and is dropped, but holds a paragraph of its own
    that document 2 copies: in the reference, document 2 keeps it (nothing indexed it); the
    window must be decided again after document 1 to agree."""
    rng = random.Random(3)
    a, b, c, own = (_paragraph(rng, 20) for _ in range(4))
    texts = [f"{a}\n{b}\n{c}", f"{a}\n{b}\n{c}\n{own}", f"{own}"]
    cfg = CFG.replace(corpus={"documents": "drop"})
    blob = prepared(texts, cfg)
    staged = assert_same(blob, cfg, window=8)
    assert staged.restarts == 1
    out, _, _ = decided(blob, StagedDeduper, cfg, window=8)
    assert [v is None for v in out[2][0]] == [True]  # kept: its copy was never indexed


def test_the_report_says_the_decision_rounds(tmp_path: Path) -> None:
    paragraphs = [_paragraph(random.Random(i), 24) for i in range(4)]
    near = [p.replace(p.split()[3], "Zanzibar", 1) for p in paragraphs]  # one word changed
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": "\n".join(t)}) + "\n"
                           for t in (paragraphs, near, paragraphs)))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out.jsonl"),
                                       "--report", str(report), "--quiet"])
    assert result.exit_code == 0, result.output
    rounds = json.loads(report.read_text())["decision_rounds"]
    assert rounds["engine"] == "rounds" and rounds["windows"] == 1
    assert rounds["max"] >= 1 and rounds["crowded_windows"] == 0
    assert rounds["total"] >= rounds["max"]
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out[1]["text"] == out[2]["text"] == ""  # the variants and the copies dropped


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of pairs every similarity pass of the corpus stage verifies."""
    import dedup.staged

    sizes: list[int] = []
    real = similarities

    def counted(mine: list[np.ndarray], stored: list[np.ndarray]) -> np.ndarray:
        sizes.append(len(mine))
        return real(mine, stored)

    monkeypatch.setattr(dedup.staged, "similarities", counted)
    return sizes


@pytest.mark.parametrize("n", [200, 800])
def test_copies_across_documents_verify_a_bounded_number_of_pairs(
        monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """One paragraph copied into ``n`` documents is one exact group: the pairs verified grow
    with the number of windows, not with the square of the copies."""
    rng = random.Random(5)
    shared = _paragraph(rng, 30)
    blob = prepared([f"{shared}\n{_paragraph(rng, 25)}" for _ in range(n)])
    sizes = _counting(monkeypatch)
    staged = assert_same(blob, window=100)
    windows = -(-n // 100)
    assert len(staged.rounds) == windows
    assert sum(sizes) <= 4 * n  # each window: its own paragraphs against the kept copy
    out, _, _ = decided(blob, StagedDeduper, window=100)
    assert sum(v is not None and v.reason == "duplicate:cross-doc"
               for verdicts, _ in out for v in verdicts) == n - 1


def test_near_variants_of_a_template_stay_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variants of one template share band keys: a window with more than ``CROWDED`` of them
    under one key goes to the reference (which meets kept rows only), so the pairs verified
    stay linear in the variants."""
    rng = random.Random(9)
    template = _paragraph(rng, 40)
    texts = [_variant(rng, template) for _ in range(600)]
    blob = prepared(texts)
    sizes = _counting(monkeypatch)
    staged = assert_same(blob, window=256)
    assert staged.crowded_windows >= 1
    assert sum(sizes) <= 2 * CROWDED * len(texts)


def test_an_outcome_travels_as_plain_values_and_applies_to_its_document() -> None:
    rng = random.Random(4)
    a, b = _paragraph(rng, 20), _paragraph(rng, 20)
    blob = prepared([f"{a}\n{b}", f"Key quotes\n{a}\n{b}"])
    docs = pickle.loads(blob)
    fresh = pickle.loads(blob)
    list(StagedDeduper(CFG, CorpusIndex(CFG))(docs))
    drops = tuple((i, p.verdict.reason, p.verdict.score, p.verdict.match.doc,
                   p.verdict.match.line, p.verdict.detail)
                  for i, p in enumerate(docs[1].paragraphs)
                  if p.verdict is not None and p.verdict.match is not None)
    assert [d[1] for d in drops] == ["duplicate:cross-doc"] * 2
    assert docs[1].cluster is not None
    outcome = pickle.loads(pickle.dumps(CorpusOutcome(drops, docs[1].cluster)))
    assert outcome == CorpusOutcome(drops, docs[1].cluster)
    applied = outcome.apply(fresh[1])
    assert [p.verdict for p in applied.paragraphs] == [p.verdict for p in docs[1].paragraphs]
    assert applied.cluster == docs[1].cluster and applied.cluster.duplicate


def _keyed_by_chunks(blob: bytes, cuts: list[int]) -> list[tuple[Document, KeyRef | None]]:
    """The documents with their keys as a parallel run's parent gets them: each chunk's records
    through the codec as columns, each document a reference into its chunk's."""
    docs = pickle.loads(blob)
    out: list[tuple[Document, KeyRef | None]] = []
    bounds = [0, *sorted(set(cuts)), len(docs)]
    for lo, hi in itertools.pairwise(bounds):
        chunk = docs[lo:hi]
        if not chunk:
            continue
        cols = pickle.loads(pickle.dumps(KeysChunk(
            PreparedKeys.of(d.corpus_keys) if d.corpus_keys is not None else None
            for d in chunk)))
        assert isinstance(cols, KeyColumns)
        for j, doc in enumerate(chunk):
            doc.corpus_keys = None
            out.append((doc, KeyRef(cols, j)))
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 240), max_size=6), st.sampled_from([7, 64, MARKS]),
       st.booleans())
def test_keys_given_as_chunk_columns_decide_as_the_documents_own(
        generated: bytes, cuts: list[int], window: int, drop: bool) -> None:
    """The parent of a parallel run gives the corpus stage each document's keys as a reference
    into its chunk's columns, windows spanning chunks anywhere: the same outcomes, and the same
    index, as the documents' own keys."""
    cfg = Config().replace(corpus={"documents": "drop"}) if drop else Config()
    own_index, col_index = CorpusIndex(cfg), CorpusIndex(cfg)
    own = list(StagedDeduper(cfg, own_index, window=window).outcomes(pickle.loads(generated)))
    got = list(StagedDeduper(cfg, col_index, window=window).keyed_outcomes(
        _keyed_by_chunks(generated, cuts)))
    assert [o for _, o in got] == [o for _, o in own]
    assert col_index.bands.compact().tobytes() == own_index.bands.compact().tobytes()
    assert col_index.exact.compact().tobytes() == own_index.exact.compact().tobytes()
    assert col_index.row_doc.view().tobytes() == own_index.row_doc.view().tobytes()
    own_index.close()
    col_index.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 240), max_size=6), st.sampled_from([7, 64, MARKS]),
       st.sampled_from([1 << 30, 9000, 25000]), st.booleans())
def test_chunks_decide_as_documents_one_by_one(
        generated: bytes, cuts: list[int], window: int, chars: int, drop: bool) -> None:
    """keyed_chunks (a parallel run's parent: a chunk of documents with their keys and text
    lengths at a time) closes the same windows as keyed_outcomes, by count and by characters
    (WINDOW_CHARS made small), and hands each chunk its documents' outcomes: the same
    outcomes, rounds and index."""
    import dedup.staged as staged

    cfg = Config().replace(corpus={"documents": "drop"}) if drop else Config()
    one_index, chunk_index = CorpusIndex(cfg), CorpusIndex(cfg)
    keyed = _keyed_by_chunks(generated, cuts)
    docs = pickle.loads(generated)
    lengths = {d.id: len(d.text) for d in docs}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(staged, "WINDOW_CHARS", chars)
        one = StagedDeduper(cfg, one_index, window=window)
        want = [o for _, o in one.keyed_outcomes(
            _keyed_by_chunks(generated, cuts), lambda d: lengths[d.id])]
        chunks = []
        for _, group in itertools.groupby(keyed, key=lambda p: id(p[1].columns)):
            pairs = list(group)
            chunks.append(([d for d, _ in pairs], [k for _, k in pairs],
                           [lengths[d.id] for d, _ in pairs]))
        by_chunks = StagedDeduper(cfg, chunk_index, window=window)
        got = []
        parts: list[OutcomeColumns] = []
        for (chunk, _, _), (handed, outcomes) in zip(
                chunks, by_chunks.keyed_chunks(iter(chunks)), strict=True):
            assert handed is chunk and len(outcomes) == len(chunk)
            assert isinstance(outcomes, OutcomeColumns)  # (made into outcomes where read)
            assert pickle.loads(pickle.dumps(outcomes)) == list(outcomes)  # as to a worker
            parts.append(outcomes)
            got += outcomes
    assert got == want
    joined = OutcomeColumns.join(parts)  # slices of windows, joined again: the same outcomes
    assert joined == want and len(joined) == len(want)
    for a, b in ((0, len(want)), (len(want) // 3, len(want) // 2), (5, 5)):
        assert list(joined[a:b]) == want[a:b]
    assert by_chunks.rounds == one.rounds
    assert chunk_index.bands.compact().tobytes() == one_index.bands.compact().tobytes()
    assert chunk_index.row_doc.view().tobytes() == one_index.row_doc.view().tobytes()
    one_index.close()
    chunk_index.close()


def test_window_columns_join_chunk_slices_and_plain_keys_alike(generated: bytes) -> None:
    """A window mixing references into two chunks' columns and documents' own keys (a chunk
    prepared in the parent) has the columns of all of them made from their own keys."""
    docs = pickle.loads(generated)[:40]
    plain = [d.corpus_keys for d in docs]
    keyed = _keyed_by_chunks(pickle.dumps(docs), [13, 27])
    mixed: list[CorpusKeys | KeyRef | None] = [k for _, k in keyed]
    mixed[20:25] = plain[20:25]
    want = KeyColumns.of_keys(plain)
    got = window_columns(mixed)
    for name in KeyColumns.__slots__:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    for j, own in enumerate(plain):  # and each document's keys read back are its own
        back = got.corpus_keys(j)
        assert (back is None) == (own is None)
        if back is None or own is None:
            continue
        assert (back.content, back.tokens, back.longs, back.short_hash) == \
            (own.content, own.tokens, own.longs, own.short_hash)
        assert all(np.array_equal(back.sets[k], own.sets[k]) for k in own.longs)
        assert (back.keys32 is None) == (own.keys32 is None)
        assert own.keys32 is None or (back.keys32 is not None
                                      and np.array_equal(back.keys32, own.keys32))


def test_copies_in_the_index_are_found_by_group_and_decide_as_the_band_look_up(
        generated: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most long paragraphs of the generated corpus are copies of a kept paragraph of an
    earlier window: they are dropped against it by the exact-group short cut, with the
    reference's verdicts and index; with the short cut off (every group looks its band keys
    up) the outcomes are the same."""
    import dedup.staged as staged

    found: list[int] = []
    real = staged._copies

    def spy(*args: object) -> tuple[np.ndarray, np.ndarray]:
        groups, rows = real(*args)  # type: ignore[arg-type]
        found.append(len(groups))
        return groups, rows

    monkeypatch.setattr(staged, "_copies", spy)
    assert_same(generated, Config(), window=16)
    assert sum(found) > 100
    with_copies = [o for _, o in StagedDeduper(Config(), CorpusIndex(Config()), window=16)
                   .outcomes(pickle.loads(generated))]
    monkeypatch.setattr(staged, "_copies", lambda *a: (np.empty(0, dtype=np.int64),) * 2)
    without = [o for _, o in StagedDeduper(Config(), CorpusIndex(Config()), window=16)
               .outcomes(pickle.loads(generated))]
    assert with_copies == without


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True),
                min_size=1, max_size=6),
       st.data())
def test_a_copy_is_a_kept_row_with_the_same_set_whatever_its_group_key(
        stored: list[list[int]], data: st.DataObject) -> None:
    """The copies short cut takes a group only when an index row under its 32-bit group key
    holds the same set (similarity 1): not a row of another size, not a row of the same size
    with another value (keys collide), and only when one row qualifies."""
    import dedup.staged as staged

    index = CorpusIndex(Config())
    try:
        d = index.add_document("kept", 10, None)
        sets = [np.array(sorted(s), dtype=np.uint32) for s in stored]
        for n, s in enumerate(sets):
            index.add_row(d, n + 1, s)
        # every stored row under one of a few keys: rows of any set may share a key
        keys = [data.draw(st.integers(0, 2)) for _ in sets]
        index.copies.add(np.array(keys, dtype=np.uint64), np.arange(len(sets), dtype=np.uint64))
        mine = data.draw(st.lists(st.tuples(st.integers(0, 2), st.one_of(
            st.sampled_from(stored), st.lists(st.integers(0, 40), min_size=1, max_size=8,
                                              unique=True))), min_size=1, max_size=6))
        groups = [np.array(sorted(s), dtype=np.uint32) for _, s in mine]
        bounds = np.zeros(len(groups) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in groups], out=bounds[1:])
        n = len(groups)
        rows = staged.Rows(np.arange(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                           np.arange(n), bounds, np.concatenate(groups),
                           np.zeros((n, 1), dtype=np.uint64),
                           np.array([k for k, _ in mine], dtype=np.uint64))
        got_groups, got_rows = staged._copies(rows, np.arange(n), index)
        expect = []
        for g, (k, s) in enumerate(mine):
            same = [r for r, (kr, sr) in enumerate(zip(keys, stored, strict=True))
                    if kr == k and sorted(sr) == sorted(s)]
            if len(same) == 1:
                expect.append((g, same[0]))
        assert list(zip(got_groups.tolist(), got_rows.tolist(), strict=True)) == expect
    finally:
        index.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=8))
def test_outcomes_read_from_columns_are_the_outcomes_made_one_by_one(sizes: list[int]) -> None:
    """A window's outcomes read from its columns (OutcomeColumns: clusters as names or the
    document's own id, drops as ranges of the drop columns) equal each made by itself: drops,
    clusters, pickles, the columns' own pickle."""
    from dedup.staged import DropColumns

    total = sum(sizes)
    cols = DropColumns(np.arange(total, dtype=np.int64), np.linspace(0.5, 1.0, total),
                       np.arange(total, dtype=np.int64) % 2, np.arange(total, dtype=np.int64) + 3,
                       ("doc-a", "doc-b"))
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    n = len(sizes)
    joined = [j % 2 == 1 for j in range(n)]  # odd documents join an earlier one's cluster
    clusters = [DocCluster(f"c{j}", True, 0.9, j, 10 * j) if joined[j]
                else DocCluster(f"own{j}", False, 1.0, j, 10 * j) for j in range(n)]
    one = [CorpusOutcome.of_columns(cols, lo, hi, c)
           for lo, hi, c in zip(bounds[:-1].tolist(), bounds[1:].tolist(), clusters, strict=True)]
    names = tuple(f"c{j}" for j in range(n) if joined[j])
    name = np.cumsum(joined) - 1
    columns = OutcomeColumns([f"own{j}" for j in range(n)],
                             np.where(joined, name, -1).astype(np.int64), names,
                             np.full(n, 0.9), np.arange(n, dtype=np.int64),
                             10 * np.arange(n, dtype=np.int64), bounds[:-1], bounds[1:], cols)
    made = list(columns)
    assert made == one and all(type(o) is CorpusOutcome for o in made)
    assert [o.drops for o in made] == [o.drops for o in one]
    assert [pickle.loads(pickle.dumps(o)) for o in made] == one
    assert list(pickle.loads(pickle.dumps(columns))) == one
