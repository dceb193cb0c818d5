"""A batch run over files: discover inputs, plan outputs, clean, write, report.

This is what ``dedup clean`` does, callable from Python too::

    report = run_clean(["dump/"], "clean/", Config(), RunOptions(removed="removed.jsonl"))
    report = run_clean(["dump/"], "clean/", removed="removed.jsonl", jobs=4)  # the same options
"""

from __future__ import annotations

import copy
import glob
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path
from typing import Any

import xxhash

from . import __version__
from .commit import DirLock, crash_point
from .config import Config
from .crossdoc import CorpusDeduper
from .errors import AlreadyFinished, InputError, OutputError
from .index import CorpusIndex
from .io.paths import check_write_paths, run_targets
from .io.readers import RawBlock, RawReading, Source, discover, is_glob, read_all, read_blocks
from .io.writers import (
    TEMP_SUFFIX,
    CombinedWriter,
    JsonFile,
    OutputWriter,
    RemovedWriter,
    ShardedWriter,
    combined_output,
    output_is_dir,
    plan_outputs,
    write_error,
)
from .options import RunOptions
from .parallel import DaskExecutor, Executor, LocalExecutor, Part, process_cpu
from .pipeline import Cleaner, CleanResult
from .progress import InputCounter, ReadProgress, input_bytes
from .resume import RESUME_HINT, Checkpoint, RunState, inputs_signature
from .staged import decision_rounds
from .stats import Stats
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
    # bytes of the inputs this run read (compressed files: as stored), for its rate; not in
    # the report, which is the same for a resumed run as for an uninterrupted one
    input_bytes: int = 0

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


# the hook that wraps a run's stream of results (see run_clean)
Progress = Callable[[Iterator[CleanResult | Part], int], Iterator[CleanResult | Part]]


