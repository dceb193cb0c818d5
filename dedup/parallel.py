"""Local parallel runs (``--jobs N``): per-document work in worker processes, corpus decisions
in the parent, in input order.

What runs where:

- **workers** (``N`` processes): reading is done by the parent, then for each chunk of
  documents: segmentation, normalisation, the boilerplate classifier, in-document dedup and the
  MinHash signatures (everything in :meth:`Cleaner.prepare`); for the repetition sample, the
  hashing half of the line counts (:meth:`LineCounts.prepare`).
- **the parent**: the line counts' updates and every cross-document decision (the corpus
  stage), one document after the other in input order, then writing.

So the output is byte-identical for every ``N``: the workers' results depend only on the
document, the config and the counts, and the counts and the corpus index are updated in input
order. At most ``2 * N`` chunks are in flight, so memory stays bounded whatever the input size.
Workers are forked once the counts are known (they inherit the model and the counts instead of
receiving them pickled); where ``fork`` is unavailable they are spawned and sent the state once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .types import Document

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 32  # documents per task: large enough to amortise pickling, small enough to balance

_STATE: dict[str, Any] = {}  # the worker's own state, set by the parent before forking


def _context() -> Any:
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def _init(state: dict[str, Any]) -> None:
    _STATE.clear()
    _STATE.update(state)


def pool(jobs: int, state: dict[str, Any]) -> Any:
    """A pool of ``jobs`` workers whose module state is ``state``."""
    _init(state)  # inherited as is by forked workers
    ctx = _context()
    if ctx.get_start_method() == "fork":
        return ctx.Pool(jobs)
    return ctx.Pool(jobs, initializer=_init, initargs=(state,))  # pragma: no cover - non-Linux


def ordered_map(workers: Any, func: Callable[[T], R], items: Iterable[T],
                window: int) -> Iterator[R]:
    """``map(func, items)`` on the pool, in order, with at most ``window`` tasks in flight
    (``Pool.imap`` would read the whole input ahead)."""
    pending: deque[Any] = deque()
    it = iter(items)
    for item in itertools.islice(it, window):
        pending.append(workers.apply_async(func, (item,)))
    while pending:
        result = pending.popleft().get()
        for item in itertools.islice(it, 1):
            pending.append(workers.apply_async(func, (item,)))
        yield result


def chunks(docs: Iterable[Document], size: int = CHUNK) -> Iterator[list[Document]]:
    it = iter(docs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


# -- worker functions (module level, so they pickle by name) ---------------------------------

def count_chunk(docs: list[Document]) -> list[Any]:
    """Segment, normalise and hash a chunk for the line counts (see LineCounts.prepare)."""
    from .normalize import normalize
    from .segment import segment

    counts = _STATE["counts"]
    out = []
    for doc in normalize(segment(docs), _STATE["config"].norm):
        out.append(counts.prepare(*counts.document_keys(doc)))
    return out


def prepare_chunk(docs: list[Document]) -> tuple[list[Document], dict[str, float]]:
    """Every per-document stage on a chunk; returns the documents and the seconds per stage."""
    cleaner = _STATE["cleaner"]
    prepared = list(cleaner.prepare_timed(docs))
    return prepared, cleaner.take_stage_seconds()
