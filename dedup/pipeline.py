"""The pipeline, composed in one place: read -> segment -> normalise -> classify boilerplate ->
shingle/MinHash -> LSH -> choose canonical -> write.

Every stage is a generator over documents; :class:`Cleaner` chains them and times each one.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .batching import batches
from .boilerplate import Classifier, RuleClassifier
from .boilerplate.classifier import classify_batch
from .boilerplate.model import LearnedClassifier
from .boilerplate.page import PageClassifier
from .boilerplate.repetition import LineCounts
from .cluster import dedup_within
from .config import Config
from .crossdoc import CorpusDeduper, add_corpus_keys
from .errors import ConfigError
from .index import CorpusIndex
from .io.readers import RawBlock, RawReading, block_documents, parse_raw
from .normalize import normalize
from .parallel import (
    COUNT_SPILL,
    INHERITED,
    BlockRange,
    Chunk,
    CountsUpdate,
    DaskExecutor,
    Executor,
    FinishedList,
    HeldBlock,
    LocalExecutor,
    Part,
    SpilledCounts,
    apply_parsed,
    apply_spilled,
    block_stubs,
    count_chunk,
    fewer_collections,
    finish_chunk,
    finish_documents,
    inherited_spans,
    make_parts,
    parsed_copy,
    prepare_chunk,
    prepare_to_finish,
    unit_documents,
)
from .records import Finished, KeyColumns, KeyRef
from .segment import segment
from .signature import SketchCache
from .staged import CorpusOutcome, OutcomeColumns, Outcomes, StagedDeduper, corpus_deduper
from .stats import Stats
from .types import (
    DROP,
    CorpusKeys,
    DocCluster,
    Document,
    Paragraph,
    Verdict,
    instances,
)

Stage = Callable[[Iterable[Document]], Iterator[Document]]
T = TypeVar("T")


@dataclass(slots=True)
class CleanResult:
    """A cleaned document: the clean text and one verdict per input line."""

    doc: Document
    text: str
    verdicts: list[Verdict]
    dropped_document: bool = False  # a near-duplicate document under ``documents = "drop"``
    # Set when a worker finished the document (see Cleaner.clean_documents(finished=True)):
    # then ``verdicts`` and the document's paragraphs are empty, and this has their summary.
    finished: Finished | None = None

    @property
    def removed(self) -> list[tuple[Paragraph, Verdict]]:
        """The dropped paragraphs with their verdicts, in document order."""
        if self.finished is not None:
            raise ValueError("a document finished on a worker has no paragraphs here; "
                             "read its removed records from result.finished.removed")
        return [(p, v) for p, v in zip(self.doc.paragraphs, self.verdicts, strict=True)
                if v.dropped]

    def line_counts(self) -> tuple[int, list[str]]:
        """The number of input lines and the reason of every dropped one, in order."""
        if self.finished is not None:
            return self.finished.lines, list(self.finished.dropped)
        return len(self.verdicts), [v.reason for v in self.verdicts if v.label == DROP]


class _Timer:
    """Inclusive time spent pulling from a stage; exclusive times are differences of these."""

    def __init__(self) -> None:
        self.inclusive: dict[str, float] = {}

    def wrap(self, name: str, it: Iterator[T]) -> Iterator[T]:
        self.inclusive.setdefault(name, 0.0)  # registered now, so the dict keeps flow order
        return self._pull(name, it)

    def _pull(self, name: str, it: Iterator[T]) -> Iterator[T]:
        while True:
            t0 = time.perf_counter()
            try:
                doc = next(it)
            except StopIteration:
                self.inclusive[name] += time.perf_counter() - t0
                return
            self.inclusive[name] += time.perf_counter() - t0
            yield doc

    def exclusive(self) -> dict[str, float]:
        out: dict[str, float] = {}
        prev = 0.0
        for name, total in self.inclusive.items():
            out[name] = max(0.0, total - prev)
            prev = total
        return out


def _as_document(item: Document | str, n: int) -> Document:
    return item if isinstance(item, Document) else Document(id=str(n), text=item)


def _records(item: Document | RawBlock) -> int:
    """The documents an item of a stream holds: one, or a block's records."""
    return item.records if isinstance(item, RawBlock) else 1


@dataclass(frozen=True, slots=True)
class _Here:
    """The documents of a block of raw lines prepared in this process (see
    ``Cleaner._finish_parallel``)."""

    docs: list[Document]