def run_clean(
    inputs: Sequence[str],
    out: str,
    config: Config | None = None,
    options: RunOptions | None = None,
    *,
    progress: Progress | None = None,
    on_start: Callable[[str], None] | None = None,
    read_progress: ReadProgress | None = None,
    executor: Executor | None = None,
    **overrides: Any,
) -> RunReport:
    """Clean ``inputs`` into ``out`` (``-`` for stdout) under ``config`` and the run's
    ``options`` (:class:`~dedup.options.RunOptions`: extra outputs, reading, index,
    parallelism, sharding, strictness, checkpoints). ``overrides`` are RunOptions field names
    applied over ``options`` (``run_clean(inputs, out, removed="removed.jsonl", jobs=2)``); an
    unknown name is a TypeError, a bad value a ConfigError.

    Raises InputError/OutputError before writing anything when the inputs or the output plan
    are wrong; a record that cannot be read is skipped and listed in the report's
    ``failures`` (with ``strict``, it raises InputError naming it and nothing is written). On
    any exception, no partial output stays.

    Hooks, not options (they are behaviour, not data, and never cross a process boundary):
    ``progress`` wraps the stream of results (and is told the number of inputs): a
    :class:`~dedup.pipeline.CleanResult` per document, or, in a parallel run of JSONL inputs
    written as JSONL, a :class:`~dedup.parallel.Part` per run of documents of one input that
    were finished together (``part.documents`` of them); ``on_start``
    is called with the Dask dashboard's address when ``engine="dask"``; ``read_progress`` is
    told the bytes of the inputs as the documents they hold are written (see
    :mod:`dedup.progress`; a resumed run counts the inputs it picks up after as done);
    ``executor`` (a :class:`~dedup.parallel.LocalExecutor` or
    :class:`~dedup.parallel.DaskExecutor` of the caller's, which the caller closes) runs the
    per-document work instead of the one ``jobs`` and ``engine`` would make.

    A run into an output directory is resumable (see :mod:`dedup.resume`): it checkpoints at
    most every ``checkpoint_seconds`` and ``resume`` continues an interrupted run from its last
    checkpoint, with the same result as an uninterrupted run.
    """
    clock = _Clock()
    if options is not None and not isinstance(options, RunOptions):
        raise TypeError(f"options must be a RunOptions, not {type(options).__name__}")
    opts = options or RunOptions()
    if overrides:
        opts = opts.replace(**overrides)
    config = config or Config()
    sources = discover(inputs, opts.input_format, fields=opts.record_fields())
    plan = plan_outputs(sources, out, inputs)  # also refuses -o inside an input directory
    # Before anything is written (or an old run's state discarded): no path of the run may be
    # an input, be read by the inputs, or be another path of the run.
    sharded = bool(opts.shard_docs)
    combined = not sharded and combined_output(inputs, out)
    out_is_dir = sharded or (output_is_dir(inputs, out) and not combined)
    check_write_paths(run_targets(plan, sources, out, out_is_dir=out_is_dir,
                                  removed=opts.removed, report=opts.report,
                                  index=opts.index, shards=sharded),
                      inputs, sources, opts.input_format)
    longest = _keeps_longest(config)
    if longest and any(s.is_stdin for s in sources):
        raise InputError("--keep longest reads the inputs three times; stdin can be read once",
                         hint="save stdin to a file, or use --keep first")
    why_not = _not_resumable(config, opts, sources, out, inputs)
    if opts.resume and why_not:
        raise InputError(f"--resume is not possible: {why_not}")
    out_lock = _lock_output(out) if (not why_not or sharded) and out != "-" else None
    corpus_index = None
    given = executor
    try:
        state = None if why_not else RunState(out, config, sources, opts.index, opts.limits)
        ckpt = state.load() if state is not None and opts.resume else None
        if state is not None and ckpt is None:
            state.discard()  # a new run: an old run's state would be stale
        if out_lock is not None:
            _sweep_outputs(out, plan, state,
                           [p for p in (opts.removed, opts.report) if p and p != "-"])
        done = ckpt.sources_done if ckpt is not None else 0
        remaining = sources[done:]
        writer: OutputWriter | ShardedWriter
        if combined:
            writer = CombinedWriter(out, opts.text_field)
        elif sharded:
            if out == "-":
                raise OutputError("sharded output needs a directory, not stdout",
                                  hint="give -o DIR with --shard-docs")
            writer = ShardedWriter(out, opts.shard_suffix, opts.shard_docs, opts.text_field)
        else:
            writer = OutputWriter(plan, remaining, opts.text_field)
            if ckpt is not None:
                writer.adopt([(s.target, s.temp) for s in ckpt.staged])
        if config.corpus.enabled:
            root: str | Path | None = opts.index
            if root is None and state is not None:
                root = state.index_root  # beside the outputs, so a checkpoint can save it
            corpus_index = CorpusIndex(config, root,
                                       state.index_snapshot() if state and ckpt else None)
            if ckpt is not None and opts.index is not None:
                _check_index_unchanged(corpus_index, ckpt)
            if state is not None and opts.index is not None:
                run_id = _run_id(out, sources, config)
                if opts.resume and ckpt is None and corpus_index.last_run == run_id:
                    if _published(plan, out, sharded or combined):
                        raise AlreadyFinished(
                            f"--resume: the run into {out} had already finished: its outputs "
                            f"are published and its documents saved in the index "
                            f"{opts.index}; nothing to resume")
                    raise InputError(
                        f"--resume: the run into {out} already finished and saved its "
                        f"documents in the index {opts.index}, but its outputs are not all in "
                        f"place; there is nothing to resume",
                        hint="run again without --resume into a new index to clean it again")
                corpus_index.last_run = run_id
        first = ckpt.docs_done if ckpt is not None else 0
        total = input_bytes(sources)
        counter = InputCounter(read_progress, total,
                               total - (input_bytes(remaining) or 0) if total else 0)

        def read(on_read: Callable[[int], None] | None = None, raw: bool = False
                 ) -> Iterator[Document]:
            docs = read_all(remaining, opts.text_field, opts.encoding_errors, opts.limits,
                            id_field=opts.id_field, on_read=on_read, raw_jsonl=raw)
            for n, doc in enumerate(docs, start=first):
                doc.ordinal = n
                yield doc

        def read_counted(raw: bool = False, blocks: int = 0) -> Iterator[Document | RawBlock]:
            """The cleaning pass (the one whose bytes are counted): the first passes of
            ``--keep longest`` and ``repetition = 'full'`` read the inputs too. ``raw``: JSONL
            records left for the workers to parse (``Document.raw``); ``blocks``: an
            uncompressed JSONL file read in blocks of about that many bytes of lines
            (:func:`~dedup.io.readers.read_blocks`), numbered as their documents."""
            counter.start()
            if not blocks:
                return read(counter, raw)
            return _numbered(read_blocks(remaining, opts.text_field, opts.encoding_errors,
                                         opts.limits, id_field=opts.id_field, on_read=counter,
                                         raw_jsonl=raw, blocks=blocks), first)

        resuming = _Resuming(state, ckpt, opts, sources, corpus_index) if state else None
        if given is None and opts.engine == "dask":
            executor = DaskExecutor(opts.jobs, opts.scheduler)
            if on_start is not None:
                on_start(executor.dashboard)
        if executor is not None:
            clock.workers_at_start = executor.cpu_seconds()
        return _run(config, opts, sources, writer, corpus_index, read, clock,
                    progress=progress, executor=executor, resuming=resuming,
                    read_counted=read_counted, counter=counter)
    finally:
        if corpus_index is not None:
            _close_index(corpus_index, failing=sys.exc_info()[1] is not None)
        if executor is not None and executor is not given:
            executor.close()
        if out_lock is not None:
            out_lock.release()


