"""A batch run over files: discover inputs, plan outputs, clean, write, report.

This is what ``dedup clean`` does, callable from Python too::

    report = run_clean(["dump/"], "clean/", Config(), removed="removed.jsonl")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import Config
from .crossdoc import CorpusDeduper
from .errors import ConfigError, InputError, OutputError
from .index import CorpusIndex
from .io.readers import Source, discover, read_all
from .io.writers import OutputWriter, RemovedWriter, ShardedWriter, plan_outputs, write_json
from .parallel import DaskExecutor
from .pipeline import Cleaner, CleanResult
from .types import Document

STRICT_HINT = ("--strict stops at the first record that cannot be read and writes nothing; "
               "without it, such records are reported and the rest is cleaned")


@dataclass(slots=True)
class RunReport:
    """The outcome of a batch run; ``failures`` lists every record that could not be read,
    ``skipped`` every record left out on purpose (``encoding_errors="skip"``)."""

    stats: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "config_fingerprint": self.fingerprint,
            **self.stats,
            "failures": len(self.failures),
            "failed": self.failures,
            "skipped": len(self.skipped),
            "skipped_records": self.skipped,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 6),
        }


def run_clean(
    inputs: Sequence[str],
    out: str,
    config: Config | None = None,
    *,
    removed: str | None = None,
    report: str | None = None,
    text_field: str = "text",
    input_format: str = "auto",
    encoding_errors: str = "strict",
    progress: Callable[[Iterator[CleanResult], int], Iterator[CleanResult]] | None = None,
    index: str | None = None,
    jobs: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    on_start: Callable[[str], None] | None = None,
    shard_docs: int = 0,
    shard_suffix: str = ".jsonl.zst",
    strict: bool = False,
) -> RunReport:
    """Clean ``inputs`` into ``out`` (``-`` for stdout). Raises InputError/OutputError before
    writing anything when the inputs or the output plan are wrong; a record that cannot be read
    is skipped and listed in the report's ``failures``. On any exception, no partial output stays.

    ``index``: a corpus index directory, loaded before the run when it exists (refused when it
    was built under another configuration) and saved after a successful run. ``jobs``: worker
    processes for the per-document work; the output is the same for every value. ``engine``
    ``"dask"`` runs that work on a Dask cluster instead: ``scheduler`` (an address) or a
    LocalCluster of ``jobs`` workers; ``on_start`` is called with its dashboard address.
    ``shard_docs``: instead of mirroring the inputs, write every document into ``out`` as
    ``part-00000<shard_suffix>``, ... with ``shard_docs`` documents each. ``strict``: the first
    record that cannot be read raises InputError naming it, and nothing is written (a record
    skipped on purpose, ``encoding_errors="skip"``, does not stop the run).
    """
    t0 = time.perf_counter()
    config = config or Config()
    sources = discover(inputs, input_format)
    plan = plan_outputs(sources, out, inputs)  # also refuses -o inside an input directory
    writer: OutputWriter | ShardedWriter
    if shard_docs:
        if out == "-":
            raise OutputError("sharded output needs a directory, not stdout",
                              hint="give -o DIR with --shard-docs")
        writer = ShardedWriter(out, shard_suffix, shard_docs, text_field)
    else:
        writer = OutputWriter(plan, sources, text_field)
    longest = config.keep == "longest" and config.corpus.enabled
    if longest and any(s.is_stdin for s in sources):
        raise InputError("--keep longest reads the inputs three times; stdin can be read once",
                         hint="save stdin to a file, or use --keep first")
    if engine not in ("local", "dask"):
        raise ConfigError(f"unknown engine {engine!r}", hint="use 'local' or 'dask'")
    corpus_index = CorpusIndex(config, index) if config.corpus.enabled else None

    def read() -> Iterator[Document]:
        for n, doc in enumerate(read_all(sources, text_field, encoding_errors)):
            doc.ordinal = n
            yield doc

    executor: DaskExecutor | None = None
    try:
        if engine == "dask":
            executor = DaskExecutor(jobs, scheduler)
            if on_start is not None:
                on_start(executor.dashboard)
        return _run(config, sources, writer, corpus_index, read, longest, removed, report,
                    progress, t0, jobs, executor, strict)
    finally:
        if corpus_index is not None:
            corpus_index.close()
        if executor is not None:
            executor.close()


def _longest(read: Callable[[], Iterator[Document]], cleaner: Cleaner) -> frozenset[int]:
    """Keep policy ``longest``: a first pass finds the document clusters (as ``first`` would);
    the canonical copy of each is its member with the most content tokens (the earliest on a
    tie). Returns the run ordinals of the canonical copies that are not their cluster's first
    member (those are indexed before the real pass)."""
    run_ordinal: list[int] = []  # index ordinal -> run ordinal (this pass's index is fresh)
    best: dict[int, tuple[int, int]] = {}  # cluster's first index ordinal -> (-tokens, run ord)
    for result in cleaner.clean_documents(d for d in read() if not d.error):
        doc = result.doc
        run_ordinal.append(doc.ordinal)
        if doc.cluster is None:
            continue
        size = doc.cluster.tokens
        key = (-size, doc.ordinal)
        if doc.cluster.first not in best or key < best[doc.cluster.first]:
            best[doc.cluster.first] = key
    return frozenset(o for first, (_, o) in best.items() if o != run_ordinal[first])


def _run(config: Config, sources: Sequence[Source], writer: OutputWriter | ShardedWriter,
         corpus_index: CorpusIndex | None, read: Callable[[], Iterator[Document]],
         longest: bool, removed: str | None, report: str | None,
         progress: Callable[[Iterator[CleanResult], int], Iterator[CleanResult]] | None,
         t0: float, jobs: int = 1, executor: DaskExecutor | None = None,
         strict: bool = False) -> RunReport:
    cleaner = Cleaner(config, index=corpus_index, jobs=jobs, executor=executor)
    if cleaner.uses_repetition and config.boilerplate.repetition == "full":
        # First pass: corpus line counts over every readable input, for the classifier.
        cleaner.count_lines(d for d in read() if not d.error)
    if longest and corpus_index is not None:
        probe = Cleaner(config, counts=cleaner.counts, jobs=jobs, executor=executor)
        canonical = _longest(read, probe)
        probe.close()
        counts = cleaner.counts if cleaner.counts is not None else probe.counts
        cleaner = Cleaner(config, counts=counts, index=corpus_index, canonical=canonical,
                          jobs=jobs, executor=executor)
        primer = Cleaner(config, counts=counts, index=corpus_index)
        deduper = CorpusDeduper(config, corpus_index)
        stream = (d for d in read() if d.ordinal in canonical and not d.error)
        for _ in deduper.prime(primer.prepare(stream)):
            pass
    failures: list[str] = []
    skipped: list[str] = []

    def documents() -> Iterator[Document]:
        for doc in read():
            if doc.skipped:
                skipped.append(doc.error or doc.id)
            elif doc.error:
                if strict:  # raised inside the write loop below: every output is aborted
                    raise InputError(doc.error, hint=STRICT_HINT)
                failures.append(doc.error)
            yield doc

    removed_writer = RemovedWriter(removed) if removed else None
    results = cleaner.clean_documents(documents())
    if progress is not None:
        results = progress(results, len(sources))
    try:
        for result in results:
            writer.write(result)
            if removed_writer:
                removed_writer.write(result)
        writer.close()  # may still fail (a Parquet column of mixed types): abort then too
    except BaseException:
        writer.abort()
        if removed_writer:
            removed_writer.abort()
        raise
    if removed_writer:
        removed_writer.close()
    if corpus_index is not None:
        corpus_index.save()
    stats = cleaner.stats.to_dict()
    if corpus_index is not None:
        stats["index"] = {"paragraphs": corpus_index.paragraphs,
                          "documents": corpus_index.documents, "bytes": corpus_index.nbytes,
                          "bytes_per_paragraph": round(corpus_index.nbytes
                                                       / max(corpus_index.paragraphs, 1), 1)}
    outcome = RunReport(stats, failures, writer.written, time.perf_counter() - t0,
                        config.fingerprint(), skipped)
    if report:
        write_json(report, outcome.to_dict())
    return outcome

