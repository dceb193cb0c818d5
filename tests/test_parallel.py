"""Local parallel runs: the same bytes for every number of workers."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate.classifier import BATCH as CLASSIFY_BATCH
from dedup.boilerplate.repetition import LineCounts
from dedup.cli import main
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate, write_corpus
from dedup.parallel import Chunk
from dedup.pipeline import Cleaner
from dedup.types import Document, Paragraph

from .conftest import generated_jsonl


def _pages(n: int, seed: int = 5) -> list[str]:
    return [d["text"] for d, _ in generate(GeneratorConfig(docs=n, seed=seed, split="test"))]


def _run(cleaner: Cleaner, texts: list[str]) -> list[tuple[object, ...]]:
    out = [(r.text, tuple((v.reason, v.score, v.match, v.detail) for v in r.verdicts),
            r.doc.cluster) for r in cleaner.clean_documents(texts)]
    cleaner.close()
    return out


@pytest.mark.parametrize("classifier", ["auto", "learned"])
def test_jobs_give_the_same_results_as_one_process(classifier: str) -> None:
    texts = _pages(160)  # enough for corpus counts (the learned classifier) and clusters
    config = Config().replace(boilerplate={"classifier": classifier})
    one = Cleaner(config)
    serial = _run(one, texts)
    assert one.counts is not None  # the sample was counted: the corpus evidence ran
    assert any(c is not None and c.duplicate for _, _, c in serial)  # clusters were found
    for jobs in (2, 3):
        many = Cleaner(config, jobs=jobs)
        assert _run(many, texts) == serial
        assert many.stats.reasons == one.stats.reasons
        assert many.stats.duplicate_documents == one.stats.duplicate_documents


def test_parallel_line_counts_equal_serial_counts() -> None:
    texts = _pages(80)
    serial = Cleaner(Config()).count_lines(texts)
    parallel = Cleaner(Config(), jobs=2).count_lines(texts)
    assert isinstance(parallel, LineCounts) and parallel.documents == serial.documents == 80
    assert (parallel.table == serial.table).all() and (parallel.pairs == serial.pairs).all()
    assert (parallel.bloom == serial.bloom).all()


@pytest.mark.parametrize("forks", [True, False])
def test_the_counts_are_applied_on_a_worker_when_it_forks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: bool) -> None:
    """Forked workers leave their hashed chunks in files and one of them applies them all, in
    order: this process maps the sketch and applies nothing, and the files are gone after.
    Workers that do not fork send the arrays, applied here. The same counts either way."""
    import os
    import tempfile

    texts = _pages(80)
    serial = Cleaner(Config()).count_lines(texts)
    here: list[int] = []
    apply = LineCounts.apply_packed

    def recorded(self: LineCounts, packed: object, compiled: bool = True) -> None:
        here.append(os.getpid())
        apply(self, packed, compiled)  # type: ignore[arg-type]

    monkeypatch.setattr(LineCounts, "apply_packed", recorded)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(Cleaner, "_forks", lambda self: forks)
    cleaner = Cleaner(Config(), jobs=2)
    cleaner.count_lines(texts[:30])
    parallel = cleaner.count_lines(texts[30:])  # on top of the first call's counts
    assert parallel.documents == serial.documents == 80
    assert (parallel.table == serial.table).all() and (parallel.pairs == serial.pairs).all()
    assert (parallel.bloom == serial.bloom).all()
    assert bool(here) is not forks  # applied here only when the workers do not fork
    assert not list(tmp_path.iterdir())


def test_a_coordinating_parent_builds_no_classifiers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers build the classifiers where they first classify (with the sample's counts,
    as one process would: the same output); a parent that only coordinates builds none."""
    import os

    from dedup.batch import run_clean
    from dedup.parallel import LocalExecutor

    src = generated_jsonl(tmp_path / "in", 1, 120)
    built: list[int] = []
    build = Cleaner._build_classifiers

    def recorded(self: Cleaner) -> list[object]:
        built.append(os.getpid())
        return build(self)  # type: ignore[return-value]

    outs = []
    for executor in (None, LocalExecutor(3, helping=False)):
        out = tmp_path / f"out{executor is None}.jsonl"
        with monkeypatch.context() as mp:
            mp.setattr(Cleaner, "_build_classifiers", recorded)
            run_clean([str(src / "part0.jsonl")], str(out), Config(), executor=executor)
        outs.append(out.read_bytes())
        if executor is not None:
            executor.close()
            assert not built  # the workers' builds are in their processes only
        else:
            assert built == [os.getpid()]  # one process: built once, after the sample
            built.clear()
    assert outs[0] == outs[1]


