"""Documents finished on the workers: the parent holds only the corpus keys of each document,
the corpus stage decides from them, and the workers turn the outcomes into the results. The
results must be those of one process, byte for byte."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.batch import run_clean
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate, write_corpus
from dedup.crossdoc import CorpusDeduper
from dedup.index import CorpusIndex
from dedup.io.writers import removed_lines
from dedup.parallel import finish_chunk, finish_documents, finish_record, prepare_to_finish
from dedup.pipeline import Cleaner, CleanResult
from dedup.records import Finished, Prepared
from dedup.staged import StagedDeduper
from dedup.types import Document

from .test_staged import WORDS, prepared


def _texts(n: int, seed: int = 11) -> list[str]:
    return [d["text"] for d, _ in generate(GeneratorConfig(docs=n, seed=seed, split="test"))]


def _summary(result: CleanResult) -> tuple[object, ...]:
    lines, dropped = result.line_counts()
    return result.text, lines, tuple(dropped), result.dropped_document, result.doc.cluster


@pytest.mark.parametrize("documents", ["tag", "drop"])
def test_finished_on_workers_equal_one_process(documents: str) -> None:
    texts = _texts(150)
    texts[7] += "\nUn café à Zürich: 12 € la tasse, 東京 ✓ and a lone \udc80 surrogate.\n"
    cfg = Config().replace(corpus={"documents": documents})
    one = Cleaner(cfg)
    serial = list(one.clean_documents(texts))
    many = Cleaner(cfg, jobs=2)
    got = list(many.clean_documents(texts, finished=True, removed=True))
    assert [_summary(r) for r in got] == [_summary(r) for r in serial]
    assert [r.finished.removed for r in got if r.finished] == [removed_lines(r) for r in serial]
    assert all(r.finished is not None and r.verdicts == [] for r in got)
    utf8 = [(len(r.doc.text.encode("utf-8", "surrogatepass")),
             len(r.text.encode("utf-8", "surrogatepass"))) for r in got]
    assert [(r.finished.bytes_in, r.finished.bytes_out) for r in got if r.finished] == utf8
    assert any(a != len(r.doc.text) for (a, _), r in zip(utf8, got, strict=True))
    assert sum(r.dropped_document for r in got) == sum(r.dropped_document for r in serial)
    # the planted copies were found, and the statistics count the same lines
    assert one.stats.reasons["duplicate:cross-doc"] > 100
    strip = {"stage_seconds"}
    assert ({k: v for k, v in many.stats.to_dict().items() if k not in strip}
            == {k: v for k, v in one.stats.to_dict().items() if k not in strip})
    with pytest.raises(ValueError, match="finished on a worker"):
        _ = got[0].removed
    one.close()
    many.close()


def test_finished_without_removed_records_and_without_a_corpus_stage() -> None:
    texts = _texts(70, seed=3)
    cfg = Config().replace(corpus={"enabled": False})
    serial = list(Cleaner(cfg).clean_documents(texts))
    got = list(Cleaner(cfg, jobs=3).clean_documents(texts, finished=True))
    assert [_summary(r) for r in got] == [_summary(r) for r in serial]
    assert all(r.finished is not None and r.finished.removed is None for r in got)


def test_without_finished_a_parallel_run_still_gives_paragraphs() -> None:
    texts = _texts(40, seed=4)
    got = list(Cleaner(Config(), jobs=2).clean_documents(texts))
    assert all(r.finished is None and len(r.verdicts) == len(r.doc.paragraphs) for r in got)


def _thin(doc: Document) -> Document:
    """The parent's copy of a prepared document: its text and keys, no paragraphs."""
    return Document(doc.id, doc.text, ordinal=doc.ordinal, corpus_keys=doc.corpus_keys)