def _published(plan: dict[str, str], out: str, one_place: bool) -> bool:
    """Whether the outputs of a finished run are in place (all planned files; for sharded or
    combined output, the output path)."""
    if one_place:
        return Path(out).exists()
    return all(Path(target).exists() for target in plan.values())


def _keeps_longest(config: Config) -> bool:
    """Keep policy ``longest`` with cross-document dedup on: two more passes over the inputs."""
    return config.keep == "longest" and config.corpus.enabled


class _Clock:
    """A run's wall time and CPU time: this process's (the client: reading, the corpus stage,
    writing, and the chunks it prepares itself while the workers are busy) and its workers'
    (the local worker processes, reaped when their pool closes, or a Dask cluster's)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.client0, self.children0 = process_cpu(), process_cpu(children=True)
        self.workers_at_start = 0.0

    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def cpu(self, executor: Executor | None) -> dict[str, float]:
        """User plus system seconds of the client and of all workers since the start."""
        workers = process_cpu(children=True) - self.children0
        if executor is not None:
            workers += executor.cpu_seconds() - self.workers_at_start
        return {"client": round(process_cpu() - self.client0, 3), "workers": round(workers, 3)}

    @staticmethod
    def peak_rss_mb(executor: Executor | None) -> dict[str, float]:
        """Peak resident memory of this process and of its largest worker, in MB (each over
        the process's life: for a library caller, since that process started)."""
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        if executor is not None:
            workers = max(workers, executor.peak_rss_mb())
        return {"client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
                "largest_worker": round(workers, 1)}


def _lock_output(out: str) -> DirLock:
    """Lock the output directory of a checkpointed or sharded run (made when missing)."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot make the output directory ({exc.strerror})") from exc
    return DirLock(out, "the output directory")


def _sweep_outputs(out: str, plan: dict[str, str], state: RunState | None,
                   files: Sequence[str] = ()) -> None:
    """Remove temporary outputs that stopped runs left in the (locked) output directories,
    except those the checkpoint being resumed names, and those of ``files`` (``--removed``,
    ``--report``: written to temporary files before the index is saved) beside them."""
    keep = {os.path.realpath(t) for t in state.hashed} if state is not None else set()
    dirs = {Path(out)} | {Path(p).parent for p in plan.values()}
    for d in sorted(dirs):
        if not d.is_dir():
            continue
        for path in d.iterdir():
            if path.name.endswith(TEMP_SUFFIX) and path.name.startswith(".") \
                    and os.path.realpath(path) not in keep and path.is_file():
                path.unlink(missing_ok=True)
    for file in map(Path, files):
        for path in file.parent.glob(f".{glob.escape(file.name)}.*{TEMP_SUFFIX}"):
            if os.path.realpath(path) not in keep and path.is_file():
                path.unlink(missing_ok=True)


def _run_id(out: str, sources: Sequence[Source], config: Config) -> str:
    """What names a resumable run: its output directory, its inputs (names, sizes, modification
    times) and its config. The index keeps the last saver's, so ``--resume`` after that run
    finished is refused instead of cleaning everything again against its own documents."""
    data = json.dumps([os.path.realpath(out), inputs_signature(sources), config.fingerprint()])
    return xxhash.xxh3_64_hexdigest(data.encode("utf-8", "surrogatepass"))


def _check_index_unchanged(index: CorpusIndex, ckpt: Checkpoint) -> None:
    """A resumed run continues from the --index as the interrupted run left it."""
    saved = index.generation - ckpt.index_generation
    if saved == 0 or (saved == 1 and ckpt.phase == "finishing"):
        return
    raise InputError(f"--resume: the index {index.root} was saved by another run since the "
                     "interrupted one", hint=RESUME_HINT)


def _not_resumable(config: Config, options: RunOptions, sources: Sequence[Source], out: str,
                   inputs: Sequence[str]) -> str | None:
    """Why this run cannot checkpoint (``None``: it can)."""
    if out == "-" or any(s.is_stdin for s in sources):
        return "stdin and stdout cannot be read or written again"
    single = (len(inputs) == 1 and not Path(inputs[0]).is_dir() and not Path(out).is_dir()
              and not is_glob(inputs[0]))
    if single:
        return "one input into one output file: nothing to pick up between inputs"
    if not options.shard_docs and combined_output(inputs, out):
        return "every input into one output file: nothing to pick up between inputs"
    if options.shard_docs:
        return "sharded output (--shard-docs) is written by document count, not by input"
    if options.strict:
        return "--strict writes all or nothing"
    longest = _keeps_longest(config)
    if longest or config.boilerplate.repetition == "full":
        return "--keep longest and repetition = 'full' read the inputs more than once"
    return None


class _Resuming:
    """Checkpoints of a resumable run: taken in the write loop when an input ends, and the
    last one, with every output finished, before anything is published."""

    def __init__(self, state: RunState, ckpt: Checkpoint | None, options: RunOptions,
                 sources: Sequence[Source], index: CorpusIndex | None) -> None:
        self.state = state
        self.ckpt = ckpt
        self.every = options.checkpoint_seconds
        self.index_dir = options.index
        self.position = {s.rel: i for i, s in enumerate(sources)}
        self.inputs = inputs_signature(sources)
        self.rels = [s.rel for s in sources]
        self.current: str | None = None
        self.last = time.monotonic()
        # the --index's generation before this run (a resumed run: before the interrupted one)
        self.index_generation = (ckpt.index_generation if ckpt is not None
                                 else index.generation if index is not None else 0)

    def before(self, result: CleanResult | Part, cleaner: Cleaner, writer: OutputWriter,
               removed: RemovedWriter | None, failures: list[tuple[int, str]],
               skipped: list[tuple[int, str]]) -> None:
        """Called before ``result`` (a document's, or a part's) is written: checkpoint if an
        input just ended."""
        part = isinstance(result, Part)
        source = result.source if isinstance(result, Part) else result.doc.source
        previous, self.current = self.current, source
        if previous is None or source == previous or time.monotonic() - self.last < self.every:
            return
        done = self.position[source]  # every input before this one is finished
        d = result.first if isinstance(result, Part) else result.doc.ordinal
        writer.finish_sources(self.rels[:done])
        stats = copy.deepcopy(cleaner.stats)
        if not part:  # (a part is counted once written)
            assert isinstance(result, CleanResult)
            for counted in reversed(cleaner.counted_from(result)):  # counted when yielded
                stats.add(counted, -1)  # (or its chunk's first was), before this checkpoint
        deduper = cleaner.corpus_deduper
        marks = deduper.marks[d] if deduper is not None and d in deduper.marks else (0, 0)
        self._save(Checkpoint(
            cleaner.config.fingerprint(), self.inputs, done, d,
            removed.tell() if removed is not None else 0,
            [m for o, m in _in_order(failures) if o < d],
            [m for o, m in _in_order(skipped) if o < d]),
            cleaner, writer, stats, marks)
        self.last = time.monotonic()

    def finishing(self, cleaner: Cleaner, writer: OutputWriter, removed: RemovedWriter | None,
                  failures: list[tuple[int, str]], skipped: list[tuple[int, str]]) -> None:
        """Every input is done and every output finished: commit that before publishing, so
        a stop while publishing is finished by ``--resume``."""
        if self.ckpt is not None and self.ckpt.phase == "finishing":
            return  # resumed while publishing: that checkpoint stands
        writer.finish_sources(self.rels)
        index = cleaner.index if cleaner.config.corpus.enabled else None
        marks = (index.paragraphs, index.documents) if index is not None else (0, 0)
        self._save(Checkpoint(
            cleaner.config.fingerprint(), self.inputs, len(self.rels), cleaner.stats.documents,
            removed.tell() if removed is not None else 0,
            [m for _, m in _in_order(failures)], [m for _, m in _in_order(skipped)],
            phase="finishing"),
            cleaner, writer, cleaner.stats, marks)
        crash_point("run:finishing-committed")

    def _save(self, ckpt: Checkpoint, cleaner: Cleaner, writer: OutputWriter, stats: Stats,
              marks: tuple[int, int]) -> None:
        staged = [self.state.stage(str(temp), target) for target, temp in writer.staged()]
        ckpt = replace(ckpt, staged=staged, index_generation=self.index_generation)
        self.state.save(ckpt, stats, cleaner.counts,
                        cleaner.index if cleaner.config.corpus.enabled else None, marks,
                        ckpt.removed_bytes)
        self.ckpt = ckpt
        crash_point("run:checkpoint")

    def keep(self) -> set[str]:
        """The temporary outputs the committed checkpoint names (kept when a run fails)."""
        return {s.temp for s in self.ckpt.staged} if self.ckpt is not None else set()


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


def _run(config: Config, options: RunOptions, sources: Sequence[Source],
         writer: OutputWriter | ShardedWriter, corpus_index: CorpusIndex | None,
         read: Callable[[], Iterator[Document]], clock: _Clock, *,
         progress: Progress | None,
         executor: Executor | None, resuming: _Resuming | None,
         read_counted: Callable[[bool, int], Iterator[Document | RawBlock]],
         counter: InputCounter
         ) -> RunReport:
    ckpt = resuming.ckpt if resuming is not None else None
    jobs, strict, removed, report = options.jobs, options.strict, options.removed, options.report
    longest = _keeps_longest(config)
    cleaner = Cleaner(config, index=corpus_index, jobs=jobs, executor=executor,
                      counts=resuming.state.counts() if resuming and ckpt else None)
    if resuming is not None and ckpt is not None:
        cleaner.stats = resuming.state.stats()
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
    # (run ordinal, message): the reader runs ahead of the writer in parallel runs, so a
    # checkpoint keeps only the messages of the documents before it.
    failures: list[tuple[int, str]] = [(-1, m) for m in (ckpt.failures if ckpt else [])]
    skipped: list[tuple[int, str]] = [(-1, m) for m in (ckpt.skipped if ckpt else [])]

    def note(doc: Document) -> None:
        """A record that could not be read, or was left out on purpose, noted."""
        if doc.skipped:
            skipped.append((doc.ordinal, doc.error or doc.id))
        elif doc.error:
            if strict:  # raised inside the write loop below: every output is aborted
                raise InputError(doc.error, hint=STRICT_HINT)
            failures.append((doc.ordinal, doc.error))

    # A parallel run's workers parse the JSONL records (the parent reads their lines): a
    # record's error is then known when its chunk comes back, and noted then. Not with
    # --strict, whose first bad record in input order must stop the run before any later one.
    raw = cleaner.parallel and not strict and not longest
    if raw:
        cleaner.reading = RawReading({s.rel: s.path for s in sources}, options.text_field,
                                     options.encoding_errors, options.limits,
                                     options.id_field)
        cleaner.on_parsed = note
        if writer.records_as_jsonl():  # every record written as JSONL: rendered on the workers
            cleaner.render = options.text_field

    # and read an uncompressed JSONL file in blocks of lines, which the workers make into
    # documents (the parent finds line ends and counts records only)
    blocks = (executor.block_bytes if executor is not None else LocalExecutor.block_bytes) \
        if raw else 0

    def documents() -> Iterator[Document | RawBlock]:
        for item in read_counted(raw, blocks):
            if isinstance(item, RawBlock):  # its records' errors are noted once parsed
                counter.mark(item.ordinal + item.records - 1)
            else:
                counter.mark(item.ordinal)
                note(item)
            yield item

    removed_writer = None
    report_file: JsonFile | None = None
    # Results finished on the workers in parallel runs: the paragraphs never come back here.
    # JSONL records written as JSONL come back as parts, many documents at once.
    results: Iterator[CleanResult | Part]
    if raw and cleaner.render is not None and all(s.kind == "jsonl" for s in sources):
        results = cleaner.clean_parts(documents(), removed=bool(removed))
    else:
        results = cleaner.clean_documents(documents(), finished=True, removed=bool(removed))
    if progress is not None:
        results = progress(results, len(sources))
    try:
        if removed:
            journal = resuming.state.root / "removed.jsonl" if resuming is not None else None
            removed_writer = RemovedWriter(removed, journal, ckpt.removed_bytes if ckpt else 0)
        for result in results:
            if resuming is not None and isinstance(writer, OutputWriter):
                resuming.before(result, cleaner, writer, removed_writer, failures, skipped)
            if isinstance(result, Part):
                writer.write_part(result)
                if removed_writer:
                    removed_writer.write_part(result)
                counter.done(result.last)
                continue
            writer.write(result)
            if removed_writer:
                removed_writer.write(result)
            counter.done(result.doc.ordinal)
        counter.finish()
        # Every file complete under its temporary name before the first is renamed into place,
        # so a write error (a full disk) or a bad Parquet column publishes nothing.
        writer.finish()
        if resuming is not None and isinstance(writer, OutputWriter):
            resuming.finishing(cleaner, writer, removed_writer, failures, skipped)
        if removed_writer:
            removed_writer.finish()
        stats = cleaner.stats.to_dict()
        if corpus_index is not None:
            stats["index"] = {"paragraphs": corpus_index.paragraphs,
                              "documents": corpus_index.documents,
                              "bytes": corpus_index.nbytes,
                              "bytes_per_paragraph": round(
                                  corpus_index.nbytes / max(corpus_index.paragraphs, 1), 1)}
        stats["cpu_seconds"] = clock.cpu(executor)
        stats["peak_rss_mb"] = clock.peak_rss_mb(executor)
        stats["decision_rounds"] = decision_rounds(cleaner.corpus_deduper)
        outcome = RunReport(stats, [m for _, m in _in_order(failures)],
                            writer.written + writer.pending, clock.seconds(),
                            config.fingerprint(), [m for _, m in _in_order(skipped)],
                            counter.bytes)
        if report:
            report_file = JsonFile(report, outcome.to_dict())
        # The index is saved before the outputs are published: the likelier failure (a full
        # disk while it is written) then leaves no output behind; the renames rarely fail.
        if corpus_index is not None and corpus_index.root is not None and resuming is None:
            _save_index(corpus_index)
        elif resuming is not None and corpus_index is not None and \
                resuming.index_dir is not None and \
                corpus_index.generation == resuming.index_generation:
            _save_index(corpus_index)
            crash_point("run:index-saved")
        writer.publish()
        if removed_writer:
            removed_writer.commit()
        if report_file is not None:
            report_file.commit()
    except BaseException as exc:
        writer.abort(resuming.keep() if resuming is not None else ())
        if removed_writer:
            removed_writer.abort()
        if report_file is not None:
            report_file.abort()
        if isinstance(exc, OSError):  # not one of the writers' files: the index, the state
            where = exc.filename or (
                f"the corpus index in {corpus_index.root}" if corpus_index is not None
                and corpus_index.root is not None else "a file of the run")
            raise write_error(where, exc) from exc
        raise
    if resuming is not None:
        resuming.state.finish()
        crash_point("run:finished")
    return outcome


def _numbered(items: Iterable[Document | RawBlock], first: int) -> Iterator[Document | RawBlock]:
    """``items`` with their run ordinals from ``first`` on (a block: its first document's,
    the next item's after its records); a block of blank lines only is left out."""
    n = first
    for item in items:
        if isinstance(item, RawBlock):
            if not item.records:
                continue
            item.ordinal = n
            n += item.records
        else:
            item.ordinal = n
            n += 1
        yield item


def _in_order(messages: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``(ordinal, message)`` pairs in input order (a record parsed on a worker is noted when
    its chunk comes back, after the reader noted later ones); stable, so equal ordinals keep
    their order."""
    return sorted(messages, key=itemgetter(0))


def _save_index(index: CorpusIndex) -> None:
    """``index.save()``; a write error is an OutputError, and the temporary files the failed
    save left in the index directory are removed (the index stays as it was)."""
    root = index.root
    before = set(root.glob(".*.tmp")) if root is not None else set()
    try:
        index.save()
    except OSError as exc:
        if root is not None:
            for tmp in set(root.glob(".*.tmp")) - before:
                tmp.unlink(missing_ok=True)
        raise write_error(root or "the index", exc, "cannot save the index") from exc


def _close_index(index: CorpusIndex, failing: bool) -> None:
    """Close the index; its last buffered write may fail here. While another error is on its
    way out, that one is the message; otherwise this write error is."""
    try:
        index.close()
    except OSError as exc:
        if not failing:
            raise write_error(index.root or "the index", exc) from exc