def test_jobs_with_keep_longest_and_full_counts(tmp_path: Path) -> None:
    write_corpus(GeneratorConfig(docs=120, seed=9, split="test"), tmp_path / "c")
    cfg = Config.from_mapping({**Config().to_dict(), "keep": "longest"}).replace(
        boilerplate={"repetition": "full"})
    from dedup.batch import run_clean

    outs = []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}.jsonl"
        run_clean([str(tmp_path / "c" / "docs.jsonl")], str(out), cfg, jobs=jobs,
                  removed=str(tmp_path / f"removed{jobs}.jsonl"))
        outs.append((out.read_bytes(), (tmp_path / f"removed{jobs}.jsonl").read_bytes()))
    assert outs[0] == outs[1]


def test_cli_jobs_one_and_two_agree_byte_for_byte(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for n, text in enumerate(_pages(90, seed=2)):
        (src / f"page{n:03d}.txt").write_text(text, encoding="utf-8")
    runner = CliRunner()
    for jobs in ("1", "2"):
        res = runner.invoke(main, ["clean", str(src), "-o", str(tmp_path / f"out{jobs}"),
                                   "--jobs", jobs, "-q", "--report",
                                   str(tmp_path / f"report{jobs}.json")])
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "out1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "out2").iterdir())
    for name in names:
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()
    r1, r2 = (json.loads((tmp_path / f"report{j}.json").read_text()) for j in "12")
    assert r1["removed"] == r2["removed"] and r1["lines_out"] == r2["lines_out"]
    assert "corpus" in r2["stage_seconds"] and "boilerplate" in r2["stage_seconds"]


def test_bad_jobs_value_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["clean", "-", "-o", "-", "--jobs", "0"], input="x\n")
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_documents_flow_through_workers_with_their_fields() -> None:
    docs = [Document(f"d{i}", f"Line {i} of a page that is long enough to be shingled here.",
                     meta={"url": f"u{i}"}) for i in range(40)]
    results = list(Cleaner(Config(), jobs=2).clean_documents(docs))
    assert [r.doc.id for r in results] == [f"d{i}" for i in range(40)]
    assert [r.doc.meta["url"] for r in results] == [f"u{i}" for i in range(40)]


