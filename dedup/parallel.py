"""Parallel runs: per-document work on workers, corpus decisions in the parent, in input order.

Two executors run the same worker functions:

- :class:`LocalExecutor` (``--jobs N``): ``N - 1`` forked worker processes on this machine,
  and the parent, which prepares a chunk itself whenever the next result is not ready yet
  (so ``--jobs 2`` keeps two cores busy with two processes, and only half the chunks are
  pickled).
- :class:`DaskExecutor` (``--engine dask``): the workers of a Dask cluster, an existing one
  (``--scheduler tcp://host:8786``) or a LocalCluster of ``--jobs`` workers on 127.0.0.1.

What runs where:

- **workers**: for each chunk of documents, segmentation, normalisation, the boilerplate
  classifier, in-document dedup and the MinHash signatures (:meth:`Cleaner.prepare`); for the
  repetition sample, the hashing half of the line counts (:meth:`LineCounts.prepare`); and, in
  a run of ``dedup clean``, the finishing: a chunk comes back as its documents' corpus keys,
  the rest waiting as one blob in a file of a private temporary directory (local workers) or
  in the memory of the Dask worker that made it (:func:`prepare_to_finish`,
  :meth:`DaskExecutor.map_held`); once the corpus stage has
  decided the chunk, the blob and the decisions go to a worker, which returns each document's
  clean text, line counts and ``--removed`` records (:func:`finish_chunk`).
- **the parent** (the client, for Dask): reading, the line counts' updates, every
  cross-document decision from the documents' corpus keys (the corpus stage, a window of
  documents at a time in input order, :mod:`dedup.staged`), and writing.

So the output is byte-identical for every number of workers and both engines: the workers'
results depend only on the document, the config, the counts and the corpus stage's outcome;
the counts and the corpus index are updated in input order. Memory: a worker holds the model,
the counts and one chunk; the parent holds the corpus index (bounded by the index, see
:mod:`dedup.index`), one corpus window and at most ``2 * HELPING_WINDOW * workers`` chunks in
flight each way, whatever the input size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import itertools
import json
import multiprocessing
import multiprocessing.pool
import operator
import os
import pickle
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import xxhash

from .batching import BATCH, apart, batches, bounded_batches
from .errors import ConfigError, InputError
from .io.readers import RawBlock, block_documents, parse_raw
from .records import Finished, KeysChunk, Prepared, PreparedKeys
from .segment import BLANK
from .types import DROP, Document, instances, joined_lines, utf8_len

_BLANK_ROW = (BLANK.reason, BLANK.score, None, BLANK.detail)
# a raw record's other fields on their way back to the parent (see parse_chunk): exact for
# every value JSON read (strings with lone surrogates escaped, floats by their shortest repr)
_FIELDS_JSON = json.JSONEncoder(allow_nan=False)

HELPING_WINDOW = 4  # tasks queued per worker while this process runs one itself
_DONE = object()
DASK_HINT = 'pip install "dedup[dask]"'
CONNECT_TIMEOUT = "10s"  # how long to wait for a --scheduler

State = dict[str, Any]
Task = Callable[[State, Any], Any]

_STATE: State = {}  # a forked local worker's state, set by the parent before forking


def _ordered(submit: Callable[[Any], Any], result: Callable[[Any], Any], items: Iterable[Any],
             window: int) -> Iterator[Any]:
    """Results of ``submit(item)`` in input order, at most ``window`` tasks in flight."""
    pending: deque[Any] = deque()
    it = iter(items)
    for item in itertools.islice(it, window):
        pending.append(submit(item))
    while pending:
        done = result(pending.popleft())
        for item in itertools.islice(it, 1):
            pending.append(submit(item))
        yield done


def _local_call(func: Task, item: Any) -> Any:
    return func(_STATE, item)


class LocalExecutor:
    """``jobs`` processes on this machine: ``jobs - 1`` forked workers (they inherit the state)
    and this process, which takes a task itself whenever every worker is busy (see
    :meth:`map`). So ``--jobs 2`` runs two processes on two cores, not three."""

    name = "local"
    # Documents per task: each task costs this process a pickled message each way and a pool
    # round trip. On 20,000 generated pages (alternated runs, same output) chunks of 128
    # against 32 cut the coordinating client's CPU from 2.85-2.98 to 2.55-2.57 s and ran
    # --jobs 2 in 12.7-13.1 s against 14.3-16.3; 256 measured no better than 128.
    chunk = 4 * BATCH

    def __init__(self, jobs: int, helping: bool = True) -> None:
        self.jobs = jobs
        self.workers = max(jobs - 1, 1)
        # False: this process only coordinates, as a Dask client does (the benchmark measures
        # the coordinator's share of a run so)
        self.helping = helping
        self._pool: Any = None

    # Bytes of JSONL lines read at a time as a block (see dedup.io.readers.read_blocks): one
    # chunk, about 140 of the generated pages, as a chunk of documents.
    block_bytes = 1 << 19

    def chunks(self, docs: Iterable[Document | RawBlock]) -> Iterator[list[Document] | RawBlock]:
        """``docs`` in the chunks that go to the workers: ``chunk`` documents each, a block of
        raw lines by itself."""
        return apart(docs, RawBlock, lambda run: batches(run, self.chunk))

    # Workers are forked (Linux): they inherit this process's memory as it is at start, so a
    # chunk of documents it held then may go to them as a range (see Chunk), not as text.
    forks = sys.platform.startswith("linux")

    @staticmethod
    def outgoing(item: Any) -> Any:
        """``item`` as it goes to a worker: a block of raw lines as where it is in its file
        (the workers are on this machine, see :class:`BlockRange`)."""
        return BlockRange(item) if isinstance(item, RawBlock) and item.offset >= 0 else item

    def start(self, state: State) -> None:
        """Start the workers with ``state``. Its ``INHERITED`` documents (with forked workers)
        stay with the workers only: the parent lets go of them once they have started."""
        self.close()
        _set_state(state)  # inherited as is by forked workers
        if self.forks:
            self._pool = _Pool(self.workers, context=multiprocessing.get_context("fork"))
            _widen_pipes(self._pool)
            _STATE.pop(INHERITED, None)
        else:  # pragma: no cover - non-Linux
            state = {k: v for k, v in state.items() if k != INHERITED}
            self._pool = multiprocessing.get_context("spawn").Pool(
                self.workers, initializer=_set_state, initargs=(state,))

    def map(self, func: Task, items: Iterable[Any],
            local: Callable[[Any], Any] | None = None) -> Iterator[Any]:
        """Results of ``func(state, item)`` in input order. With ``local`` (``func`` run in
        this process, returning what the caller accepts in its place), this process runs the
        next item itself whenever the next result is not ready yet, instead of waiting, while
        ``HELPING_WINDOW`` tasks per worker stay queued; the result does not depend on who ran
        an item."""
        pool = self._pool
        if local is None or not self.helping:
            return _ordered(lambda item: pool.apply_async(_local_call, (func, item)),
                            lambda fut: fut.get(), items, 2 * self.workers)
        return self._helping(func, items, local)

    def _helping(self, func: Task, items: Iterable[Any], local: Callable[[Any], Any]
                 ) -> Iterator[Any]:
        """The caller's own work on the results comes first (it is the serial part); this
        process runs an item itself only when the next result is not ready yet."""
        pool = self._pool
        window = HELPING_WINDOW * self.workers
        pending: deque[tuple[bool, Any]] = deque()  # (run by a worker, future or result)
        it = iter(items)
        exhausted = False
        while True:
            busy = sum(1 for remote, f in pending if remote and not f.ready())
            for item in itertools.islice(it, max(window - busy, 0)):
                pending.append((True, pool.apply_async(_local_call, (func, item))))
            if pending and (not pending[0][0] or pending[0][1].ready()
                            or exhausted or len(pending) > 2 * window):
                remote, value = pending.popleft()
                yield value.get() if remote else value
                continue
            if exhausted:
                return
            item = next(it, _DONE)
            if item is _DONE:
                exhausted = True
                continue
            pending.append((False, local(item)))

    def map_held(self, func: Task, items: Iterable[Any],
                 local: Callable[[Any], Any] | None = None) -> Iterator[Any]:
        """:meth:`map` of a ``func`` returning ``(small, big, seconds)`` whose ``big`` part
        should stay where it was made: local workers leave it in a file and return its path
        (:func:`prepare_to_finish`), so this is :meth:`map`."""
        return self.map(func, items, local)

    def _pids(self) -> list[int]:
        pool = self._pool
        return [p.pid for p in getattr(pool, "_pool", ()) if p.pid] if pool is not None else []

    def cpu_seconds(self) -> float:
        """User plus system seconds the running workers have used so far (Linux: read from
        ``/proc``; workers that ended are counted among this process's children)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    fields = fh.read().rpartition(b")")[2].split()
            except OSError:  # pragma: no cover - a worker that just ended
                continue
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory of the running workers, in MB (Linux)."""
        peak = 0
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:  # pragma: no cover - a worker that just ended
                continue
        return peak / 1024.0

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            _stop_feeding(pool)
            threading.Thread(target=_end_results, args=(pool,), daemon=True).start()
            pool.terminate()
            pool.join()


def _stop_feeding(pool: Any, patience: float = 10.0) -> None:
    """Let ``pool``'s task handler end before its workers are killed: it sends no more tasks,
    puts the result handler's and the workers' sentinels in the pipes, and ends.

    CPython's ``Pool.terminate`` kills the workers once the worker handler has ended and only
    then waits for the task handler, whose last act is to put the result handler's sentinel
    in the result pipe under the pipe's write lock, which the workers share: a worker killed
    while it held that lock, or once woken to take it (the lock free, the wake-up lost with
    the worker), leaves the task handler and ``terminate`` waiting for ever (runs whose
    worker task failed hung so under load, in ``task_handler.join()``). Waiting here (at
    most ``patience`` seconds: the workers are alive and read the task pipe, so the sentinels
    find room) takes that step before any worker is killed."""
    worker_handler = getattr(pool, "_worker_handler", None)
    task_handler = getattr(pool, "_task_handler", None)
    notifier = getattr(pool, "_change_notifier", None)
    if worker_handler is None or task_handler is None or notifier is None:  # pragma: no cover
        return
    # as Pool._terminate_pool begins: the worker handler ends and sends the task handler its
    # sentinel; the task handler stops at the next task
    worker_handler._state = multiprocessing.pool.TERMINATE
    task_handler._state = multiprocessing.pool.TERMINATE
    notifier.put(None)
    task_handler.join(patience)


def _end_results(pool: Any, patience: float = 30.0) -> None:
    """Once every worker of a terminated ``pool`` has exited, close this process's end of
    the pool's result pipe (/dev/null put in its place), so that its result handler reads the
    end of the pipe instead of waiting for ever: a worker killed while it wrote a result
    leaves part of a message there, which CPython's handler, draining the pipe as it stops,
    waits to read whole (a run stopped early hung so in ``Pool.terminate``)."""
    deadline = time.monotonic() + patience
    workers = list(getattr(pool, "_pool", ()))
    handler = getattr(pool, "_result_handler", None)
    # and terminate() past its check that a handler which ended left no task waiting (the
    # workers may end before it, on the sentinels of _stop_feeding)
    while any(p.exitcode is None for p in workers) or \
            getattr(handler, "_state", None) != multiprocessing.pool.TERMINATE:
        if time.monotonic() > deadline:  # pragma: no cover - a worker that will not die
            return
        time.sleep(0.01)
    time.sleep(0.05)  # the handler's sentinel was written before the workers were killed
    writer = getattr(getattr(pool, "_outqueue", None), "_writer", None)
    if handler is not None and writer is not None:
        handler.join(0.5)
        if handler.is_alive():
            # the pipe's write end replaced by /dev/null rather than closed: the handler reads
            # the end of the pipe all the same, and a sentinel terminate() has still to put
            # there goes nowhere instead of raising (the workers may end before it is put)
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, writer.fileno())
                finally:
                    os.close(null)


class _Pool(multiprocessing.pool.Pool):
    """A pool whose worker-handler thread wakes when a worker exits or the task cache changes,
    not whenever a result waits in the result pipe.

    CPython's handler also waits on the result pipe's reader; while a result sits there (until
    the result-handler thread gets the GIL from this process's main thread, busy with the
    corpus stage), every wait returns at once and the handler loops, reaping workers each time:
    measured here, 1.2 of the parent's 9.5 CPU seconds on 20,000 pages. dedup's workers never
    exit on their own (no ``maxtasksperchild``), and the cache's changes come through the
    change notifier, so the result pipe is not needed to wake it."""

    def _get_sentinels(self) -> list[Any]:
        notifier = getattr(self, "_change_notifier", None)
        if notifier is None:  # pragma: no cover - another Python's pool: as it is
            return list(super()._get_sentinels())  # type: ignore[misc]
        return [notifier._reader]


PIPE_BYTES = 1 << 20  # Linux's default limit for unprivileged processes


def _widen_pipes(pool: Any) -> None:
    """Give the pool's task and result pipes room for whole chunks (Linux; best effort).

    A chunk (about 120 KB of text) and its result (about 180 KB) are larger than a pipe's
    default 64 KB, so each message used to cross in pieces, and each piece waited for this
    process's feeder or reader thread to get the GIL back from the main thread: measured here,
    a worker sat idle about 7 ms between chunks, 12% of its time. With room for the whole
    message, the worker writes its result and reads the next chunk without waiting.
    """
    try:
        import fcntl

        setsize = getattr(fcntl, "F_SETPIPE_SZ", 1031)
        for queue in (pool._inqueue, pool._outqueue):
            fcntl.fcntl(queue._writer.fileno(), setsize, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # pragma: no cover - other systems
        pass  # slower, not wrong


# Container objects allocated, less those freed, between two collections of the youngest
# generation while a parallel run lasts (CPython's default is 700): the parent of a run makes
# and drops tens of thousands of small records a second (chunks' documents, keys, outcomes),
# and at 700 its collector ran 145 times in a run of 20,000 pages, 0.07 CPU-s of its 1.2.
YOUNG_THRESHOLD = 20_000
_raised = 0  # runs under way in this process that raised it (see fewer_collections)
_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The collector's youngest threshold raised to :data:`YOUNG_THRESHOLD` (never lowered)
    while a parallel run lasts, and put back as it was when the last run under way in this
    process ends; forked workers inherit it. Collections still happen, less often: memory
    stays bounded."""
    global _raised, _thresholds
    if not _raised:
        _thresholds = gc.get_threshold()
        gc.set_threshold(max(_thresholds[0], YOUNG_THRESHOLD), *_thresholds[1:])
    _raised += 1
    try:
        yield
    finally:
        _raised -= 1
        if not _raised:
            gc.set_threshold(*_thresholds)


def _set_state(state: State) -> None:
    _STATE.clear()
    _STATE.update(state)


def process_cpu(children: bool = False) -> float:
    """User plus system CPU seconds of this process, or (``children``) of its child processes
    that have been waited for."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _doc_chars(doc: Document) -> int:
    """A document's size for the chunk bound: its raw record's bytes, else its text."""
    return len(doc.raw) if doc.raw is not None else len(doc.text)


def _dask_call(func: Task, state: State, item: Any) -> Any:
    return func(state, item)


def _ends(result: tuple[Any, Any, Any]) -> tuple[Any, Any]:
    """The first and last of a ``(small, big, seconds)`` result (see ``map_held``)."""
    return result[0], result[2]


class DaskExecutor:
    """The workers of a Dask cluster: ``scheduler`` (an address) or a LocalCluster of ``jobs``
    single-threaded worker processes bound to 127.0.0.1, started here and closed with it.

    A LocalCluster's workers get ``MALLOC_TRIM_THRESHOLD_`` unset: Dask's default was measured
    to slow the numpy MinHash kernels by about 1.65x (set it the same way on your own cluster).
    """

    name = "dask"
    # Documents per task: every task costs the scheduler and the client's event loop a few
    # milliseconds (20,000 generated pages from a JSONL file, two workers, five alternated
    # runs: client 2.68-3.36 CPU-s with chunks of 512, 2.36-2.86 with 1,024, the same run time
    # and output, the largest worker's peak RSS 293-301 -> 336-356 MB; fewer than 512 cost
    # more still). A chunk of 1,024 generated pages is about 1.4 s of a worker's time. It also
    # closes at ``chunk_chars`` characters, so a small input of large pages still makes enough
    # tasks to share: the 1,252 real pages (10 KB each) in chunks of 1,024 were two tasks for
    # two workers, 11.0-11.7 s against 7.6-8.1 s in chunks of 512.
    chunk = 32 * BATCH
    chunk_chars = 4 << 20
    block_bytes = chunk_chars  # a block of raw JSONL lines: one task

    def chunks(self, docs: Iterable[Document | RawBlock]) -> Iterator[list[Document] | RawBlock]:
        """``docs`` in the chunks that become tasks: ``chunk`` documents each, or fewer once
        their texts (a raw record's bytes) reach ``chunk_chars`` characters; a block of raw
        lines by itself."""
        return apart(docs, RawBlock,
                     lambda run: bounded_batches(run, self.chunk, self.chunk_chars, _doc_chars))

    def __init__(self, jobs: int = 2, scheduler: str | None = None) -> None:
        try:
            dask: Any = importlib.import_module("dask")
            distributed: Any = importlib.import_module("dask.distributed")
        except ImportError as exc:
            raise ConfigError(f"the dask engine needs dask.distributed ({exc})",
                              hint=f"install it with: {DASK_HINT}") from exc
        self.jobs = jobs
        self._cluster: Any = None
        self.client: Any = None
        try:
            if scheduler:
                self.client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
            else:
                with dask.config.set({
                        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                    self._cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1,
                                                 processes=True, host="127.0.0.1",
                                                 dashboard_address="127.0.0.1:0")
                    self.client = distributed.Client(self._cluster)
        except OSError as exc:
            self.close()
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}",
                              hint="check the address (tcp://host:8786) and that it runs") from exc
        workers = len(self.client.scheduler_info().get("workers", {}))
        self.jobs = max(workers, 1)
        self._state: Any = None

    def outgoing(self, item: Any) -> Any:
        """``item`` as it goes to a worker: a block of raw lines as where it is in its file
        when the workers are a LocalCluster of ours (on this machine, see
        :class:`BlockRange`), else as it is (a worker may be on another machine)."""
        if self._cluster is not None and isinstance(item, RawBlock) and item.offset >= 0:
            return BlockRange(item)
        return item

    @property
    def dashboard(self) -> str:
        return str(self.client.dashboard_link)

    def start(self, state: State) -> None:
        from .allocator import tune_runtime

        self.client.run(tune_runtime)  # as the dedup command does for itself
        # One copy of the model and counts per worker, not one per task.
        self._state = self.client.scatter(state, broadcast=True)

    def _scattered(self, item: Any) -> Any:
        """On a LocalCluster of ours, a chunk of documents sent straight to a worker ahead of
        its task, as a future, instead of inside the task's description through the scheduler
        (in this process); not hashed (each chunk is sent once). Scattered data has no
        lineage: if its worker is lost, the tasks needing it fail instead of being run again.
        So on a cluster given by ``--scheduler`` (its scheduler a process of its own, where a
        lost worker is to be expected on a long run) a chunk travels inside its task, which
        Dask can run again elsewhere; so does any other item (a finishing task's held result
        and outcomes)."""
        if self._cluster is None or not isinstance(item, Chunk | RawBlock):
            return item
        return self.client.scatter([item], hash=False, direct=True)[0]

    def map(self, func: Task, items: Iterable[Any],
            local: Callable[[Any], Any] | None = None) -> Iterator[Any]:
        """Results of ``func(state, item)`` in input order (``local`` is not used: the client
        does not take tasks)."""
        client, state = self.client, self._state
        return _ordered(lambda item: client.submit(_dask_call, func, state,
                                                   self._scattered(item), pure=False),
                        lambda fut: fut.result(), items, 2 * self.jobs)

    def map_held(self, func: Task, items: Iterable[Any],
                 local: Callable[[Any], Any] | None = None) -> Iterator[Any]:
        """:meth:`map` of a ``func`` returning ``(small, big, seconds)``: ``big`` stays on the
        worker that made it. It comes back as a future of the whole result, which a later task
        takes as an argument (Dask moves it between workers if it must, never through the
        client; :func:`held` picks ``big`` out of it there): two tasks per item, not three."""
        client, state = self.client, self._state

        def submit(item: Any) -> tuple[Any, Any]:
            whole = client.submit(_dask_call, func, state, self._scattered(item), pure=False)
            return client.submit(_ends, whole, pure=False), whole

        def result(futures: tuple[Any, Any]) -> Any:
            (small, seconds), whole = futures[0].result(), futures[1]
            return small, whole, seconds

        return _ordered(submit, result, items, 2 * self.jobs)

    def cpu_seconds(self) -> float:
        """User plus system seconds the workers' processes have used so far."""
        return float(sum(self.client.run(process_cpu).values()))

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory of the workers' processes, in MB."""
        return max(self.client.run(_process_peak_mb).values(), default=0.0)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


Executor = LocalExecutor | DaskExecutor


INHERITED = "inherited"  # a state's documents held when the local workers were forked


class Chunk(list[Document]):
    """Documents sent to the workers: a list, pickled without each document's ``meta`` (the
    other fields of its input record). No worker stage reads them and the parent keeps its own
    documents; and a record nested a few hundred levels deep, which JSON reads, exceeds
    pickle's recursion limit, which used to stop the whole run.

    With ``span`` (``(start, stop)``): the documents are ``start:stop`` of the state's
    ``INHERITED`` documents, which forked local workers hold already (the parent held them
    when it started them: the repetition sample, see :func:`inherited_spans`), so only the
    range travels; the worker makes the same documents from its copy."""

    def __init__(self, docs: Iterable[Document] = (), span: tuple[int, int] | None = None
                 ) -> None:
        super().__init__(docs)
        self.span = span

    def __reduce__(self) -> tuple[Any, ...]:
        if self.span is not None:
            return _Deferred, (_inherited_chunk, self.span)
        if all(map(_plain, self)):  # as read: a few columns instead of a dataclass a document
            raws = [d.raw for d in self]
            return _plain_chunk, ([d.id for d in self], [d.text for d in self],
                                  [d.source for d in self], [d.ordinal for d in self],
                                  *([raws] if any(r is not None for r in raws) else []))
        return list, ([dataclasses.replace(d, meta={}) if d.meta else d for d in self],)


# what a plain chunk sends (meta: not)
_COLUMNS = ("id", "text", "source", "ordinal", "meta", "raw")
_DEFAULTS = tuple(
    (f.name, f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
    for f in dataclasses.fields(Document) if f.name not in _COLUMNS)


_DEFAULT_FIELDS = operator.attrgetter(*(name for name, _ in _DEFAULTS))
_DEFAULT_VALUES = tuple(default for _, default in _DEFAULTS)


def _plain(doc: Document) -> bool:
    """Whether ``doc`` is as a reader made it: every field but the columns at its default."""
    return bool(_DEFAULT_FIELDS(doc) == _DEFAULT_VALUES)


def _plain_chunk(ids: list[str], texts: list[str], sources: list[str], ordinals: list[int],
                 raws: list[bytes | None] | None = None) -> list[Document]:
    return [Document(i, t, source=s, ordinal=o, raw=r)
            for i, t, s, o, r in zip(ids, texts, sources, ordinals, raws or [None] * len(ids),
                                     strict=True)]


def _inherited_chunk(start: int, stop: int) -> list[Document]:
    """The documents a :class:`Chunk` with ``span=(start, stop)`` stands for, made in a forked
    worker from its copy of them: as a plain chunk brings them (every one is plain, see
    :func:`inherited_spans`)."""
    held = _STATE.get(INHERITED)
    if held is None:  # a worker the pool started again later (after one died) has no copy
        raise RuntimeError("a chunk of the repetition sample reached a worker that was not "
                           "forked while the parent held it; run again")
    return [Document(d.id, d.text, source=d.source, ordinal=d.ordinal, raw=d.raw)
            for d in held[start:stop] if isinstance(d, Document)]


def inherited_spans(held: Sequence[Document | RawBlock],
                    chunks: Iterable[list[Document] | RawBlock]
                    ) -> Iterator[Chunk | RawBlock | HeldBlock]:
    """``chunks`` (consecutive, from the start of a stream) as :class:`Chunk` s, each with its
    span when its documents are the next ones of ``held`` (the very objects, each as a reader
    made it: the workers, forked while this process held them, have the same documents), and
    a block of raw lines that is the next one of ``held`` as a :class:`HeldBlock`; a chunk
    past them, or not made of them, travels whole. ``held`` is let go of once passed."""
    at = 0
    for chunk in chunks:
        if isinstance(chunk, RawBlock):
            mine = bool(held) and at < len(held) and held[at] is chunk
            at += 1
            if not mine or at == len(held):
                held = ()
            yield HeldBlock(at - 1, chunk) if mine else chunk
            continue
        stop = at + len(chunk)
        span = None
        if held and stop <= len(held) and all(
                a is b and isinstance(b, Document) and _plain(b)
                for a, b in zip(chunk, held[at:stop], strict=True)):
            span = (at, stop)
        if span is None or stop == len(held):
            held = ()
        yield Chunk(chunk, span)
        at = stop


class BlockRange:
    """A block of raw lines (:class:`~dedup.io.readers.RawBlock`, ``block``) of a file the
    workers can read (local workers, on this machine): where it is travels, with a digest of
    its bytes, and the worker reads them (:func:`_block_at`), so the parent never sends the
    input's text. A file changed while it was read is an error, not other documents."""

    __slots__ = ("block",)

    def __init__(self, block: RawBlock) -> None:
        self.block = block

    def __reduce__(self) -> tuple[Any, ...]:
        b = self.block
        return _Deferred, (_block_at, (b.source, b.path, os.path.abspath(b.path), b.lineno,
                                       b.records, b.first, b.ordinal, b.offset, len(b.data),
                                       xxhash.xxh3_64_intdigest(b.data)))


def _block_at(source: str, path: str, where: str, lineno: int, records: int, first: bool,
              ordinal: int, offset: int, size: int, digest: int) -> RawBlock:
    """The block a :class:`BlockRange` stands for, read from its file (``where``: its
    absolute path, for a worker whose working directory is another)."""
    try:
        with open(where, "rb") as fh:
            fh.seek(offset)
            data = fh.read(size)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it again ({exc.strerror})") from exc
    if len(data) != size or xxhash.xxh3_64_intdigest(data) != digest:
        raise InputError(f"{path} changed while it was being cleaned (bytes {offset} to "
                         f"{offset + size} are not what was read)",
                         hint="clean a copy that stays as it is")
    return RawBlock(source, path, lineno, data, records, first, ordinal, offset)


class HeldBlock:
    """A block of raw lines (:class:`~dedup.io.readers.RawBlock`, ``block``) that forked
    local workers hold already (the state's ``INHERITED`` items, number ``at``): only the
    number travels."""

    __slots__ = ("at", "block")

    def __init__(self, at: int, block: RawBlock) -> None:
        self.at = at
        self.block = block

    def __reduce__(self) -> tuple[Any, ...]:
        return _Deferred, (_inherited_block, (self.at,))


def _inherited_block(at: int) -> RawBlock:
    held = _STATE.get(INHERITED)
    if held is None:  # a worker the pool started again later (after one died) has no copy
        raise RuntimeError("a block of the repetition sample reached a worker that was not "
                           "forked while the parent held it; run again")
    block = held[at]
    assert isinstance(block, RawBlock)
    return block


class _Deferred:
    """What a task's item arrives as on a worker when making it may fail (a block read from
    its file, a chunk of the sample from the worker's copy): it is made when the task runs
    (:func:`resolved`), so a failure is the task's, which the parent gets as its error.
    Raised while the item was unpickled, it would kill the pool's worker and leave the task
    waiting for ever."""

    __slots__ = ("args", "make")

    def __init__(self, make: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.make = make
        self.args = args

    def get(self) -> Any:
        return self.make(*self.args)


def resolved(unit: Any) -> Any:
    """A task's item as made (see :class:`_Deferred`)."""
    return unit.get() if isinstance(unit, _Deferred) else unit


def unit_documents(unit: Any, reading: Any) -> list[Document]:
    """A chunk's documents: a block of raw lines made into its documents (parsed)."""
    unit = resolved(unit)
    if isinstance(unit, HeldBlock | BlockRange):
        unit = unit.block
    if isinstance(unit, RawBlock):
        return block_documents(unit, reading)
    docs: list[Document] = unit
    return docs


# -- worker functions (module level, so they pickle by name) ---------------------------------

def count_chunk(state: State, unit: list[Document] | RawBlock | HeldBlock | BlockRange) -> Any:
    """Segment, normalise and hash a chunk (its documents, or a block of raw lines) for the
    line counts (a PackedCounts, see LineCounts.prepare_packed)."""
    from .boilerplate.repetition import LineCounts
    from .normalize import normalize
    from .segment import segment

    counts: LineCounts = state["counts"]
    norm = state["config"].norm
    reading = state.get("reading")
    docs = unit_documents(unit, reading)
    if reading is not None and any(doc.raw is not None for doc in docs):
        docs = [parsed_copy(doc, reading) for doc in docs]  # the caller's stay as they are
    if not any(doc.paragraphs for doc in docs):  # the same keys from the texts alone
        packed = counts.prepare_packed([counts.text_keys(doc.text, norm) for doc in docs])
    else:
        packed = counts.prepare_packed([counts.document_keys(doc)
                                        for doc in normalize(segment(docs), norm)])
    spill = state.get(COUNT_SPILL)
    if spill is None:
        return packed
    path = os.path.join(spill, f"{os.getpid()}-{next(_SPILLED)}.counts")
    with open(path, "wb") as fh:
        pickle.dump(packed, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return SpilledCounts(path, len(packed))


COUNT_SPILL = "count_spill"  # the state's directory for hashed chunks (local workers)


@dataclass(frozen=True, slots=True)
class SpilledCounts:
    """A chunk's hashed counts (:class:`~dedup.boilerplate.repetition.PackedCounts`) waiting in
    a file of the run's counting directory: what the parent gets instead of the arrays."""

    path: str
    documents: int

    def __len__(self) -> int:
        return self.documents


@dataclass(frozen=True, slots=True)
class CountsUpdate:
    """The sketch's update, for one worker: each spilled chunk's first ``take`` documents, in
    order, then the sketch written to ``out``."""

    chunks: tuple[tuple[str, int], ...]
    out: str


def apply_spilled(state: State, update: CountsUpdate) -> int:
    """Apply ``update``'s chunks to this worker's copy of the run's counts in order (the same
    counts as the parent applying them, see :meth:`LineCounts.apply_packed`), write the sketch
    to ``update.out`` (:meth:`LineCounts.dump_arrays`), and return how many documents were
    counted. The sequential update runs here, not in the coordinating process, and the
    chunks' arrays never travel to it."""
    counts = state["counts"]
    documents = 0
    for path, take in update.chunks:
        with open(path, "rb") as fh:
            packed = pickle.load(fh)
        if take < len(packed):
            packed = packed.head(take)
        counts.apply_packed(packed)
        documents += len(packed)
    counts.dump_arrays(update.out)
    return documents


def prepare_chunk(state: State, docs: list[Document]) -> tuple[list[Prepared], dict[str, float]]:
    """Every per-document stage on a chunk; returns each document's :class:`Prepared` record
    and the seconds per stage."""
    cleaner = state["cleaner"]
    prepared = [Prepared.of(doc) for doc in cleaner.prepare_timed(docs)]
    return prepared, cleaner.take_stage_seconds()


_SPILLED = itertools.count()  # chunk files written by this process


def prepare_to_finish(state: State, unit: list[Document] | RawBlock
                      ) -> tuple[list[PreparedKeys | None], bytes | str, dict[str, float]]:
    """Every per-document stage on a chunk whose documents the workers will finish (see
    :func:`finish_chunk`): each document's corpus keys, for the corpus stage in the parent, and
    the rest of the chunk (ids, texts, prepared records without their keys) as one pickled
    blob, which comes back with the corpus stage's outcomes. With ``state["spill"]`` (a
    directory every worker can read: local workers) the blob waits in a file there and the
    parent gets its path; otherwise the blob is returned (a Dask worker keeps it, see
    :meth:`DaskExecutor.map_held`).
    A block of raw lines (:class:`~dedup.io.readers.RawBlock`) is made into its documents
    here, and what the parent needs of each comes back as for a raw record (see
    :func:`parse_chunk`). Returns those and the seconds per stage."""
    cleaner = state["cleaner"]
    render = state.get("render")
    parsed: tuple[list[Parsed | None], list[str | None]] | None
    unit = resolved(unit)
    if isinstance(unit, RawBlock):
        docs = block_documents(unit, state["reading"])
        parsed = parsed_info(docs, state["reading"], render is not None)
    else:
        docs = unit
        parsed = parse_chunk(docs, state.get("reading"), render is not None)
    prepared = [Prepared.of(doc) for doc in cleaner.prepare_timed(docs)]
    keys: Any = KeysChunk(p.keys for p in prepared)
    fields: list[str | None] | None = None
    if parsed is not None:
        keys = (keys, parsed[0])
        if render is not None:
            fields = parsed[1]
    rest = [dataclasses.replace(p, keys=None) for p in prepared]
    # where each document goes (its input, ordinal, whether it was read), for parts
    where = (([d.source for d in docs], [d.ordinal for d in docs],
              [bool(d.error) for d in docs]) if state.get("parts") else None)
    blob = pickle.dumps(([d.id for d in docs], [d.text for d in docs], rest, fields, where),
                        protocol=pickle.HIGHEST_PROTOCOL)
    spill = state.get("spill")
    if spill is None:
        return keys, blob, cleaner.take_stage_seconds()
    path = os.path.join(spill, f"{os.getpid()}-{next(_SPILLED)}.chunk")
    with open(path, "wb") as fh:
        fh.write(blob)
    return keys, path, cleaner.take_stage_seconds()


def parsed_copy(doc: Document, reading: Any) -> Document:
    """``doc`` itself, or a copy with its raw record parsed (see :func:`parse_chunk`)."""
    if doc.raw is None:
        return doc
    copy = dataclasses.replace(doc)
    parse_raw(copy, reading)
    return copy


Parsed = tuple[str, str | None, str | None, bool, int]  # see parse_chunk


def parse_chunk(docs: list[Document], reading: Any, render: bool = False
                ) -> tuple[list[Parsed | None], list[str | None]] | None:
    """Parse the raw records of ``docs`` in place (``reading``: a
    :class:`~dedup.io.readers.RawReading`) and say what the parent needs of each, which holds
    only their bytes: ``(id, record fields as JSON without the text, error, skipped, length of
    the text)``, or None for a document that was not raw; and each record's fields as JSON
    (None where there are none). None for a chunk without a raw record. The fields travel as
    JSON (the text field kept in its place as ``null``): a record nested deeply enough, which
    JSON reads, would not pickle. ``render``: the worker that finishes the documents writes
    their output records (:func:`finish_record`), so the fields stay on the worker."""
    if reading is None or not any(doc.raw is not None for doc in docs):
        return None
    raw = [doc.raw is not None for doc in docs]
    for doc, was_raw in zip(docs, raw, strict=True):
        if was_raw:
            parse_raw(doc, reading)
    return parsed_info(docs, reading, render, raw)


def parsed_info(docs: list[Document], reading: Any, render: bool = False,
                which: list[bool] | None = None
                ) -> tuple[list[Parsed | None], list[str | None]]:
    """What :func:`parse_chunk` says of parsed documents (``which``: of those only, None for
    the others; all by default)."""
    out: list[Parsed | None] = []
    kept: list[str | None] = []
    field = reading.text_field
    for j, doc in enumerate(docs):
        if which is not None and not which[j]:
            out.append(None)
            kept.append(None)
            continue
        meta = None
        if doc.meta:
            fields = {k: (None if k == field else v) for k, v in doc.meta.items()}
            meta = _FIELDS_JSON.encode(fields)
        kept.append(meta)
        out.append((doc.id, None if render else meta, doc.error, doc.skipped, len(doc.text)))
    return out, kept


def apply_parsed(doc: Document, parsed: Parsed) -> int:
    """What :func:`parse_chunk` said of a document, set on the parent's (raw) copy of it;
    returns the length of its text (which stays on the worker)."""
    doc.id, meta, doc.error, doc.skipped, chars = parsed
    doc.meta = json.loads(meta) if meta is not None else {}
    doc.raw = None
    return chars


def block_stubs(block: RawBlock, parsed: Sequence[Parsed]) -> list[Document]:
    """The parent's documents of a block of raw lines a worker made into documents: what
    :func:`parse_chunk` said of each (:func:`apply_parsed` on a raw copy, made at once; their
    texts stay on the worker)."""
    loads = json.loads
    rows: list[tuple[Any, ...]] = [
        (doc_id, "", {} if meta is None else loads(meta), block.source, [], error, skipped,
         False, None, None, None, ordinal, None)
        for (doc_id, meta, error, skipped, _), ordinal
        in zip(parsed, range(block.ordinal, block.ordinal + block.records), strict=True)]
    return list(instances(Document, rows))


def held(big: Any) -> Any:
    """The ``big`` part of a :meth:`DaskExecutor.map_held` result as a later task receives it:
    the whole ``(small, big, seconds)`` result there; anything else is the part itself."""
    return big[1] if isinstance(big, tuple) else big


def finish_chunk(state: State, item: tuple[Any, tuple[Any, ...]]
                 ) -> tuple[list[Finished] | list[Part], dict[str, float]]:
    """A chunk of :func:`prepare_to_finish` finished: its blob and the corpus stage's outcome
    of every document (``None`` without a corpus stage) in; each document's :class:`Finished`
    record (``state["removed"]``: with its ``--removed`` records) and the seconds out."""
    t0 = time.perf_counter()
    blob, outcomes = held(item[0]), list(item[1])  # (outcome columns: each made once, here)
    if isinstance(blob, str):  # a chunk file (see prepare_to_finish): read once, then removed
        with open(blob, "rb") as fh:
            data = fh.read()
        os.unlink(blob)
        blob = data
    ids, texts, records, fields, where = pickle.loads(blob)
    config, removed, render = state["cleaner"].config, state["removed"], state.get("render")
    out = FinishedList(finish_record(i, t, r, o, config, removed, f, render)
                       for i, t, r, o, f in zip(ids, texts, records, outcomes,
                                                fields or [None] * len(ids), strict=True))
    if where is not None:  # the chunk as parts (see Part): the parent writes them at once
        sources, ordinals, unread = where
        parts = make_parts(out, ids, sources, ordinals, unread,
                           [None if o is None else o.cluster for o in outcomes], config,
                           [f.line for f in out])
        return parts, {"finish": time.perf_counter() - t0}
    out.stats = chunk_stats(out, ids, outcomes)
    return out, {"finish": time.perf_counter() - t0}


@dataclass(frozen=True, slots=True)
class Part:
    """Consecutive documents of one input, finished together: a chunk of a parallel run, or
    the documents of one input in it. What the writers need of them, at once: ``records``,
    the output records of the ``written`` documents as JSONL lines (a document that could not
    be read, or is dropped whole as a near-duplicate document, is not written); ``removed``,
    their ``--removed`` records (None when the run writes none); ``stats``, their statistics
    (a :class:`~dedup.stats.Stats`); ``first`` and ``last``, the ordinals of the first and
    last document, and ``documents``, how many."""

    source: str
    first: int
    last: int
    documents: int
    written: int
    records: str
    removed: str | None
    stats: Any


def make_parts(done: Sequence[Finished], ids: Sequence[str], sources: Sequence[str],
               ordinals: Sequence[int], unread: Sequence[bool], clusters: Sequence[Any],
               config: Any, lines: Sequence[str | None]) -> list[Part]:
    """A chunk's finished documents as :class:`Part` s, one per run of documents from one
    input: ``lines``, each document's output record (``None``: none); ``unread``, whether it
    could not be read; ``clusters``, its document cluster (a document dropped whole is not
    written)."""
    from .pipeline import drops_document
    from .stats import Stats

    parts: list[Part] = []
    n = len(done)
    lo = 0
    while lo < n:
        source = sources[lo]
        hi = lo + 1
        while hi < n and sources[hi] == source:
            hi += 1
        written = [line for line, bad, cluster in zip(lines[lo:hi], unread[lo:hi],
                                                      clusters[lo:hi], strict=True)
                   if not bad and not drops_document(cluster, config)]
        if any(line is None for line in written):
            raise ValueError("a document to write came without its output record")
        removed = [f.removed for f in done[lo:hi]]
        parts.append(Part(source, ordinals[lo], ordinals[hi - 1], hi - lo, len(written),
                          "".join(written),  # type: ignore[arg-type]
                          None if removed[0] is None else "".join(removed),  # type: ignore[arg-type]
                          Stats.of_finished(done[lo:hi], ids[lo:hi], clusters[lo:hi])))
        lo = hi
    return parts


def chunk_stats(done: Sequence[Finished], ids: Sequence[str], outcomes: Sequence[Any]) -> Any:
    """The run statistics of a chunk's finished documents (a
    :class:`~dedup.pipeline.Stats`), counted where the chunk is finished: the parent adds
    them a chunk at once."""
    from .stats import Stats

    return Stats.of_finished(done, ids, [None if o is None else o.cluster for o in outcomes])


class FinishedList(list[Finished]):
    """A chunk's :class:`Finished` records on their way to the parent: their fields as rows,
    made into records there at once (:func:`~dedup.types.instances`, the slots written in
    place: a frozen dataclass's ``__init__`` is several times slower), and ``stats``, the
    chunk's statistics (:func:`chunk_stats`)."""

    stats: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        return _finished, ([(f.text, f.lines, f.dropped, f.removed, f.bytes_in, f.bytes_out,
                             f.tally, f.line) for f in self], self.stats)


def _finished(rows: list[tuple[Any, ...]], stats: Any = None) -> FinishedList:
    out = FinishedList(instances(Finished, rows))
    out.stats = stats
    return out


def finish_record(doc_id: str, text: str, record: Prepared, outcome: Any, config: Any,
                  removed: bool, fields: str | None = None, render: str | None = None
                  ) -> Finished:
    """:func:`finish_documents` of one document from its prepared record and corpus outcome,
    without building its paragraphs and verdicts: the same clean text, counts and removed
    records (``tests/test_finished.py`` holds the two to each other). ``render`` (the text
    field) and ``fields`` (its JSONL record's other fields, see :func:`parse_chunk`): its
    output record too, as the JSONL writer writes it."""
    from .io.writers import CLUSTER_FIELD, record_json, removed_json, removed_rows
    from .pipeline import drops_document

    lines = record.line_texts(text)
    # every dropped line: (reason, score, (matched document, line) or None, detail)
    drops: dict[int, tuple[str, float, tuple[str, int] | None, str]] = {}
    for v in record.verdicts:
        if isinstance(v, int):
            drops[v] = _BLANK_ROW
        elif v[1] == DROP:
            drops[v[0]] = v[2:]
    cluster = None
    if outcome is not None:
        for i, reason, score, match_doc, match_line, detail in outcome.drops:
            drops[i] = (reason, score, (match_doc, match_line), detail)
        cluster = outcome.cluster
    kept = [t for i, t in enumerate(lines) if t and i not in drops]  # as Document.clean_text
    dropped = sorted(drops)
    rendered = None
    if removed:
        rendered = removed_json(removed_rows(
            doc_id, cluster, drops_document(cluster, config),
            [(i + 1, *drops[i], lines[i]) for i in dropped]))
    clean = joined_lines(kept)
    line = None
    if render is not None and fields is not None:  # as writers._JsonlSink writes it
        output = json.loads(fields)
        output[render] = clean
        if cluster is not None and cluster.duplicate:
            output[CLUSTER_FIELD] = cluster.id
        line = record_json(output) + "\n"
    return Finished(clean, len(lines), tuple(drops[i][0] for i in dropped), rendered,
                    utf8_len(text), utf8_len(clean), None, line)


def finish_documents(docs: list[Document], outcomes: Sequence[Any], config: Any,
                     removed: bool) -> FinishedList:
    """Each document with its corpus outcome applied, as a :class:`Finished` record (and the
    chunk's statistics, as :func:`finish_chunk` gives them)."""
    from .io.writers import removed_lines  # the writers import the pipeline, which imports this
    from .pipeline import clean_result

    outcomes = list(outcomes)  # (outcome columns: each made once)
    out = FinishedList()
    for doc, outcome in zip(docs, outcomes, strict=True):
        if outcome is not None:
            outcome.apply(doc)
        result = clean_result(doc, config)
        lines, dropped = result.line_counts()
        out.append(Finished(result.text, lines, tuple(dropped),
                            removed_lines(result) if removed else None,
                            utf8_len(doc.text), utf8_len(result.text)))
    out.stats = chunk_stats(out, [doc.id for doc in docs], outcomes)
    return out