@pytest.mark.parametrize("crowded", [2, 64])
def test_outcomes_from_the_keys_alone_equal_the_reference(crowded: int) -> None:
    """Thin documents (no paragraphs) get the reference's verdicts and clusters, in windows
    decided in rounds and in crowded windows the reference decides on stand-ins."""
    base = " ".join(WORDS[:20])
    variants = [base.replace(WORDS[i], WORDS[i].upper() + "x") for i in range(20)]
    texts = [f"{v}\n{base}\nShort line {i % 3}" for i, v in enumerate(variants)] + _texts(30)
    blob = prepared(texts, Config())
    ref_docs = pickle.loads(blob)
    ref_index = CorpusIndex(Config())
    reference = [(tuple(p.verdict for p in d.paragraphs), d.cluster)
                 for d in CorpusDeduper(Config(), ref_index)(ref_docs)]
    full = pickle.loads(blob)
    index = CorpusIndex(Config())
    staged = StagedDeduper(Config(), index, window=16, crowded=crowded)
    outcomes = [out for _, out in staged.outcomes([_thin(d) for d in full])]
    got = [(tuple(p.verdict for p in out.apply(d).paragraphs), d.cluster)
           for d, out in zip(full, outcomes, strict=True)]
    assert got == reference
    assert index.bands.compact().tobytes() == ref_index.bands.compact().tobytes()
    assert (staged.crowded_windows > 0) == (crowded == 2)
    assert any(v is not None and v.reason == "duplicate:cross-doc"
               for verdicts, _ in got for v in verdicts)
    index.close()
    ref_index.close()


def test_a_chunk_finishes_the_same_on_any_process() -> None:
    """The worker functions: keys and an unread blob out, the same results from the blob and
    the outcomes as from the documents themselves."""
    texts = _texts(12, seed=8)
    cfg = Config().replace(corpus={"enabled": False})
    state = {"cleaner": Cleaner(cfg), "removed": True}
    docs = [Document(f"d{i}", t, ordinal=i) for i, t in enumerate(texts)]
    keys, blob, seconds = prepare_to_finish(state, [dataclasses.replace(d) for d in docs])
    assert keys == [None] * len(docs) and isinstance(blob, bytes) and "boilerplate" in seconds
    done, took = finish_chunk(state, pickle.loads(pickle.dumps((blob, (None,) * len(docs)))))
    assert set(took) == {"finish"}
    serial = list(Cleaner(cfg).clean_documents(docs))
    assert [f.text for f in done] == [r.text for r in serial]
    assert [f.removed for f in done] == [removed_lines(r) for r in serial]
    assert pickle.loads(pickle.dumps(done)) == done and isinstance(done[0], Finished)


def test_run_clean_with_removed_is_byte_identical_across_jobs(tmp_path: Path) -> None:
    write_corpus(GeneratorConfig(docs=160, seed=21, split="test"), tmp_path / "c")
    src = str(tmp_path / "c" / "docs.jsonl")
    outs = []
    for jobs in (1, 2, 3):
        out, rem = tmp_path / f"o{jobs}.jsonl", tmp_path / f"r{jobs}.jsonl"
        run_clean([src], str(out), Config(), jobs=jobs, removed=str(rem))
        outs.append((out.read_bytes(), rem.read_bytes()))
    assert outs[0] == outs[1] == outs[2]
    assert b"duplicate:cross-doc" in outs[0][1]


_LINES = [" ".join(WORDS[i:i + n]) for i in range(0, 20, 3) for n in (2, 9, 14)]