def test_the_repetition_sample_is_let_go_once_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents held back for the line counts are released one by one as they are
    cleaned: memory is bounded by the sample's raw text and one corpus window (16 documents
    here), not by its cleaned documents."""
    import gc
    import weakref

    import dedup.staged

    monkeypatch.setattr(dedup.staged, "WINDOW", 16)

    class Traced(Document):
        __slots__ = ("__weakref__",)

    texts = _pages(120)
    refs: list[weakref.ref[Document]] = []

    def stream() -> Iterator[Document]:
        for i, t in enumerate(texts):
            doc = Traced(str(i), t)
            refs.append(weakref.ref(doc))
            yield doc

    cleaner = Cleaner(Config().replace(boilerplate={"classifier": "learned"}))
    results = cleaner.clean_documents(stream())
    for _ in range(40):
        next(results)
    gc.collect()
    assert cleaner.counts is not None  # the 120 documents were the sample
    assert sum(r() is not None for r in refs[:30]) == 0
    # Documents not yet reached are still waiting, raw: neither segmented nor normalised
    # (the stages pull at most one corpus window and one classifier batch ahead).
    assert CLASSIFY_BATCH < 60
    waiting = [r() for r in refs[100:]]
    assert all(d is not None and not d.paragraphs for d in waiting)


def _slow_square(state: dict[str, object], x: int) -> tuple[str, int]:
    import time

    time.sleep(0.02)
    return "worker", x * x


def test_this_process_helps_when_the_workers_are_busy_and_order_holds() -> None:
    from dedup.parallel import LocalExecutor

    ex = LocalExecutor(2)  # one worker process and this one
    assert ex.workers == 1
    ex.start({})
    try:
        out = list(ex.map(_slow_square, range(60), local=lambda x: ("here", x * x)))
    finally:
        ex.close()
    assert [v for _, v in out] == [x * x for x in range(60)]
    assert {who for who, _ in out} == {"worker", "here"}


@pytest.mark.parametrize("repetition", ["sample", "full"])
def test_a_deeply_nested_record_is_cleaned_the_same_with_every_jobs(tmp_path: Path,
                                                                     repetition: str) -> None:
    """A 1 KB record nested 500 deep: JSON reads it, pickle (to the workers) could not. The
    workers never see a record's other fields, so every --jobs cleans it as --jobs 1 does."""
    deep = {"text": "A record with a deeply nested field.\nIt is cleaned like any other.",
            "m": json.loads("[" * 500 + "]" * 500)}
    src = tmp_path / "deep.jsonl"
    src.write_text(json.dumps(deep) + "\n" + json.dumps({"text": "another record"}) + "\n",
                   encoding="utf-8")
    outs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out{jobs}.jsonl"
        res = CliRunner().invoke(main, ["clean", str(src), "-o", str(out), "--jobs", jobs, "-q",
                                        "--classifier", "learned", "--repetition", repetition])
        assert res.exit_code == 0, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert json.loads(outs[0].splitlines()[0])["m"] == deep["m"]


def test_the_report_says_cpu_seconds_and_peak_memory_of_client_and_workers(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 4, 30)
    runs = {}
    for jobs in (1, 2):
        report = tmp_path / f"report{jobs}.json"
        res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / f"o{jobs}"),
                                        "-j", str(jobs), "-q", "--report", str(report)])
        assert res.exit_code == 0, res.output
        data = json.loads(report.read_text())
        runs[jobs] = data["cpu_seconds"]
        # peaks over each process's life (this test process ran others before)
        assert set(data["peak_rss_mb"]) == {"client", "largest_worker"}
        assert data["peak_rss_mb"]["client"] > 10
        if jobs == 2:
            assert data["peak_rss_mb"]["largest_worker"] > 10
    assert runs[1]["client"] > 0 and runs[1]["workers"] == 0
    assert runs[2]["client"] > 0 and runs[2]["workers"] > 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60), st.integers(-1, 10**6),
                          st.booleans(), st.booleans(), st.booleans()), max_size=8))
def test_a_chunk_reaches_the_worker_as_it_was_without_its_records(rows: list) -> None:
    """Documents sent to a worker come out equal, less their ``meta``: in four columns when
    every one is as a reader made it, whole (with paragraphs, errors, flags) otherwise."""
    docs = []
    for doc_id, text, ordinal, has_meta, with_paragraphs, failed in rows:
        doc = Document(doc_id, text, meta={"deep": [[1]]} if has_meta else {}, source="in.jsonl",
                       ordinal=ordinal, error="unreadable" if failed else None)
        if with_paragraphs:
            doc.paragraphs = [Paragraph(0, text, 0, len(text))]
        docs.append(doc)
    data = pickle.dumps(Chunk(docs))
    assert pickle.loads(data) == [dataclasses.replace(d, meta={}) for d in docs]
    plain = not any(with_paragraphs or failed for *_, with_paragraphs, failed in rows)
    assert (b"_plain_chunk" in data) == plain