class Cleaner:
    """Cleans documents: boilerplate out, near-duplicate paragraphs out, one canonical copy kept.

    >>> cleaner = Cleaner()
    >>> line = "The council approved the harbour bridge budget after a long debate on Monday."
    >>> result = cleaner.clean(f"We use cookies. Accept all to continue.\\n{line}\\n{line}!")
    >>> result.text == line + "\\n"
    True
    >>> [v.reason for v in result.verdicts]
    ['boilerplate:cookie', 'content', 'duplicate:exact']
    """

    def __init__(self, config: Config | None = None,
                 classifiers: Sequence[Classifier] | None = None,
                 counts: LineCounts | None = None, index: CorpusIndex | None = None,
                 canonical: frozenset[int] = frozenset(), jobs: int = 1,
                 executor: Executor | None = None) -> None:
        self.config = config or Config()
        self.canonical = canonical
        if jobs < 1:
            raise ConfigError(f"jobs = {jobs} is out of range", hint="use 1 or more workers")
        self.jobs = jobs
        # Parallel when jobs > 1 (local worker processes) or when an executor is given (e.g. a
        # Dask cluster); the caller owns a given executor.
        self.executor = executor
        self.corpus_deduper: CorpusDeduper | None = None  # the current run's corpus stage
        self._prep_timer = _Timer()
        self._sketches = SketchCache()  # copied paragraphs are MinHashed once
        self._given = None if classifiers is None else list(classifiers)
        self.counts = counts
        self._index = index
        self.stats = Stats()
        # built on first use (see classifiers): a run with a repetition sample builds them
        # once, after counting it
        self._classifiers: list[Classifier] | None = None
        # the repetition sample's documents, until the parallel run that starts with them
        # has started its workers (see _clean_parallel)
        self._held: Sequence[Document | RawBlock] = ()
        # Set by a caller whose reader leaves JSONL records raw (``Document.raw``, see
        # dedup.io.readers.parse_raw): how to parse them, and what to tell once one is parsed
        # (its error, if any, known only then). Parallel runs parse them on the workers.
        self.reading: RawReading | None = None
        self.on_parsed: Callable[[Document], None] | None = None
        # Set by a caller that writes every raw record as JSONL (the text field's name): the
        # workers that parse the records render their output lines (Finished.line), and the
        # parent holds none of their fields.
        self.render: str | None = None
        # the results of the chunk being handed out, from the one handed out last: a parallel
        # run counts a chunk's statistics when its first result is handed out
        self._ahead: deque[CleanResult] = deque()

    @property
    def classifiers(self) -> list[Classifier]:
        """The boilerplate stage's classifiers: those given, or built from the configuration
        (with the repetition sample's counts, once they are counted) when first used."""
        if self._classifiers is None:
            self._classifiers = self._build_classifiers()
        return self._classifiers

    @classifiers.setter
    def classifiers(self, classifiers: list[Classifier]) -> None:
        self._classifiers = classifiers

    def _build_classifiers(self) -> list[Classifier]:
        bp = self.config.boilerplate
        if self._given is not None:
            return self._given
        if not bp.enabled:
            return []
        # auto: the page-structure model, trained on real pages and text alone, so one page is
        # cleaned as well as a corpus (cross-validated by site on real pages, it beats the
        # rules and the generated-corpus model; see the README); with corpus counts, the
        # learned model's confident drops add to it (a site's template lines recur).
        if bp.classifier == "rules":
            return [RuleClassifier(bp)]
        if bp.classifier == "learned":
            return [LearnedClassifier(bp, counts=self.counts)]
        if bp.classifier == "page":
            return [PageClassifier(bp)]
        return [PageClassifier(bp, counts=self.counts)]

    @property
    def index(self) -> CorpusIndex:
        """The corpus index of everything kept so far (created on first use, in memory and
        spilling to a temporary file, unless one was given)."""
        if self._index is None:
            self._index = CorpusIndex(self.config)
        return self._index

    def close(self) -> None:
        """Release the corpus index's files (a given index is left to its owner)."""
        if self._index is not None:
            self._index.close()

    def _corpus(self, docs: Iterable[Document]) -> Iterator[Document]:
        deduper = corpus_deduper(self.config, self.index, self.canonical)
        self.corpus_deduper = deduper
        yield from deduper(docs)

    @property
    def uses_repetition(self) -> bool:
        bp = self.config.boilerplate
        return (self._given is None and bp.enabled and bp.classifier in ("auto", "learned")
                and bp.repetition != "off")

    def _classify(self, docs: Iterable[Document]) -> Iterator[Document]:
        """The boilerplate stage, reading ``self.classifiers`` per batch of documents (after
        pulling it): the classifiers change once the repetition sample has been counted."""
        for batch in batches(docs):
            classify_batch(batch, self.classifiers)
            yield from batch

    def count_lines(self, docs: Iterable[Document | str]) -> LineCounts:
        """First pass: count how often every line recurs across ``docs`` (for the classifier).

        The counts are kept and used by the following :meth:`clean_documents` calls.
        """
        if self.counts is None:
            self.counts = LineCounts()
        stream = (_as_document(d, n) for n, d in enumerate(docs))
        if self.jobs > 1:
            self._count_parallel(stream)
        else:
            self.counts.add_documents(normalize(segment(stream), self.config.norm))
        self._classifiers = None  # built again, with the counts, when first used
        return self.counts

    @property
    def parallel(self) -> bool:
        return self.executor is not None or self.jobs > 1

    def _start(self, state: dict[str, Any]) -> tuple[Executor, bool]:
        """The executor started with ``state``, and whether it is ours to close. ``state``'s
        ``INHERITED`` documents are let go of once the workers hold them."""
        ex, own = (self.executor, False) if self.executor is not None else (
            LocalExecutor(self.jobs), True)
        ex.start(state)
        state.pop(INHERITED, None)
        return ex, own

    def _parse(self, doc: Document) -> Document:
        """``doc`` with its raw record parsed here (in place), the caller told."""
        if doc.raw is not None:
            if self.reading is None:
                raise ValueError(f"document {doc.id} is a raw record, and no reading is set "
                                 "to parse it (Cleaner.reading)")
            parse_raw(doc, self.reading)
            if self.on_parsed is not None:
                self.on_parsed(doc)
        return doc

    def _forks(self) -> bool:
        """Whether this run's workers are forked from this process (see Chunk)."""
        if self.executor is None:
            return LocalExecutor.forks
        return isinstance(self.executor, LocalExecutor) and self.executor.forks

    def _count_parallel(self, docs: Iterable[Document | RawBlock],
                        held: Sequence[Document | RawBlock] = (),
                        quota: int = sys.maxsize) -> None:
        """The line counts with the hashing on the workers, updated in order. ``held``: the
        documents ``docs`` starts with, if this process holds them (forked workers then read
        them from their copy, see :func:`~dedup.parallel.inherited_spans`). ``quota``: how
        many of their documents to count (a block of raw lines may end past it).

        Forked workers leave their hashed chunks in files, and one of them then updates its
        copy of the counts with them all, in order, into a file this process maps
        (:func:`~dedup.parallel.apply_spilled`): the counts come here as pages, not as
        arrays to receive and apply. Other workers send the arrays, applied here."""
        assert self.counts is not None
        state: dict[str, Any] = {"counts": self.counts, "config": self.config,
                                 "reading": self.reading}
        forks = self._forks()
        held = held if forks else ()
        if held:
            state[INHERITED] = held
        spill = tempfile.mkdtemp(prefix="dedup-counts-") if forks else None
        state[COUNT_SPILL] = spill
        chunks: list[tuple[str, int]] = []
        left = quota  # documents still to count (the last block may hold more)
        try:
            ex, own = self._start(state)
            try:
                for packed in ex.map(count_chunk,
                                     map(ex.outgoing, inherited_spans(held, ex.chunks(docs))),
                                     local=lambda chunk: count_chunk(state, chunk)):
                    take = min(len(packed), left)
                    if take <= 0:
                        continue
                    if isinstance(packed, SpilledCounts):
                        chunks.append((packed.path, take))
                    else:
                        self.counts.apply_packed(packed.head(take) if take < len(packed)
                                                 else packed)
                    left -= take
                if spill is not None:
                    out = os.path.join(spill, "sketch")
                    update = CountsUpdate(tuple(chunks), out)
                    [counted] = list(ex.map(apply_spilled, [update]))
                    self.counts.map_arrays(out)
                    self.counts.documents += counted
            finally:
                if own:
                    ex.close()
        finally:
            if spill is not None:
                shutil.rmtree(spill, ignore_errors=True)

    def _with_sample_counts(self, docs: Iterable[Document | str | RawBlock]
                            ) -> Iterator[Document | str | RawBlock]:
        """Count lines over the first ``repetition_sample`` documents, then stream them all
        (a block of raw lines holds several: the sample takes it whole, counts its first)."""
        stream = iter(docs)
        quota = self.config.boilerplate.repetition_sample
        sample: list[Document | RawBlock] = []
        n = 0
        while n < quota:
            item = next(stream, None)
            if item is None:
                break
            item = item if isinstance(item, RawBlock) else _as_document(item, n)
            sample.append(item)
            n += _records(item)
        self.count_sample(sample)
        pending = deque(sample)  # let go of each document once it is yielded
        del sample
        while pending:
            yield pending.popleft()
        yield from stream

    def count_sample(self, sample: Sequence[Document | str | RawBlock]) -> None:
        """Count lines over ``sample`` as a run counts its first ``repetition_sample`` documents
        (nothing when there are fewer than ``repetition_min_docs``), for the classifier; a
        block of raw lines (``RawBlock``, read with :attr:`reading` set) counts as its
        documents, and those past ``repetition_sample`` are not counted.

        A caller that streams a corpus in several :meth:`clean_documents` calls (one batch at a
        time) gives the corpus's first documents here, so every batch is classified as one
        stream would be."""
        bp = self.config.boilerplate
        items = [d if isinstance(d, RawBlock) else _as_document(d, n)
                 for n, d in enumerate(sample)]
        size = min(sum(map(_records, items)), bp.repetition_sample)
        if size < bp.repetition_min_docs:
            return
        width = 1 << max(16, (4 * 40 * size).bit_length())
        self.counts = LineCounts(width=min(width, 1 << 22),
                                 bloom_bits=min(width * 16, 1 << 27))
        if self.parallel:
            self._count_parallel(items, items, size)
            self._held = items  # the run's workers, forked next, may read them as their own
            self._classifiers = None  # built again, with the counts, when first used
            return
        docs = self._expanded(items)[:size]
        if self.reading is not None:  # raw records counted from parsed copies
            docs = [parsed_copy(d, self.reading) for d in docs]
        if any(d.paragraphs for d in docs):
            # Segment and normalise copies: the sample waits in memory as raw text, not as
            # paragraphs and tokens (about ten times the size); it is segmented again when
            # its turn comes.
            self.counts.add_documents(normalize(
                segment(d if d.paragraphs else Document(d.id, d.text) for d in docs),
                self.config.norm))
        else:  # the same counts from the texts' line keys alone
            self.counts.add_texts((d.text for d in docs), self.config.norm)
        self._classifiers = None  # built again, with the counts, when first used

    def prepare(self, docs: Iterable[Document]) -> Iterator[Document]:
        """Every stage before the corpus stage: documents ready to be matched or indexed."""
        stream: Iterator[Document] = iter(docs)
        for name, stage in self.stages():
            if name != "corpus":
                stream = stage(stream)
        return stream

    def prepare_timed(self, docs: Iterable[Document]) -> Iterator[Document]:
        """:meth:`prepare`, timing each stage (see :meth:`take_stage_seconds`)."""
        stream: Iterator[Document] = iter(docs)
        for name, stage in self.stages():
            if name != "corpus":
                stream = self._prep_timer.wrap(name, stage(stream))
        return stream

    def take_stage_seconds(self) -> dict[str, float]:
        """Seconds per stage spent in :meth:`prepare_timed` since the last call."""
        out = self._prep_timer.exclusive()
        self._prep_timer = _Timer()
        return out

    def stages(self) -> list[tuple[str, Stage]]:
        """The stages in flow order, each a generator over documents."""
        cfg = self.config
        return [
            ("segment", segment),
            ("normalize", lambda docs: normalize(docs, cfg.norm)),
            ("boilerplate", self._classify),
            ("dedup", lambda docs: dedup_within(docs, cfg, self._sketches)),
            *([("keys", lambda docs: add_corpus_keys(docs, cfg, self._sketches)),
               ("corpus", self._corpus)]
              if cfg.corpus.enabled else []),
        ]

    def clean_documents(self, docs: Iterable[Document | str | RawBlock], *,
                        finished: bool = False, removed: bool = False
                        ) -> Iterator[CleanResult]:
        """Stream :class:`CleanResult` for every document, in input order. A block of raw
        JSONL lines (:func:`~dedup.io.readers.read_blocks`) stands for its documents (parsed
        as :attr:`reading` says, on the workers of a parallel run).

        ``finished``: a parallel run may finish each document on a worker, so its paragraphs
        never travel back to this process: the result then has the clean text and a
        :class:`~dedup.records.Finished` summary (with the ``--removed`` records as JSON lines
        when ``removed``), and no verdicts (see :meth:`_finish_parallel`)."""
        timer = _Timer()
        docs = self._counting(docs)
        if self.parallel:
            yield from self._clean_parallel(docs, finished, removed)
            return
        stream: Iterator[Document] = timer.wrap(
            "read", (self._parse(_as_document(d, n))
                     for n, d in enumerate(self._unblocked(docs))))
        for name, stage in self.stages():
            stream = timer.wrap(name, stage(stream))
        try:
            for doc in stream:
                yield self._result(doc)
        finally:
            for name, secs in timer.exclusive().items():
                self.stats.stage_seconds[name] = self.stats.stage_seconds.get(name, 0.0) + secs

    def _counting(self, docs: Iterable[Document | str | RawBlock]
                  ) -> Iterable[Document | str | RawBlock]:
        """``docs``, the line counts made first when the classifier needs them and has none:
        over all of them (``repetition = 'full'``) or over the sample they start with."""
        if not self.uses_repetition or self.counts is not None:
            return docs
        if self.config.boilerplate.repetition == "full":
            if isinstance(docs, Iterator):
                raise ConfigError(
                    "boilerplate.repetition = 'full' needs two passes over the input",
                    hint="call Cleaner.count_lines(docs) first, pass a list, or use "
                         "repetition = 'sample'")
            self.count_lines(self._unblocked(docs))
            return docs
        return self._with_sample_counts(docs)

    def _expanded(self, items: Iterable[Document | RawBlock]) -> list[Document]:
        """``items`` with every block of raw lines made into its documents (parsed here)."""
        out: list[Document] = []
        for item in items:
            if isinstance(item, RawBlock):
                if self.reading is None:
                    raise ValueError(f"a block of {item.path} came, and no reading is set to "
                                     "parse it (Cleaner.reading)")
                out.extend(block_documents(item, self.reading))
            else:
                out.append(item)
        return out

    def _unblocked(self, items: Iterable[Document | str | RawBlock]) -> Iterator[Document | str]:
        """``items`` as documents (a block of raw lines made into its documents here)."""
        for item in items:
            if isinstance(item, RawBlock):
                yield from self._expanded([item])
            else:
                yield item

    def clean_parts(self, docs: Iterable[Document | RawBlock], removed: bool = False
                    ) -> Iterator[Part]:
        """:meth:`clean_documents` with ``finished`` for a parallel run that reads JSONL records
        raw and writes them as JSONL (:attr:`reading` and :attr:`render` set): the documents
        come back as :class:`~dedup.parallel.Part` s, runs of consecutive documents of one
        input with their output records, ``--removed`` records (``removed``) and statistics,
        all made on the workers; nothing is made here a document. :attr:`stats` counts a part
        when the caller asks for the next one (so a checkpoint taken before writing a part
        does not count it)."""
        if not self.parallel or self.reading is None or self.render is None or \
                self.canonical:
            raise ValueError("Cleaner.clean_parts is for parallel runs of raw JSONL records "
                             "written as JSONL (jobs > 1 or an executor, reading and render "
                             "set, keep policy not 'longest')")
        yield from self._clean_parallel(self._counting(docs), True, removed, parts=True)

    def counted_from(self, result: CleanResult) -> list[CleanResult]:
        """The results :attr:`stats` counts from ``result`` (the last one handed out by
        :meth:`clean_documents`) on, in order: ``result`` alone, or in a parallel run also the
        rest of its chunk, whose statistics were counted at once. A checkpoint that ends before
        ``result`` takes these back out."""
        ahead = self._ahead
        if ahead and ahead[0] is result:
            return list(ahead)
        return [result]

    def _result(self, doc: Document) -> CleanResult:
        result = clean_result(doc, self.config)
        self.stats.add(result)
        return result

    def _clean_parallel(self, docs: Iterable[Document | str | RawBlock], finished: bool = False,
                        removed: bool = False, parts: bool = False) -> Iterator[Any]:
        """:meth:`clean_documents` with the per-document stages on the workers (see
        :mod:`dedup.parallel`); the corpus stage runs here, in input order. The collector
        runs less often meanwhile (:func:`~dedup.parallel.fewer_collections`)."""
        with fewer_collections():
            yield from self._parallel(docs, finished, removed, parts)

    def _parallel(self, docs: Iterable[Document | str | RawBlock], finished: bool,
                  removed: bool, parts: bool) -> Iterator[Any]:
        stream = iter(docs)
        # The counts must exist before the workers start: read the sample now (the sample
        # generator counts when its first document is pulled).
        first = list(itertools.islice(stream, 1))
        stream = itertools.chain(first, stream)
        # The workers' Cleaner builds its classifiers where it first classifies (each worker
        # once, from the same configuration and counts), not here: this process only
        # coordinates, and a Dask client scatters no model.
        worker = Cleaner(self.config, self._given, self.counts)
        corpus = (corpus_deduper(self.config, self.index, self.canonical)
                  if self.config.corpus.enabled else None)
        self.corpus_deduper = corpus
        state: dict[str, Any] = {"cleaner": worker, "removed": removed, "reading": self.reading,
                                 "render": self.render if self.reading is not None else None}
        held, self._held = (self._held if self._forks() else ()), ()
        if held:
            state[INHERITED] = held
        if parts:
            state["parts"] = True
        if finished and (corpus is None or isinstance(corpus, StagedDeduper)):
            # Local workers share this machine's disk: a prepared chunk waits for its corpus
            # decisions in a file there, not in this process (a Dask cluster's wait on the
            # worker that made them, see DaskExecutor.map_held).
            local = not isinstance(self.executor, DaskExecutor)
            spill = tempfile.mkdtemp(prefix="dedup-chunks-") if local else None
            state["spill"] = spill
            ex, own = self._start(state)
            try:
                yield from self._finish_parallel(stream, ex, state, corpus, held, parts)
            finally:
                if own:
                    ex.close()
                if spill is not None:
                    shutil.rmtree(spill, ignore_errors=True)
            return
        state.pop(INHERITED, None)  # this path sends every chunk whole
        ex, own = self._start(state)
        seconds = self.stats.stage_seconds
        # (this path's workers send the documents back whole: raw records are parsed here)
        documents = (self._parse(_as_document(d, n))
                     for n, d in enumerate(self._unblocked(stream)))
        sent: deque[list[Document]] = deque()  # the chunks on the workers, in input order

        def send() -> Iterator[list[Document]]:
            for chunk in ex.chunks(documents):
                assert not isinstance(chunk, RawBlock)  # (blocks are made into documents)
                sent.append(chunk)
                yield Chunk(chunk)  # the same documents, pickled without their records

        def here(chunk: list[Document]) -> tuple[None, dict[str, float]]:
            """A chunk prepared in this process, in place (nothing to unpack)."""
            for _ in worker.prepare_timed(chunk):
                pass
            return None, worker.take_stage_seconds()

        def prepared() -> Iterator[Document]:
            for packed, stage_seconds in ex.map(prepare_chunk, send(), local=here):
                for name, secs in stage_seconds.items():
                    seconds[name] = seconds.get(name, 0.0) + secs
                t0 = time.perf_counter()
                chunk = sent.popleft()
                docs = (chunk if packed is None else
                        [p.apply(doc) for doc, p in zip(chunk, packed, strict=True)])
                seconds["transfer"] = seconds.get("transfer", 0.0) + time.perf_counter() - t0
                yield from docs

        # One stream through the corpus stage (its windows span chunks, as in one process);
        # its own time is the time pulling from it less the time pulling its input.
        timer = _Timer()
        out: Iterator[Document] = timer.wrap("upstream", prepared())
        if corpus is not None:
            out = timer.wrap("corpus", corpus(out))
        try:
            for doc in out:
                yield self._result(doc)
        finally:
            if corpus is not None:
                seconds["corpus"] = seconds.get("corpus", 0.0) + timer.exclusive()["corpus"]
            if own:
                ex.close()

    def _finish_parallel(self, docs: Iterator[Document | str | RawBlock], ex: Executor,
                         state: dict[str, Any], corpus: StagedDeduper | None,
                         held: Sequence[Document | RawBlock] = (),
                         parts: bool = False) -> Iterator[Any]:
        """The parallel run of :meth:`clean_documents` with ``finished``: this process reads,
        decides the corpus stage and counts; the workers do everything else.

        1. Each chunk goes to a worker (:func:`~dedup.parallel.prepare_to_finish`), which
           returns the corpus keys of its documents and the rest as one blob, kept unread;
        2. the corpus stage decides each document here from its keys alone
           (:meth:`StagedDeduper.outcomes`: windows spanning chunks, as in one process);
        3. once every document of a chunk is decided, its blob and outcomes go to a worker
           (:func:`~dedup.parallel.finish_chunk`), which applies the per-document records and
           the outcomes and returns each document's clean text and summary.

        The results are those of the other path byte for byte: the same functions decide and
        finish, only in other processes. With ``parts`` (see :meth:`clean_parts`) a chunk comes
        back as :class:`~dedup.parallel.Part` s and they are handed on as they are."""
        seconds = self.stats.stage_seconds
        config = self.config
        worker: Cleaner = state["cleaner"]
        documents = (d if isinstance(d, RawBlock) else _as_document(d, n)
                     for n, d in enumerate(docs))
        # chunks on the workers, in input order: documents or a block of raw lines
        sent: deque[list[Document] | RawBlock] = deque()
        # chunks back from the workers (with their blob) or prepared here (None), not decided
        prepared: deque[tuple[list[Document], Any]] = deque()  # blob: bytes, path or future
        # decided chunks in input order, with their records once finished
        order: deque[tuple[list[Document], FinishedList | None]] = deque()
        removed = bool(state["removed"])

        def add(stage_seconds: dict[str, float]) -> None:
            for name, secs in stage_seconds.items():
                seconds[name] = seconds.get(name, 0.0) + secs

        def send() -> Iterator[Chunk | RawBlock | HeldBlock | BlockRange]:
            def noted() -> Iterator[list[Document] | RawBlock]:
                for unit in ex.chunks(documents):
                    sent.append(unit)
                    yield unit
            return map(ex.outgoing, inherited_spans(held, noted()))

        def here(chunk: Chunk | RawBlock | HeldBlock | BlockRange
                 ) -> tuple[_Here | None, None, dict[str, float]]:
            """A chunk prepared in this process, in place: it is finished here too, from the
            documents themselves (no record, no blob). A block of raw lines is made into its
            documents here, and they come back (``_Here``)."""
            if isinstance(chunk, Chunk):
                docs: list[Document] = chunk
                for doc in docs:
                    self._parse(doc)
            else:
                assert self.reading is not None
                docs = unit_documents(chunk, self.reading)
            for _ in worker.prepare_timed(docs):
                pass
            made = None if isinstance(chunk, Chunk) else _Here(docs)
            return made, None, worker.take_stage_seconds()

        def keyed() -> Iterator[tuple[list[Document], Sequence[CorpusKeys | KeyRef | None],
                                      list[int]]]:
            """Each chunk with its documents' keys and text lengths: a chunk's columns (whole
            records) are read in place, other records are made into keys; a chunk prepared
            here has its own."""
            for keys, blob, stage_seconds in ex.map_held(prepare_to_finish, send(), local=here):
                add(stage_seconds)
                t0 = time.perf_counter()
                unit = sent.popleft()
                lengths: list[int]
                if isinstance(keys, _Here):  # a block made into documents here
                    chunk = keys.docs
                    keys = None
                    if self.on_parsed is not None:
                        for doc in chunk:
                            self.on_parsed(doc)
                    lengths = [len(doc.text) for doc in chunk]
                elif isinstance(unit, RawBlock):  # a block's documents, made on the worker
                    keys, parsed = keys
                    chunk = block_stubs(unit, parsed)  # (what the worker said of each)
                    if self.on_parsed is not None:
                        for doc in chunk:
                            self.on_parsed(doc)
                    lengths = [info[4] for info in parsed]  # (the texts are on the worker)
                elif isinstance(keys, tuple):  # the chunk's raw records, parsed on the worker
                    chunk = unit
                    keys, parsed = keys
                    lengths = []
                    on_parsed = self.on_parsed
                    for doc, info in zip(chunk, parsed, strict=True):
                        if info is None:
                            lengths.append(len(doc.text))
                            continue
                        lengths.append(apply_parsed(doc, info))  # (its text is on the worker)
                        if on_parsed is not None:
                            on_parsed(doc)
                else:
                    chunk = unit
                    lengths = [len(doc.text) for doc in chunk]
                refs: Sequence[CorpusKeys | KeyRef | None]
                if keys is None:
                    refs = [doc.corpus_keys for doc in chunk]
                    for doc in chunk:
                        doc.corpus_keys = None
                elif isinstance(keys, KeyColumns):
                    refs = instances(KeyRef, list(zip(itertools.repeat(keys), range(len(chunk)))))
                else:
                    refs = [None if k is None else k.corpus_keys() for k in keys]
                prepared.append((chunk, blob))
                seconds["transfer"] = seconds.get("transfer", 0.0) + time.perf_counter() - t0
                yield chunk, refs, lengths

        timer = _Timer()

        def decided() -> Iterator[tuple[Any, Sequence[CorpusOutcome | None]]]:
            """The blob and outcomes of every chunk a worker prepared, once decided; a chunk
            prepared here is finished here, straight away."""
            upstream = timer.wrap("upstream", keyed())
            chunks: Iterator[tuple[list[Document], Sequence[CorpusOutcome | None]]] = (
                timer.wrap("corpus", corpus.keyed_chunks(upstream))
                if corpus is not None
                else ((c, [None] * len(c)) for c, _, _ in upstream))
            for chunk, outcomes in chunks:
                if not parts:  # (read by the results here: a dropped document)
                    for doc, outcome in zip(chunk, outcomes, strict=True):
                        if outcome is not None:
                            doc.cluster = outcome.cluster
                done, blob = prepared.popleft()
                assert done is chunk
                if blob is None:
                    t0 = time.perf_counter()
                    order.append((chunk, finish_documents(chunk, outcomes, config, removed)))
                    for d in chunk:
                        d.paragraphs = []  # as a worker's documents: let go of them
                    add({"finish": time.perf_counter() - t0})
                else:
                    order.append((chunk, None))
                    yield blob, (outcomes if isinstance(outcomes, OutcomeColumns)
                                 else Outcomes(outcomes))

        def results(chunk: list[Document], done: FinishedList) -> Iterator[CleanResult]:
            """The chunk's results, its statistics (counted where it was finished) counted
            when the first is handed out (see :meth:`counted_from`)."""
            drop = config.corpus.documents == "drop"
            made = instances(CleanResult, [
                (doc, fin.text, [], drop and dropped_document(doc, config), fin)
                for doc, fin in zip(chunk, done, strict=True)])
            ahead = self._ahead
            ahead.clear()
            ahead.extend(made)
            self.stats.merge(done.stats)
            while ahead:
                yield ahead[0]
                ahead.popleft()

        def parts_here(chunk: list[Document], done: FinishedList) -> list[Part]:
            """A chunk finished here as parts: its output records rendered here, as the
            JSONL writer renders them."""
            from .io.writers import output_record, record_json  # (they import this module)

            field = self.render
            assert field is not None
            drop = config.corpus.documents == "drop"
            lines = [record_json(output_record(CleanResult(
                doc, fin.text, [], drop and dropped_document(doc, config)), field)) + "\n"
                for doc, fin in zip(chunk, done, strict=True)]
            return make_parts(done, [d.id for d in chunk], [d.source for d in chunk],
                              [d.ordinal for d in chunk], [bool(d.error) for d in chunk],
                              [d.cluster for d in chunk], config, lines)

        def handed(chunk: list[Document], done: Any) -> Iterator[Any]:
            """A chunk's results, or its parts (each counted once the caller comes back)."""
            if not parts:
                yield from results(chunk, done)
                return
            for part in done if not isinstance(done, FinishedList) else parts_here(chunk, done):
                yield part
                self.stats.merge(part.stats)

        def finished_here() -> Iterator[Any]:
            """The chunks at the head of ``order`` that were finished here."""
            while order and order[0][1] is not None:
                chunk, done = order.popleft()
                assert done is not None
                yield from handed(chunk, done)

        try:
            for done, stage_seconds in ex.map(finish_chunk, decided(),
                                              local=lambda item: finish_chunk(state, item)):
                add(stage_seconds)
                yield from finished_here()  # the chunks before this one
                chunk, pending = order.popleft()
                assert pending is None  # this one: the first chunk a worker prepared
                yield from handed(chunk, done)
            yield from finished_here()
        finally:
            if corpus is not None:
                seconds["corpus"] = seconds.get("corpus", 0.0) + timer.exclusive()["corpus"]

    def clean(self, doc: Document | str) -> CleanResult:
        """Clean one document (a :class:`Document` or a plain string)."""
        return next(self.clean_documents([doc]))


def dropped_document(doc: Document, config: Config) -> bool:
    """Whether ``doc`` is left out whole: a near-duplicate under ``documents = "drop"``."""
    return drops_document(doc.cluster, config)


def drops_document(cluster: DocCluster | None, config: Config) -> bool:
    """Whether a document of ``cluster`` is left out whole (see :func:`dropped_document`)."""
    return cluster is not None and cluster.duplicate and config.corpus.documents == "drop"


def clean_result(doc: Document, config: Config) -> CleanResult:
    """The result of a document every stage has decided."""
    return CleanResult(doc, doc.clean_text(), doc.verdicts(), dropped_document(doc, config))


def clean_text(text: str, config: Config | None = None) -> str:
    """Clean one text and return the clean text.

    >>> line = "The council approved the harbour bridge budget after a long debate on Monday."
    >>> clean_text(f"{line}\\n{line}") == line + "\\n"
    True
    """
    return Cleaner(config).clean(text).text