@st.composite
def _corpus(draw: st.DrawFn) -> list[str]:
    line = st.one_of(st.sampled_from(_LINES), st.sampled_from(["", "   ", "\t"]),
                     st.text(alphabet="ab cé\u00a0", max_size=12))
    return draw(st.lists(st.lists(line, max_size=12).map("\n".join), min_size=1, max_size=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_corpus(), drop=st.booleans(), removed=st.booleans())
def test_finishing_from_the_record_equals_finishing_the_document(
        texts: list[str], drop: bool, removed: bool) -> None:
    """Blank and whitespace lines, copies in and across documents, both document modes: the
    record path gives the object path's text, counts and removed records."""
    cfg = Config().replace(corpus={"documents": "drop" if drop else "tag"},
                           boilerplate={"enabled": False})
    docs = pickle.loads(prepared(texts, cfg))
    records = [dataclasses.replace(Prepared.of(d), keys=None) for d in docs]
    index = CorpusIndex(cfg)
    outcomes = [o for _, o in StagedDeduper(cfg, index).outcomes(
        [Document(d.id, d.text, ordinal=d.ordinal, corpus_keys=d.corpus_keys) for d in docs])]
    index.close()
    by_objects = finish_documents(docs, outcomes, cfg, removed)
    by_records = [finish_record(d.id, d.text, r, o, cfg, removed)
                  for d, r, o in zip(docs, records, outcomes, strict=True)]
    assert by_records == by_objects


def test_local_workers_pass_chunks_through_files_removed_after_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local workers leave a prepared chunk in a file of a private directory until its
    decisions come (and the repetition sample's hashed chunks in another, until one worker
    has applied them); the directories are gone after the run, and after a run stopped
    early."""
    import tempfile

    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(**kw: str) -> str:
        made.append(real(dir=tmp_path, **kw))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    texts = _texts(120, seed=6)
    serial = [_summary(r) for r in Cleaner(Config()).clean_documents(texts)]
    got = [_summary(r) for r in Cleaner(Config(), jobs=3).clean_documents(texts, finished=True)]
    assert got == serial

    def chunks() -> list[str]:
        return [m for m in made if Path(m).name.startswith("dedup-chunks-")]

    assert len(chunks()) == 1 and len(made) == 2  # the chunks', the sample's counts'
    assert not any(Path(m).exists() for m in made)
    stopped = Cleaner(Config(), jobs=2).clean_documents(texts, finished=True)
    next(stopped)
    stopped.close()
    assert len(chunks()) == 2 and len(made) == 4
    assert not any(Path(m).exists() for m in made)


def test_a_chunk_waits_in_its_file_until_finished(tmp_path: Path) -> None:
    cfg = Config().replace(corpus={"enabled": False})
    state = {"cleaner": Cleaner(cfg), "removed": True, "spill": str(tmp_path)}
    docs = [Document(f"d{i}", t, ordinal=i) for i, t in enumerate(_texts(8, seed=2))]
    _, path, _ = prepare_to_finish(state, [dataclasses.replace(d) for d in docs])
    assert isinstance(path, str) and Path(path).parent == tmp_path and Path(path).is_file()
    done, _ = finish_chunk(state, (path, (None,) * len(docs)))
    assert not Path(path).exists()  # read once, then removed
    assert [f.text for f in done] == [r.text for r in Cleaner(cfg).clean_documents(docs)]


@pytest.mark.parametrize("kernels", [True, False])
def test_finished_records_travel_as_rows_and_come_back_equal(kernels: bool) -> None:
    """A chunk's finished records reach the parent as rows and are made there at once (or by
    the class without the kernel): equal records, their reason counts as the worker made
    them."""
    import contextlib

    from dedup.kernels import kernels_off
    from dedup.parallel import FinishedList

    records = FinishedList([
        Finished("a\n", 3, ("boilerplate:nav", "duplicate:exact", "boilerplate:nav"), None,
                 12, 2),
        Finished("", 0, (), '{"line": 1}\n', 0, 0),
        Finished("é\n", 1, (), None, 3, 3)])
    assert records[0].tally == (("boilerplate:nav", 2), ("duplicate:exact", 1))
    with kernels_off() if not kernels else contextlib.nullcontext():
        back = pickle.loads(pickle.dumps(records))
    assert back == list(records) and all(type(f) is Finished for f in back)
    assert [f.tally for f in back] == [f.tally for f in records]