def test_held_documents_travel_as_ranges_and_come_out_as_a_plain_chunk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunks made of the documents this process held when it forked its workers (the
    repetition sample) travel as ranges; a worker's copy of the documents gives the same chunk
    a plain chunk brings (no record fields). A chunk of other objects (a copy, a document not
    as read) travels whole, and every chunk after it."""
    from dedup import parallel

    held = [Document(str(i), f"text {i}", meta={"id": str(i), "deep": [[i]]}, source="a.jsonl",
                     ordinal=i) for i in range(20)]
    chunks = list(parallel.inherited_spans(held, [held[0:8], held[8:16], held[16:20]]))
    assert [c.span for c in chunks] == [(0, 8), (8, 16), (16, 20)]
    assert all(list(c) == held[c.span[0]:c.span[1]] for c in chunks if c.span)
    blob = pickle.dumps(chunks[1])
    assert len(blob) < 200  # a range, not the texts
    monkeypatch.delitem(parallel._STATE, parallel.INHERITED, raising=False)
    arrived = pickle.loads(blob)  # made when its task runs (an error then is the task's)
    with pytest.raises(RuntimeError, match="not forked while the parent held it"):
        parallel.resolved(arrived)  # a worker started later has no copy: said, not a KeyError
    monkeypatch.setitem(parallel._STATE, parallel.INHERITED, pickle.loads(pickle.dumps(held)))
    made = parallel.resolved(pickle.loads(blob))
    assert made == pickle.loads(pickle.dumps(Chunk(held[8:16])))
    assert all(not d.meta for d in made)
    # not the same objects, or past them: whole, and so is everything after
    copy = pickle.loads(pickle.dumps(held[8:16]))
    spans = [c.span for c in parallel.inherited_spans(held, [held[0:8], copy, held[16:20]])]
    assert spans == [(0, 8), None, None]
    failed = dataclasses.replace(held[0], error="bad record")
    spans = [c.span for c in parallel.inherited_spans([*held[:1], failed], [[held[0], failed]])]
    assert spans == [None]
    spans = [c.span for c in parallel.inherited_spans(held[:10], [held[0:8], held[8:16]])]
    assert spans == [(0, 8), None]


def test_a_parallel_run_sends_its_sample_as_ranges_with_the_same_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked run's repetition sample reaches the workers as ranges, for the counts and for
    the cleaning (every sample chunk read by a worker from its copy), and the results are the
    one-process results."""
    from dedup import parallel

    log = tmp_path / "spans.txt"
    real = parallel._inherited_chunk

    def spy(start: int, stop: int) -> list[Document]:
        with log.open("a") as fh:  # written by the worker processes
            fh.write(f"{start} {stop}\n")
        return real(start, stop)

    spy.__module__, spy.__qualname__ = real.__module__, real.__qualname__  # pickled by name
    monkeypatch.setattr(parallel, "_inherited_chunk", spy)
    texts = _pages(120)
    config = Config().replace(boilerplate={"repetition_sample": 64})
    one = Cleaner(config)
    serial = [(r.text, r.line_counts()) for r in one.clean_documents(texts)]
    one.close()
    executor = parallel.LocalExecutor(3, helping=False)  # every chunk to a worker
    many = Cleaner(config, executor=executor)
    try:
        assert [(r.text, r.line_counts())
                for r in many.clean_documents(texts, finished=True)] == serial
    finally:
        executor.close()
        many.close()
    spans = sorted(tuple(map(int, line.split())) for line in log.read_text().splitlines())
    # chunks of 8 (tests): each of the sample's 8 chunks once counted and once cleaned
    assert spans == sorted(2 * [(a, a + 8) for a in range(0, 64, 8)])


def test_a_callers_executor_runs_the_work_and_stays_open(tmp_path: Path) -> None:
    """run_clean(executor=...): the caller's executor (here one whose parent only coordinates,
    as a Dask client) does the per-document work; the output is one process's, the report
    counts its running workers' CPU (read from /proc), and run_clean leaves it open."""
    from dedup.batch import run_clean
    from dedup.parallel import LocalExecutor

    write_corpus(GeneratorConfig(docs=120, seed=6, split="test"), tmp_path / "c")
    src = str(tmp_path / "c" / "docs.jsonl")
    run_clean([src], str(tmp_path / "one.jsonl"), Config(), jobs=1)
    ex = LocalExecutor(3, helping=False)
    try:
        report = run_clean([src], str(tmp_path / "given.jsonl"), Config(), executor=ex)
        assert ex._pool is not None  # still open: the caller closes it
        live = ex.cpu_seconds()  # the open pool's workers, idle since the run ended
        assert live > 0 and report.stats["cpu_seconds"]["workers"] >= live - 0.02
        # (the report rounds to 0.1 MB)
        assert report.stats["peak_rss_mb"]["largest_worker"] >= ex.peak_rss_mb() - 0.05 > 10
    finally:
        ex.close()
    assert (tmp_path / "given.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def _close_within(ex: object, seconds: int) -> None:
    """Close an executor, failing the test (not hanging the suite) if it takes longer."""
    import signal

    def hung(*_: object) -> None:
        raise TimeoutError("closing the pool hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        ex.close()  # type: ignore[attr-defined]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_pool_stops_even_with_part_of_a_result_in_its_pipe() -> None:
    """A worker killed while it wrote a result leaves part of a message in the result pipe;
    CPython's result handler, draining the pipe as the pool stops, would wait for the rest for
    ever. The executor closes its end of the pipe once the workers are gone, so closing
    returns."""
    import os
    import struct

    from dedup.parallel import LocalExecutor

    ex = LocalExecutor(3)
    ex.start({})
    pool = ex._pool
    assert pool is not None
    # a message that says 1,000 bytes and stops after 10, as a killed worker's would
    os.write(pool._outqueue._writer.fileno(), struct.pack("!i", 1000) + b"x" * 10)

    _close_within(ex, 60)
    assert ex._pool is None and not pool._result_handler.is_alive()


def _nap(_: dict[str, object], seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def test_a_pool_stops_feeding_its_workers_before_they_are_killed() -> None:
    """Closing a pool whose workers are busy, with tasks queued: the task handler has put its
    sentinels in the pipes and ended before any worker is killed (CPython's terminate kills
    the workers first, and a task handler still to write its sentinel under the result pipe's
    lock, which the workers share, waited for ever under load)."""

    from dedup.parallel import LocalExecutor

    ex = LocalExecutor(3)
    ex.start({})
    pool = ex._pool
    assert pool is not None
    results = ex.map(_nap, [0.3] * 8)
    assert next(results) == 0.3  # the others running or queued
    seen: list[bool] = []
    terminate = pool.terminate

    def watched() -> None:
        seen.append(pool._task_handler.is_alive())
        terminate()

    pool.terminate = watched

    _close_within(ex, 60)
    assert seen == [False] and ex._pool is None
    assert all(p.exitcode is not None for p in pool._pool)


def test_a_parallel_run_collects_less_often_and_puts_the_threshold_back() -> None:
    """While a parallel run lasts the collector's youngest threshold is raised (never
    lowered), nested or interleaved runs put it back only when the last one ends, and a run
    that fails puts it back too."""
    import gc

    from dedup.parallel import YOUNG_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    try:
        gc.set_threshold(500, 7, 9)
        with fewer_collections():
            assert gc.get_threshold() == (YOUNG_THRESHOLD, 7, 9)
            with fewer_collections():
                pass
            assert gc.get_threshold() == (YOUNG_THRESHOLD, 7, 9)  # the outer run goes on
        assert gc.get_threshold() == (500, 7, 9)
        gc.set_threshold(10 * YOUNG_THRESHOLD, 7, 9)
        with fewer_collections():
            assert gc.get_threshold()[0] == 10 * YOUNG_THRESHOLD  # never lowered
        gc.set_threshold(500, 7, 9)
        seen = []
        cleaner = Cleaner(Config(), jobs=2)
        docs = [f"page {n}\nthe same line on every page of this site\n" for n in range(30)]
        for _ in cleaner.clean_documents(docs):
            seen.append(gc.get_threshold()[0])
        assert seen and set(seen) == {YOUNG_THRESHOLD}
        assert gc.get_threshold() == (500, 7, 9)
        with pytest.raises(RuntimeError), fewer_collections():
            raise RuntimeError("a failed run")
        assert gc.get_threshold() == (500, 7, 9)
    finally:
        gc.set_threshold(*before)
