"""The corpus stage as stages over a window of documents: the first-come rule, decided in rounds.

:class:`~dedup.crossdoc.CorpusDeduper` (the reference) decides one document after the other:
look up its long paragraphs among the kept rows of the index, verify, drop against the best,
index what is kept. :class:`StagedDeduper` gives the same verdicts, clusters and index, but
decides the long paragraphs of a whole window of documents at once, as data:

1. **rows**: every long content paragraph of the window, in first-come order (document, then
   position), with its 32-bit shingle set and band keys;
2. **exact groups**: rows with the same shingle set and band keys are one group (they have the
   same similarity to every other row and the same candidates), so a paragraph copied 100,000
   times is one row with members, never a clique of pairs;
3. **candidates**: each group's band keys looked up among the index's kept rows (earlier
   windows and runs: all kept) and, by one sort of ``(key, group)``, among the window's other
   groups; every pair verified by exact Jaccard (:func:`.crossdoc.similarities`). A group that
   is a copy of a kept row (found by its exact-group key among the rows this process's windows
   indexed, verified set for set) skips the index look-up and the window's pairs: two
   identical rows are never both kept, so that row is the group's one kept candidate at
   similarity 1, preferred to every other, and the group and all its members are dropped
   against it whatever else it touches (:func:`_copies`); never kept, it is no other group's
   candidate either;
4. **the decision** in rounds (:func:`.decide.decide_rounds`) over the groups' representatives
   and the kept index rows they touch, with the edges between representatives of different
   documents; then every other member of a group from its group's candidates (below);
5. **per document**, in input order: short lines that continue a run of drops, the document's
   cluster, its verdicts, and what it adds to the index (exactly as the reference does).

Why the members follow from the groups: a member ``m`` of group ``G`` (whose first row is
``g``) sees, in the sequential rule, the kept rows of earlier documents that share a band key
with it and verify; those are the kept rows adjacent to ``G`` (kept rows are always first rows
of their groups) that lie before ``m``'s document, ``g`` itself at 1.0 when kept. So ``m`` takes
the most similar of them, then the earliest: one running best per group over its candidates in
row order, read at the start of ``m``'s document. A member in ``g``'s own document sees what
``g`` saw and is decided the same way (kept with it, or dropped against the same row).

A window whose band keys put more than ``CROWDED`` groups under one key (thousands of
near-variants of one template) would need a quadratic number of pairs: that window is decided
by the reference, whose index look-ups only ever meet kept rows.

With ``corpus.documents = "drop"`` a document that joins a cluster adds nothing to the index;
when a later row of its window was dropped against one of its rows, the rest of the window is
decided again without them (see :meth:`StagedDeduper._decide`).
"""

from __future__ import annotations

import bisect
import importlib
import itertools
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from .arrays import unique_ints
from .config import Config
from .crossdoc import (
    DOCUMENT,
    MARKS,
    REASON,
    CorpusDeduper,
    _doc_keys,
    best_cluster,
    corpus_keys,
    grow_runs,
    similarities,
)
from .decide import decide_rounds, exact_groups, index_ranges
from .index import CorpusIndex
from .records import KeyColumns, KeyRef
from .types import DROP, CorpusKeys, DocCluster, Document, Match, Paragraph, Verdict, instances

# Documents decided together (at most MARKS, so checkpoints find their marks). Windows of 512
# cost the parent less (20,000 generated pages: 0.21-0.24 against 0.26-0.31 CPU-s, a window's
# numpy calls costing about the same whatever its size) but made --jobs 2 slower (10.1-11.7
# against 8.9-9.6 s, alternated runs): a window waits for twice as many chunks before any of
# them can be finished, and the parent, which prepares chunks itself, waits with it.
WINDOW = 256
WINDOW_CHARS = 16 << 20  # ... or fewer, once their texts reach this many characters
CROWDED = 64  # groups under one band key beyond which a window goes to the reference
_U32 = 0xFFFFFFFF

_window: Any
try:  # the per-document step (see doc_steps)
    _window = importlib.import_module("dedup._window")
except ImportError:  # pragma: no cover - a source tree without the build: Python
    _window = None
_pairs: Any
try:  # the candidate kernels, built by the package's own build (see _bucket_pairs)
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: numpy
    _pairs = None


@dataclass(frozen=True, slots=True)
class Rows:
    """The long content paragraphs of a window, in first-come order."""

    doc: np.ndarray  # int64: the row's document (position in the window)
    pos: np.ndarray  # int64: its position in the document's content
    para: np.ndarray  # int64: its paragraph (0-based line) in the document
    start: np.ndarray  # int64: the first row of its document
    set_start: np.ndarray  # int64 (rows + 1): its sorted unique 32-bit shingle set in ``values``
    values: np.ndarray  # uint32: the sets, row after row
    keys: np.ndarray  # uint64 (rows, bands): its 32-bit band keys
    groups: np.ndarray  # uint64: its exact-group key (crossdoc.group_keys)

    def __len__(self) -> int:
        return len(self.doc)

    def sets(self, rows: np.ndarray) -> list[np.ndarray]:
        """The shingle sets of ``rows`` (views of ``values``)."""
        bounds, values = self.set_start, self.values
        return [values[a:b] for a, b in zip(bounds[rows].tolist(), bounds[rows + 1].tolist(),
                                            strict=True)]


@dataclass(frozen=True, slots=True)
class LongDecision:
    """Per row of a window: ``target`` -1 when kept, else the position of the row it is dropped
    against (``< prior``: ``prior_rows[target]``, a row of the index; else window row
    ``target - prior``); ``sim`` the similarity, NaN when kept."""

    target: np.ndarray
    sim: np.ndarray
    prior_rows: np.ndarray  # the index rows touched, ascending
    rounds: int
    remainder: int

    @property
    def prior(self) -> int:
        return len(self.prior_rows)


DropRow = tuple[int, str, float, str, int, str]


@dataclass(frozen=True, slots=True)
class DropColumns:
    """The corpus stage's drops of a run of documents as columns, one entry a dropped
    paragraph (documents in order, each in paragraph order): ``para`` its paragraph,
    ``sim`` its similarity (not rounded), ``target`` the position in ``names`` of the
    document it is dropped against, ``line`` the matched line. A window's outcomes point
    into its columns; their tuples are made only where the drops are applied (on the worker
    that finishes the documents, in a parallel run)."""

    para: np.ndarray  # int64
    sim: np.ndarray  # float64
    target: np.ndarray  # int64
    line: np.ndarray  # int64
    names: tuple[str, ...]

    def rows(self, lo: int, hi: int, detail: str) -> tuple[DropRow, ...]:
        """Entries ``lo:hi`` as drop rows, the similarity rounded to 4 places."""
        if lo == hi:
            return ()
        n, names = hi - lo, self.names
        return tuple(zip(self.para[lo:hi].tolist(), [REASON] * n,
                         [round(v, 4) for v in self.sim[lo:hi].tolist()],
                         [names[t] for t in self.target[lo:hi].tolist()],
                         self.line[lo:hi].tolist(), [detail] * n, strict=True))

    @staticmethod
    def join(parts: Sequence[tuple[DropColumns, int, int]]) -> DropColumns:
        """Ranges ``(columns, lo, hi)`` of one or more columns end to end."""
        if len(parts) == 1 and parts[0][1] == 0 and parts[0][2] == len(parts[0][0].para):
            return parts[0][0]
        names: list[str] = []
        targets = []
        for c, lo, hi in parts:
            targets.append(c.target[lo:hi] + len(names))
            names.extend(c.names)
        cat = np.concatenate
        return DropColumns(cat([c.para[lo:hi] for c, lo, hi in parts]),
                           cat([c.sim[lo:hi] for c, lo, hi in parts]),
                           cat(targets), cat([c.line[lo:hi] for c, lo, hi in parts]),
                           tuple(names))


_NO_DROPS = DropColumns(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64),
                        np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), ())


class CorpusOutcome:
    """What the corpus stage decided about one document, as plain values: ``drops`` holds
    ``(paragraph, reason, score, matched document, matched line, detail)`` for every content
    paragraph it dropped, in paragraph order; ``cluster`` the document's cluster.

    Made from the rows themselves, or (:meth:`of_columns`, a decided window) from a range of
    the window's :class:`DropColumns`, whose rows are made when ``drops`` is first read: a
    parallel run's parent passes the columns on (:class:`OutcomeColumns`) and the worker that
    finishes the documents makes the rows. Immutable; equal when the drops and clusters are."""

    __slots__ = ("_cluster", "_cols", "_drops", "_hi", "_lo")

    def __init__(self, drops: Iterable[DropRow], cluster: DocCluster) -> None:
        self._drops: tuple[DropRow, ...] | None = tuple(drops)
        self._cols, self._lo, self._hi = _NO_DROPS, 0, 0
        self._cluster = cluster

    @classmethod
    def of_columns(cls, cols: DropColumns, lo: int, hi: int, cluster: DocCluster
                   ) -> CorpusOutcome:
        """The outcome whose drops are ``cols`` entries ``lo:hi`` (detail: the cluster)."""
        out = cls.__new__(cls)
        out._drops = None
        out._cols, out._lo, out._hi = cols, lo, hi
        out._cluster = cluster
        return out

    @property
    def cluster(self) -> DocCluster:
        return self._cluster

    @property
    def drops(self) -> tuple[DropRow, ...]:
        if self._drops is None:
            self._drops = self._cols.rows(self._lo, self._hi,
                                          f"document cluster {self.cluster.id}")
        return self._drops

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CorpusOutcome):
            return NotImplemented
        return self.drops == other.drops and self.cluster == other.cluster

    def __hash__(self) -> int:
        return hash((self.drops, self.cluster))

    def __repr__(self) -> str:
        return f"CorpusOutcome(drops={self.drops!r}, cluster={self.cluster!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return CorpusOutcome, (self.drops, self.cluster)

    def apply(self, doc: Document) -> Document:
        """Set the verdicts and the cluster on ``doc`` (the document they were decided for)."""
        drops = self.drops
        matches = instances(Match, [(d[3], d[4]) for d in drops])
        verdicts = instances(Verdict, [(DROP, d[1], d[2], m, d[5])
                                       for d, m in zip(drops, matches, strict=True)])
        for d, verdict in zip(drops, verdicts, strict=True):
            doc.paragraphs[d[0]].verdict = verdict
        doc.cluster = self.cluster
        return doc


class Outcomes(tuple[CorpusOutcome | None, ...]):
    """A chunk's outcomes on their way to the worker that finishes it: the drops of the
    outcomes made from columns travel as the chunk's columns (a few arrays and the names they
    point at), the others as tuples, each cluster as a tuple; made outcomes again on arrival,
    their rows made there."""

    def __reduce__(self) -> tuple[Any, ...]:
        parts: list[tuple[DropColumns, int, int]] = []
        rows: list[tuple[Any, ...] | None] = []
        at = 0
        for o in self:
            if o is None:
                rows.append(None)
                continue
            cluster = _cluster_row(o.cluster)
            if o._drops is not None:
                rows.append((o._drops, cluster))
                continue
            n = o._hi - o._lo
            if parts and parts[-1][0] is o._cols and parts[-1][2] == o._lo:
                parts[-1] = (o._cols, parts[-1][1], o._hi)
            elif n:
                parts.append((o._cols, o._lo, o._hi))
            rows.append((at, at + n, cluster))
            at += n
        cols = DropColumns.join(parts) if parts else _NO_DROPS
        return (_outcomes, (rows, cols.para, cols.sim, cols.target, cols.line, cols.names))


class OutcomeColumns(Sequence[CorpusOutcome]):
    """The outcomes of consecutive decided documents as columns: what a window decides, and
    how a chunk's outcomes reach the worker that finishes it. Nothing here is per document in
    Python until an outcome is read: ``outcomes[j]`` makes document ``j``'s
    :class:`CorpusOutcome` (equal to the one the window would have made), so the parent of a
    parallel run, which only passes them on, makes none.

    Document ``j``'s cluster (:class:`~dedup.types.DocCluster`): its id is
    ``names[name[j]]``, or ``own[j]`` (the document's own id) when
    ``name[j] < 0`` (a document of its own cluster, similarity 1.0); ``sim`` unrounded
    (rounded to 4 places as Python rounds, where an outcome is made); ``first``, ``total``.
    Its drops: ``drops`` entries ``lo[j]:hi[j]``. ``explicit``: documents whose outcome was
    made whole (a crowded window's reference, a dropped document's own rows), by position."""

    __slots__ = ("drops", "explicit", "first", "hi", "lo", "name", "names", "own", "sim",
                 "total")

    def __init__(self, own: list[str], name: np.ndarray, names: tuple[str, ...],
                 sim: np.ndarray, first: np.ndarray, total: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray, drops: DropColumns,
                 explicit: dict[int, CorpusOutcome] | None = None) -> None:
        self.own, self.name, self.names = own, name, names
        self.sim, self.first, self.total = sim, first, total
        self.lo, self.hi, self.drops = lo, hi, drops
        self.explicit: dict[int, CorpusOutcome] = explicit or {}

    @classmethod
    def of_outcomes(cls, outcomes: Sequence[CorpusOutcome]) -> OutcomeColumns:
        """Outcomes made whole, as columns (every one explicit)."""
        n = len(outcomes)
        zeros = np.zeros(n, dtype=np.int64)
        return cls([""] * n, np.full(n, -1, dtype=np.int64), (), np.ones(n), zeros, zeros,
                   zeros, zeros, _NO_DROPS, dict(enumerate(outcomes)))

    def __len__(self) -> int:
        return len(self.own)

    @overload
    def __getitem__(self, j: int) -> CorpusOutcome: ...

    @overload
    def __getitem__(self, j: slice) -> OutcomeColumns: ...

    def __getitem__(self, j: int | slice) -> CorpusOutcome | OutcomeColumns:
        if isinstance(j, slice):
            lo, hi, step = j.indices(len(self))
            if step != 1:
                raise ValueError("outcome columns slice with step 1 only")
            return self.slice(lo, hi)
        n = len(self)
        if not -n <= j < n:
            raise IndexError(j)
        j %= n
        made = self.explicit.get(j)
        if made is not None:
            return made
        k = int(self.name[j])
        cluster = DocCluster(self.own[j] if k < 0 else self.names[k], k >= 0,
                             1.0 if k < 0 else round(float(self.sim[j]), 4),
                             int(self.first[j]), int(self.total[j]))
        return CorpusOutcome.of_columns(self.drops, int(self.lo[j]), int(self.hi[j]), cluster)

    def __iter__(self) -> Iterator[CorpusOutcome]:
        return map(self.__getitem__, range(len(self)))

    def slice(self, lo: int, hi: int) -> OutcomeColumns:
        """Documents ``lo`` to ``hi - 1`` (their drops point into the same columns)."""
        return OutcomeColumns(self.own[lo:hi], self.name[lo:hi], self.names, self.sim[lo:hi],
                              self.first[lo:hi], self.total[lo:hi], self.lo[lo:hi],
                              self.hi[lo:hi], self.drops,
                              {j - lo: o for j, o in self.explicit.items() if lo <= j < hi})

    @staticmethod
    def join(parts: Sequence[OutcomeColumns]) -> OutcomeColumns:
        """``parts`` end to end, as one (their drops and names joined, only those in use)."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return OutcomeColumns.of_outcomes(())
        own: list[str] = []
        names: list[str] = []
        name, ranges, los, his = [], [], [], []
        explicit: dict[int, CorpusOutcome] = {}
        at = 0  # drops entries so far
        for p in parts:
            name.append(np.where(p.name >= 0, p.name + len(names), -1))
            names.extend(p.names)
            d0 = int(p.lo.min()) if len(p) else 0
            d1 = int(p.hi.max()) if len(p) else 0
            ranges.append((p.drops, d0, max(d0, d1)))
            los.append(p.lo - d0 + at)
            his.append(p.hi - d0 + at)
            at += max(d1 - d0, 0)
            explicit.update((j + len(own), o) for j, o in p.explicit.items())
            own.extend(p.own)
        cat = np.concatenate
        return OutcomeColumns(own, cat(name), tuple(names), cat([p.sim for p in parts]),
                              cat([p.first for p in parts]), cat([p.total for p in parts]),
                              cat(los), cat(his), DropColumns.join(ranges), explicit)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OutcomeColumns({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        d = self.drops
        explicit = {j: (o.drops, _cluster_row(o.cluster)) for j, o in self.explicit.items()}
        return (_outcome_columns, (self.own, self.name, self.names, self.sim, self.first,
                                   self.total, self.lo, self.hi, d.para, d.sim, d.target,
                                   d.line, d.names, explicit))


def _cluster_row(c: DocCluster) -> tuple[Any, ...]:
    """A cluster as the tuple it travels as (made again with ``DocCluster(*row)``)."""
    return (c.id, c.duplicate, c.similarity, c.first, c.tokens)


def _outcome_columns(own: list[str], name: np.ndarray, names: tuple[str, ...], sim: np.ndarray,
                     first: np.ndarray, total: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     para: np.ndarray, dsim: np.ndarray, target: np.ndarray, line: np.ndarray,
                     dnames: tuple[str, ...], explicit: dict[int, tuple[Any, ...]]
                     ) -> OutcomeColumns:
    return OutcomeColumns(own, name, names, sim, first, total, lo, hi,
                          DropColumns(para, dsim, target, line, dnames),
                          {j: CorpusOutcome(d, DocCluster(*c)) for j, (d, c) in explicit.items()})


def _outcomes(rows: list[tuple[Any, ...] | None], para: np.ndarray, sim: np.ndarray,
              target: np.ndarray, line: np.ndarray, names: tuple[str, ...]) -> Outcomes:
    cols = DropColumns(para, sim, target, line, names)
    return Outcomes(
        None if r is None else
        CorpusOutcome(r[0], DocCluster(*r[1])) if len(r) == 2 else
        CorpusOutcome.of_columns(cols, r[0], r[1], DocCluster(*r[2]))
        for r in rows)


def _handed(waiting: deque[list[Document]], made: deque[OutcomeColumns]
            ) -> Iterator[tuple[list[Document], OutcomeColumns]]:
    """The chunks at the head of ``waiting`` whose documents all have their outcome in
    ``made`` (windows' outcomes, in order), each with its outcomes (taken out of ``made``)."""
    have = sum(map(len, made))
    while waiting and have >= len(waiting[0]):
        chunk = waiting.popleft()
        need = len(chunk)
        have -= need
        pieces = []
        while need:
            head = made[0]
            if len(head) <= need:
                pieces.append(made.popleft())
                need -= len(head)
            else:
                pieces.append(head.slice(0, need))
                made[0] = head.slice(need, len(head))
                need = 0
        yield chunk, OutcomeColumns.join(pieces)


def _text_length(doc: Document) -> int:
    return len(doc.text)


class Crowded(Exception):
    """A window whose candidate pairs would be quadratic (see the module doc)."""


def window_columns(keys: Sequence[CorpusKeys | KeyRef | None]) -> KeyColumns:
    """The columns of a window's documents: a run of documents whose keys are consecutive
    documents of one chunk's columns is a slice of them (no per-document work), any other
    document's keys are made into columns (``None``: a document without keys)."""
    parts: list[KeyColumns] = []
    plain: list[CorpusKeys | None] = []
    i, n = 0, len(keys)
    while i < n:
        k = keys[i]
        if not isinstance(k, KeyRef):
            plain.append(k)
            i += 1
            continue
        if plain:
            parts.append(KeyColumns.of_keys(plain))
            plain = []
        cols, lo = k.columns, k.j
        end = i + 1
        while end < n:
            nxt = keys[end]
            if not (isinstance(nxt, KeyRef) and nxt.columns is cols
                    and nxt.j == lo + end - i):
                break
            end += 1
        parts.append(cols.slice(lo, lo + end - i))
        i = end
    if plain or not parts:
        parts.append(KeyColumns.of_keys(plain))
    return KeyColumns.join(parts)


def window_rows(cols: KeyColumns) -> Rows:
    """The rows of a window from its documents' key columns."""
    n_rows = np.diff(cols.row_start)
    doc = np.repeat(np.arange(len(n_rows), dtype=np.int64), n_rows)
    start = cols.row_start[:-1][doc]
    para = cols.para[cols.content_start[:-1][doc] + cols.long_pos]
    return Rows(doc, np.asarray(cols.long_pos, dtype=np.int64),
                para.astype(np.int64, copy=False), start.astype(np.int64, copy=False),
                np.asarray(cols.set_start, dtype=np.int64), cols.values,
                np.asarray(cols.keys, dtype=np.uint64), np.asarray(cols.groups, dtype=np.uint64))


def _bucket_pairs(keys: np.ndarray, owner: np.ndarray, crowded: int, compiled: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(later, earlier)`` of distinct owners sharing a key (``keys``/``owner``:
    one entry per (owner, key)), each pair once, sorted; :class:`Crowded` when more than
    ``crowded`` owners share a key. ``compiled``: keys grouped in a hash table
    (``dedup._pairs.bucket_pairs``) when it is built; else the reference below, which sorts
    every entry."""
    if not len(keys):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    if compiled and _pairs is not None:
        widest, raw = _pairs.bucket_pairs(np.ascontiguousarray(keys, dtype=np.uint64),
                                          np.ascontiguousarray(owner, dtype=np.int64), crowded)
        if raw is None:
            raise Crowded(widest)
        found = unique_ints(np.frombuffer(raw, dtype=np.uint64)).astype(np.int64)
        return found >> 32, found & _U32
    packed = np.unique((keys.astype(np.uint64) << np.uint64(32)) | owner.astype(np.uint64))
    k = packed >> np.uint64(32)
    o = (packed & np.uint64(_U32)).astype(np.int64)
    bounds = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1], [True])))
    sizes = np.diff(bounds)
    if len(sizes) and int(sizes.max()) > crowded:
        raise Crowded(int(sizes.max()))
    first = np.repeat(bounds[:-1], sizes)  # each entry's bucket start
    idx = np.arange(len(o))
    earlier = index_ranges(first, idx)  # the entries before each one in its bucket
    later = np.repeat(o, idx - first)
    pairs = np.unique((later << 32) | o[earlier])
    return pairs >> 32, pairs & _U32


def decide_long(rows: Rows, index: CorpusIndex, cfg: Config,
                crowded: int = CROWDED) -> LongDecision:
    """Steps 2-4 of the module doc for one window (the index rows' sets read at once,
    :meth:`CorpusIndex.payloads`)."""
    n = len(rows)
    threshold = cfg.lsh.threshold
    groups = exact_groups(rows.groups)
    rep = groups.rep
    g = len(rep)
    bands = rows.keys.shape[1] if n else 0
    rep_keys = rows.keys[rep] if n else rows.keys
    # a group with a copy among the index's kept rows is dropped against it (module doc, step
    # 3), so it is never kept: no other group takes it as a candidate, and its own candidates
    # in the window could not beat that copy (similarity 1, and earlier than any of them)
    copy_group, copy_row = _copies(rows, rep, index)
    todo = np.ones(g, dtype=bool)
    todo[copy_group] = False
    live = np.flatnonzero(todo)
    # candidates among the window's other groups (all pairs of them, any documents)
    ws, wd = _bucket_pairs(rep_keys[live].ravel(), np.repeat(np.arange(len(live)), bands),
                           crowded)
    ws, wd = live[ws], live[wd]
    wsim = similarities(rows.sets(rep[ws]), rows.sets(rep[wd]))
    keep = wsim >= threshold
    ws, wd, wsim = ws[keep], wd[keep], wsim[keep]
    # every other group looks its band keys up among the index's kept rows
    ps, pr, psim = copy_group, copy_row, np.ones(len(copy_group))
    if todo.any() and len(index.bands):
        asked = np.flatnonzero(todo)
        q, found = index.bands.lookup(rep_keys[asked].ravel())
        if len(q):
            pairs = unique_ints((asked[q // bands].astype(np.int64) << 32)
                              | found.astype(np.int64))
            ls, lr = pairs >> 32, pairs & _U32
            lsim = similarities(rows.sets(rep[ls]), _split(*index.payloads(lr)))
            keep = lsim >= threshold
            ps, pr, psim = (np.concatenate((ps, ls[keep])), np.concatenate((pr, lr[keep])),
                            np.concatenate((psim, lsim[keep])))
            if len(copy_group):  # in (group, row) order, as the look-up gives them
                order = np.lexsort((pr, ps))
                ps, pr, psim = ps[order], pr[order], psim[order]
    prior_rows, prior_node = np.unique(pr, return_inverse=True)
    p = len(prior_rows)
    # the decision over the representatives (nodes p..p+g-1) and the index rows (0..p-1)
    cross = rows.doc[rep[ws]] != rows.doc[rep[wd]]
    src = np.concatenate((ps + p, ws[cross] + p))
    dst = np.concatenate((prior_node.reshape(-1), wd[cross] + p))
    sim = np.concatenate((psim, wsim[cross]))
    decision, rounds = decide_rounds(p + g, src, dst, sim)
    node_kept = decision.target < 0
    # each row's candidates by group: (group, position, similarity), position < p for index rows
    rep_pos = rep + p
    gk = node_kept[p:]
    cand = [
        (ps, prior_node.reshape(-1), psim),  # index rows: always kept
        (ws[node_kept[wd + p]], rep_pos[wd[node_kept[wd + p]]], wsim[node_kept[wd + p]]),
        (wd[node_kept[ws + p]], rep_pos[ws[node_kept[ws + p]]], wsim[node_kept[ws + p]]),
        (np.flatnonzero(gk), rep_pos[gk], np.ones(int(gk.sum()))),  # a kept group's first row
    ]
    cg = np.concatenate([c[0] for c in cand]).astype(np.int64)
    cpos = np.concatenate([c[1] for c in cand]).astype(np.int64)
    csim = np.concatenate([c[2] for c in cand]).astype(np.float64)
    target = np.full(n, -1, dtype=np.int64)
    tsim = np.full(n, np.nan)
    # first rows: as the rounds decided (a node's target is a node: index rows map as is)
    node_pos = np.concatenate((np.arange(p), rep_pos))
    dropped = np.flatnonzero(~gk)
    target[rep[dropped]] = node_pos[decision.target[dropped + p]]
    tsim[rep[dropped]] = decision.sim[dropped + p]
    members = np.flatnonzero(rep[groups.group] != np.arange(n))
    if len(members) and len(cg):
        order = np.lexsort((cpos, cg))
        cg, cpos, csim = cg[order], cpos[order], csim[order]
        uniq = np.unique(csim, return_inverse=True)[1].reshape(-1).astype(np.int64)
        span = int(uniq.max()) + 1
        # running best per group, in position order: moves only on a strictly more similar one
        best = np.maximum.accumulate(cg * span + uniq)
        moved = np.concatenate(([True], best[1:] != best[:-1]))
        setter = np.maximum.accumulate(np.where(moved, np.arange(len(best)), 0))
        width = p + n + 1
        key = cg * width + cpos
        mg = groups.group[members]
        last = np.searchsorted(key, mg * width + rows.start[members] + p) - 1
        ok = last >= 0
        ok[ok] = cg[last[ok]] == mg[ok]  # a candidate of the member's own group before it
        pick = setter[last[ok]]
        target[members[ok]] = cpos[pick]
        tsim[members[ok]] = csim[pick]
    return LongDecision(target, tsim, prior_rows.astype(np.int64), rounds.count,
                        rounds.remainder)


def _split(bounds: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """The pieces ``values[bounds[i]:bounds[i + 1]]`` (views)."""
    return [values[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(),
                                        strict=True)]


def _copies(rows: Rows, rep: np.ndarray, index: CorpusIndex) -> tuple[np.ndarray, np.ndarray]:
    """The window's groups that have a copy among the index's kept rows, and that row:
    ``(groups, rows)``, ascending. A row's copy has its shingle set, so its band keys, and is
    the one earlier kept row at similarity 1: the group is dropped against it in the first
    round and every member takes it, whatever the group's other candidates in the index. The
    copies are found by exact-group key (``index.copies``, the kept rows this process's
    windows added) and verified set for set (all at once: equal sizes, then equal values,
    sorted sets being equal exactly when their similarity is 1); a group with none found (a
    copy that came with a loaded index, or indexed by the reference) looks its band keys up
    as any other."""
    none = np.empty(0, dtype=np.int64)
    if not len(rep) or not len(index.copies):
        return none, none
    q, found = index.copies.lookup(rows.groups[rep] & np.uint64(_U32))
    if not len(q):
        return none, none
    found = found.astype(np.int64)
    bounds, stored = index.payloads(found)
    lo, hi = rows.set_start[rep[q]], rows.set_start[rep[q] + 1]
    size = hi - lo
    same = size == np.diff(bounds)
    if same.any():  # the values of the same-sized pairs, side by side
        at = np.flatnonzero(same)
        mine = rows.values[index_ranges(lo[at], hi[at])]
        theirs = stored[index_ranges(bounds[at], bounds[at + 1])]
        differs = np.repeat(np.arange(len(at)), size[at])[mine != theirs]
        same[at[differs]] = False
    q, found = q[same], found[same]
    single = np.bincount(q, minlength=len(rep))[q] == 1  # two copies cannot both be kept
    return q[single], found[single]


class StagedDeduper(CorpusDeduper):
    """The corpus stage decided a window at a time (module doc); the same verdicts, clusters
    and index as :class:`~dedup.crossdoc.CorpusDeduper`, whose per-document steps it reuses.

    Not for keep policy ``longest`` (its canonical copies are indexed before the run, out of
    order): :func:`corpus_deduper` picks the reference there.
    """

    def __init__(self, cfg: Config, index: CorpusIndex, window: int = WINDOW,
                 crowded: int = CROWDED) -> None:
        super().__init__(cfg, index)
        if not 1 <= window <= MARKS:
            raise ValueError(f"window must be in 1..{MARKS}, got {window}")
        self.window = window
        self.crowded = crowded
        self.rounds: list[int] = []  # decision rounds of every window decided in rounds
        self.crowded_windows = 0
        self.remainder = 0  # rows finished by the sequential rule after the rounds' cap
        self.restarts = 0  # windows decided again after a dropped document (documents="drop")

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc, outcome in self.outcomes(docs):
            yield outcome.apply(doc)

    def outcomes(self, docs: Iterable[Document]) -> Iterator[tuple[Document, CorpusOutcome]]:
        """Every document with what the corpus stage decided about it, in input order; the
        documents are not changed (their ``corpus_keys`` are used up). A document may come
        without its paragraphs (the parent of a parallel run holds only the keys): nothing here
        reads them."""
        return self.keyed_outcomes(_taken_keys(docs))

    def keyed_outcomes(self, keyed: Iterable[tuple[Document, CorpusKeys | KeyRef | None]],
                       length: Callable[[Document], int] = _text_length
                       ) -> Iterator[tuple[Document, CorpusOutcome]]:
        """:meth:`outcomes` of documents given with their keys (a :class:`KeyRef` into a
        chunk's columns, as the parent of a parallel run receives them; ``None``: made here
        from the document). ``length``: a document's text length, for the window's bound (the
        parent of a parallel run may hold a record's bytes, its text on a worker)."""
        window: deque[Document] = deque()
        keys: list[CorpusKeys | KeyRef | None] = []
        chars = 0
        for doc, k in keyed:
            window.append(doc)
            keys.append(k)
            chars += length(doc)
            if len(window) >= self.window or chars >= WINDOW_CHARS:
                yield from self._decided(window, keys)
                keys = []
                chars = 0
        yield from self._decided(window, keys)

    def keyed_chunks(self, chunks: Iterable[tuple[list[Document],
                                                  Sequence[CorpusKeys | KeyRef | None],
                                                  Sequence[int]]]
                     ) -> Iterator[tuple[list[Document], OutcomeColumns]]:
        """:meth:`keyed_outcomes` a chunk at a time: each chunk's documents with their keys
        and text lengths in, each chunk with its documents' outcomes out once all of them are
        decided. The same windows (``window`` documents, or fewer once their texts reach
        ``WINDOW_CHARS`` characters, spanning chunks), so the same outcomes and rounds."""
        docs: list[Document] = []  # not decided yet
        keys: list[CorpusKeys | KeyRef | None] = []
        lengths: list[int] = []
        waiting: deque[list[Document]] = deque()  # chunks not handed out yet
        made: deque[OutcomeColumns] = deque()  # their outcomes so far, in order
        for chunk, ks, ls in chunks:
            waiting.append(chunk)
            docs += chunk
            keys += ks
            lengths += ls
            while (k := self._full(lengths)) is not None:
                made.append(self._window(docs[:k], keys[:k]))
                del docs[:k], keys[:k], lengths[:k]
                yield from _handed(waiting, made)
        if docs:
            made.append(self._window(docs, keys))
        yield from _handed(waiting, made)

    def _full(self, lengths: list[int]) -> int | None:
        """How many of the documents of ``lengths`` (their text lengths) make the next window,
        when they make a whole one (as :meth:`keyed_outcomes` closes it)."""
        last = min(self.window, len(lengths)) - 1
        if last < 0:
            return None
        by_chars = bisect.bisect_left(list(itertools.accumulate(lengths[:last + 1])),
                                      WINDOW_CHARS)
        if by_chars <= last:
            return by_chars + 1
        return last + 1 if last + 1 >= self.window else None

    def _decided(self, window: deque[Document], keys: list[CorpusKeys | KeyRef | None]
                 ) -> Iterator[tuple[Document, CorpusOutcome]]:
        """The window's documents decided, then handed on one by one (and let go of)."""
        outcomes = deque(self._window(list(window), keys)) if window else deque()
        while window:
            yield window.popleft(), outcomes.popleft()

    def _window(self, docs: list[Document], given: list[CorpusKeys | KeyRef | None]
                ) -> OutcomeColumns:
        keys = [k if k is not None else corpus_keys(d, self.cfg)
                for d, k in zip(docs, given, strict=True)]
        cols = window_columns(keys)
        out: list[OutcomeColumns] = []
        while docs:
            docs, keys, cols = self._decide(docs, keys, cols, out)
        return OutcomeColumns.join(out)

    def _reference(self, doc: Document, ck: CorpusKeys) -> CorpusOutcome:
        """The reference's decision for one document (a crowded window), as an outcome. A
        document without its paragraphs gets blank stand-ins for the reference to mark (it
        reads nothing else of them)."""
        stand_in = not doc.paragraphs
        if stand_in:
            doc.paragraphs = [Paragraph(i, "", 0, 0)
                              for i in range(max(ck.content, default=-1) + 1)]
        doc.corpus_keys = ck
        self.process(doc)
        drops = []
        for i in ck.content:
            v = doc.paragraphs[i].verdict
            if v is not None and v.match is not None:
                drops.append((i, v.reason, v.score, v.match.doc, v.match.line, v.detail))
        if stand_in:
            doc.paragraphs = []
        assert doc.cluster is not None
        return CorpusOutcome(tuple(drops), doc.cluster)

    def _decide(self, docs: list[Document], keys: list[CorpusKeys | KeyRef],
                cols: KeyColumns, out: list[OutcomeColumns]
                ) -> tuple[list[Document], list[CorpusKeys | KeyRef], KeyColumns]:
        """Decide a window (module doc); returns the documents left to decide again (none,
        unless a document was dropped). With ``corpus.documents = "drop"`` a document that
        joins a cluster adds nothing to the index: when a later row of the window was dropped
        against one of its rows, the rest of the window is decided again without them (no
        other decision of the window can change: a row kept stays kept with fewer
        candidates, and every other drop's target is still there and still the best).
        Appends the decided documents' outcomes to ``out``."""
        cfg, index = self.cfg, self.index
        rows = window_rows(cols)
        try:
            long = decide_long(rows, index, cfg, self.crowded)
        except Crowded:
            self.crowded_windows += 1
            made = []
            for doc, ck in zip(docs, keys, strict=True):
                self._mark(doc)
                plain = ck.corpus_keys() if isinstance(ck, KeyRef) else ck
                made.append(self._reference(doc, plain or corpus_keys(doc, cfg)))
            out.append(OutcomeColumns.of_outcomes(made))
            return [], [], cols
        self.rounds.append(long.rounds)
        self.remainder += long.remainder
        p = long.prior
        base = index.documents  # the window's documents are indexed from here, in order
        # every row's target as (document ordinal, line), or (-1, -1) when it is kept
        pd, pl = index.heads(long.prior_rows)
        content = window_content(cols)
        at_row = content.start[rows.doc] + rows.pos  # each row's content position
        hdoc = np.full(len(content.line), -1, dtype=np.int64)
        hline = np.full(len(content.line), -1, dtype=np.int64)
        hsim = np.zeros(len(content.line), dtype=np.float64)
        at = (long.target >= 0) & (long.target < p)
        hdoc[at_row[at]], hline[at_row[at]] = pd[long.target[at]], pl[long.target[at]]
        at = long.target >= p
        w = long.target[at] - p
        hdoc[at_row[at]] = base + rows.doc[w]
        hline[at_row[at]] = rows.para[w] + 1
        dropped = long.target >= 0
        hsim[at_row[dropped]] = long.sim[dropped]
        referenced = np.zeros(len(docs), dtype=bool)  # a later row drops against the document
        referenced[rows.doc[w]] = True
        drop_mode = cfg.corpus.documents == "drop"
        steps = doc_steps(content, hdoc, hline, hsim, self._prior_shorts(cols, rows, long, pd),
                          index.doc_cluster.view(), index.doc_tokens.view(), referenced, base,
                          cfg.corpus.document_threshold, drop_mode)
        m = steps.decided
        out.append(self._outcomes(docs[:m], content, steps, base, drop_mode))
        _window_adds(index, self.marks, docs[:m], rows, long, content, steps, drop_mode)
        if m < len(docs):
            self.restarts += 1
            return docs[m:], keys[m:], cols.slice(m, len(docs))
        return [], [], cols

    def _outcomes(self, docs: list[Document], content: Content, steps: Steps, base: int,
                  drop_mode: bool) -> OutcomeColumns:
        """The decided documents' outcomes, as columns: their drops in paragraph order, their
        clusters; each document an id or two named once (the documents their clusters and
        drops point at), nothing made per document."""
        index = self.index
        m = len(docs)

        def names(ds: np.ndarray) -> tuple[str, ...]:
            """The ids of index documents ``ds`` (earlier windows', or this one's)."""
            cut = int(np.searchsorted(ds, base))  # ds ascending: earlier windows' first
            return (*index.doc_ids(ds[:cut]), *(docs[d - base].id for d in ds[cut:].tolist()))

        cl = steps.cluster[:m]
        joined = cl >= 0
        cl_docs = unique_ints(cl[joined])
        name = np.full(m, -1, dtype=np.int64)
        name[joined] = np.searchsorted(cl_docs, cl[joined])
        first = np.where(joined, cl, base + np.arange(m))
        end = int(content.start[m])
        hit = np.flatnonzero(steps.hdoc[:end] >= 0)
        hit_doc = np.searchsorted(content.start, hit, side="right") - 1
        # the documents dropped against, each named once; the rows are made where applied
        held = steps.hdoc[hit]
        targets = unique_ints(held)
        cols = DropColumns(content.para[hit].astype(np.int64), steps.hsim[hit],
                           np.searchsorted(targets, held).astype(np.int64),
                           steps.hline[hit].astype(np.int64), names(targets))
        bounds = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(hit_doc, minlength=m), out=bounds[1:])
        out = OutcomeColumns([doc.id for doc in docs], name, names(cl_docs),
                             steps.sim[:m].copy(), first, steps.total[:m].copy(), bounds[:-1],
                             bounds[1:], cols)
        if drop_mode:  # a near-duplicate document's drops are rows of its own, every line
            starts = content.start.tolist()
            for j in np.flatnonzero(joined).tolist():
                made = out[j]
                at, to = starts[j], starts[j + 1]
                cl_id, sim = made.cluster.id, made.cluster.similarity
                drops = list(made.drops)
                drops.extend((p, DOCUMENT, sim, cl_id, 0, f"near-duplicate of document {cl_id}")
                             for p, d in zip(content.para[at:to].tolist(),
                                             steps.hdoc[at:to].tolist(), strict=True)
                             if d < 0)
                drops.sort()
                out.explicit[j] = CorpusOutcome(drops, made.cluster)
        return out

    def _prior_shorts(self, cols: KeyColumns, rows: Rows, long: LongDecision,
                      prior_doc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every short line of the window and every earlier-window document its document's
        long paragraphs were dropped against, the first line of that document with the same
        text, or -1: one look-up for the whole window (a run only grows into those), as
        ``(hashes, documents, lines)`` sorted by hash, then document. ``prior_doc``: the
        document of each index row the window touched."""
        if not len(self.index.exact) or not long.prior:
            return _prior_empty()
        hit = (long.target >= 0) & (long.target < long.prior)
        # the distinct (window document, earlier document) pairs of the drops against the index
        pairs = unique_ints((rows.doc[hit] << 32) | prior_doc[long.target[hit]])
        mine = (pairs >> 32).astype(np.int64)
        lo, hi = cols.short_start[mine], cols.short_start[mine + 1]
        sizes = hi - lo
        if not sizes.sum():
            return _prior_empty()
        # every (short line hash, earlier document) asked about, once
        hashes = np.asarray(cols.short_hash, dtype=np.uint64)[index_ranges(lo, hi)]
        docs = np.repeat(pairs & _U32, sizes)
        order = np.lexsort((docs, hashes))
        hashes, docs = hashes[order], docs[order]
        first = np.r_[True, (hashes[1:] != hashes[:-1]) | (docs[1:] != docs[:-1])]
        hashes, docs = hashes[first], docs[first]
        lines = np.full(len(hashes), -1, dtype=np.int64)
        q, found = self._held_rows(hashes, docs)
        if len(q):  # each ask's rows in row order: the first whose line is this one's
            at = np.lexsort((found, q))
            q, found = q[at], found[at]
            # a short line's record: document, line, its key hash as (low, high)
            values, whole = self.index.records_of_size(found.astype(np.int64), 4)
            h = hashes[q]
            same = (whole & (values[:, 2] == (h & np.uint64(_U32)))
                    & (values[:, 3] == (h >> np.uint64(32))))
            match = np.flatnonzero(same)
            asked = q[match]
            earliest = match[np.r_[True, asked[1:] != asked[:-1]]] if len(match) else match
            lines[q[earliest]] = values[earliest, 1]
        return hashes, docs.astype(np.int64), lines


def _prior_empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """No short line asked about in earlier windows (see ``StagedDeduper._prior_shorts``)."""
    return (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Content:
    """The content paragraphs of a window's documents as flat arrays: document ``j``'s are the
    positions ``start[j]`` to ``start[j + 1] - 1``."""

    start: np.ndarray  # int64 (documents + 1)
    para: np.ndarray  # int64: each position's paragraph (CorpusKeys.content)
    line: np.ndarray  # int64: its line (1-based)
    tokens: np.ndarray  # int64: its tokens
    short: np.ndarray  # bool: a short line
    hash: np.ndarray  # uint64: a short line's 64-bit key hash (0 for the others)
    shorts: np.ndarray  # int64: the short lines' positions, per document in indexing order
    short_start: np.ndarray  # int64 (documents + 1): where document j's are in ``shorts``


def window_content(cols: KeyColumns) -> Content:
    """The window's content positions (a paragraph's line is its index plus one: a document
    may come without its paragraphs, as the parent of a parallel run holds them)."""
    start = np.asarray(cols.content_start, dtype=np.int64)
    q = int(start[-1])
    n_short = np.diff(cols.short_start)
    short_at = start[:-1][np.repeat(np.arange(len(n_short)), n_short)] + cols.short_pos
    short = np.zeros(q, dtype=bool)
    short[short_at] = True
    hash_ = np.zeros(q, dtype=np.uint64)
    hash_[short_at] = cols.short_hash
    para = np.asarray(cols.para, dtype=np.int64)
    return Content(start, para, para + 1, np.asarray(cols.tokens, dtype=np.int64), short, hash_,
                   short_at.astype(np.int64, copy=False),
                   np.asarray(cols.short_start, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Steps:
    """What the per-document step decided for the window's first ``decided`` documents: per
    content position its drop (``hdoc`` -1: kept; the long paragraphs' and the runs'), per
    document its cluster (-1: none), the similarity to it (1.0 when none), its tokens."""

    decided: int
    hdoc: np.ndarray
    hline: np.ndarray
    hsim: np.ndarray
    cluster: np.ndarray
    sim: np.ndarray
    total: np.ndarray


def doc_steps(content: Content, hdoc: np.ndarray, hline: np.ndarray, hsim: np.ndarray,
              held: tuple[np.ndarray, np.ndarray, np.ndarray], index_cluster: np.ndarray,
              index_tokens: np.ndarray, referenced: np.ndarray, base: int, threshold: float,
              drop_mode: bool, compiled: bool = True) -> Steps:
    """Step 5 of the module doc for a window, document after document as the reference does
    it: the short lines that continue a run of drops (:func:`~dedup.crossdoc.grow_runs`:
    ``held`` answers for documents of earlier windows, sorted ``(hashes, documents, lines)``
    with line -1 for "no kept copy"; the window's own documents answer from their kept short
    lines), the document's cluster (:func:`~dedup.crossdoc.best_cluster`; ``index_cluster``
    and ``index_tokens`` per index document below ``base``), and, unless the document is
    dropped (``drop_mode`` and a cluster), its kept short lines, which later documents of the
    window may run into. Stops after a dropped document that is ``referenced`` (a later row
    of the window was dropped against it). ``hdoc``, ``hline``, ``hsim`` (the long
    paragraphs' drops) are written in place. ``compiled``: the kernel
    (``dedup._window.doc_steps``) when it is built; else the Python reference below."""
    n = len(content.start) - 1
    cluster = np.full(n, -1, dtype=np.int64)
    sim = np.ones(n, dtype=np.float64)
    total = np.zeros(n, dtype=np.int64)
    icluster = np.ascontiguousarray(index_cluster[:base], dtype=np.uint32)
    itokens = np.ascontiguousarray(index_tokens, dtype=np.uint32)
    if compiled and _window is not None:
        decided = _window.doc_steps(
            content.start, content.line, content.tokens, content.short, content.hash,
            content.short_start, content.shorts, hdoc, hline, hsim, held[0], held[1], held[2],
            icluster, itokens, np.ascontiguousarray(referenced, dtype=bool), base, threshold,
            drop_mode, cluster, sim, total)
    else:
        decided = _doc_steps(content, hdoc, hline, hsim, held, icluster, itokens, referenced,
                             base, threshold, drop_mode, cluster, sim, total)
    return Steps(decided, hdoc, hline, hsim, cluster, sim, total)


def _doc_steps(content: Content, hdoc: np.ndarray, hline: np.ndarray, hsim: np.ndarray,
               held: tuple[np.ndarray, np.ndarray, np.ndarray], icluster: np.ndarray,
               itokens: np.ndarray, referenced: np.ndarray, base: int, threshold: float,
               drop_mode: bool, cluster: np.ndarray, sim: np.ndarray, total: np.ndarray
               ) -> int:
    """The reference of :func:`doc_steps`, with the reference's own runs and clusters."""
    held_line = dict(zip(zip(held[0].tolist(), held[1].tolist(), strict=True),
                         held[2].tolist(), strict=True))
    start, sstart = content.start.tolist(), content.short_start.tolist()
    shorts, hashes = content.shorts.tolist(), content.hash.tolist()
    lines, tokens = content.line.tolist(), content.tokens.tolist()
    hd, hl, hs = hdoc.tolist(), hline.tolist(), hsim.tolist()
    kept_short: dict[tuple[int, int], int] = {}  # (window document, hash) -> first line
    cluster_of: list[int] = []
    tokens_of: list[int] = []
    for j in range(len(start) - 1):
        lo, hi = start[j], start[j + 1]
        hits = {k - lo: _Hit(hd[k], hl[k], hs[k]) for k in range(lo, hi) if hd[k] >= 0}
        short_hash = {k - lo: hashes[k] for k in shorts[sstart[j]:sstart[j + 1]]}

        def holds(k: int, d: int, short_hash: dict[int, int] = short_hash) -> _Hit | None:
            h = short_hash[k]
            line = (kept_short.get((d - base, h)) if d >= base else held_line.get((h, d)))
            return None if line is None or line < 0 else _Hit(d, line, 1.0)

        if hits and short_hash:
            grow_runs(hits, short_hash, holds)
        for k, hit in hits.items():
            hdoc[lo + k], hline[lo + k], hsim[lo + k] = hit.doc, hit.line, hit.sim
        mine = tokens[lo:hi]
        best = best_cluster(
            hits, mine,
            lambda d: int(icluster[d]) if d < base else cluster_of[d - base],
            lambda cl: int(itokens[cl]) if cl < base else tokens_of[cl - base], threshold)
        tot = sum(mine)
        total[j] = tot
        if best is not None:
            sim[j], cluster[j] = best
        cluster_of.append(base + j if best is None else best[1])
        tokens_of.append(min(tot, _U32))
        dropped = drop_mode and best is not None
        if not dropped:
            for k in shorts[sstart[j]:sstart[j + 1]]:
                if k - lo not in hits:
                    kept_short.setdefault((j, hashes[k]), lines[k])
        elif referenced[j]:
            return j + 1
    return len(start) - 1


def _window_adds(index: CorpusIndex, marks: OrderedDict[int, tuple[int, int]],
                 docs: Sequence[Document], rows: Rows, long: LongDecision, content: Content,
                 steps: Steps, drop_mode: bool) -> None:
    """What the decided documents add to the index, written in one go (nothing in a window
    reads its own documents' entries from the index: they are answered from the window's
    tables), and the checkpoint marks before each of them (``CorpusDeduper._mark``). The same
    ordinals, rows, records and keys as the reference's insert document after document
    (``CorpusDeduper._insert``): per document not dropped, its kept long paragraphs, then its
    kept short lines."""
    m = len(docs)
    base, first_row = index.documents, index.paragraphs
    adds = ~(drop_mode & (steps.cluster[:m] >= 0))  # documents that add their rows
    # kept long rows, then kept short lines, per document
    long_rows = np.flatnonzero((long.target < 0) & (rows.doc < m))
    long_rows = long_rows[adds[rows.doc[long_rows]]]
    n_short = int(content.short_start[m])
    short_doc = np.repeat(np.arange(m), np.diff(content.short_start[:m + 1]))
    kept = steps.hdoc[content.shorts[:n_short]] < 0
    short_items = np.flatnonzero(kept & adds[short_doc])
    entry_doc = np.concatenate((rows.doc[long_rows], short_doc[short_items]))
    entry_kind = np.concatenate((np.zeros(len(long_rows), dtype=np.int64),
                                 np.ones(len(short_items), dtype=np.int64)))
    entry_item = np.concatenate((long_rows, short_items))
    order = np.lexsort((entry_item, entry_kind, entry_doc))
    entry_doc, entry_kind, entry_item = entry_doc[order], entry_kind[order], entry_item[order]
    is_short = entry_kind == 1
    longs = ~is_short
    position = np.empty(len(entry_item), dtype=np.int64)  # each entry's content position
    position[is_short] = content.shorts[entry_item[is_short]]
    position[longs] = content.start[entry_doc[longs]] + rows.pos[entry_item[longs]]
    per_doc = np.bincount(entry_doc, minlength=m)
    before = (first_row + np.cumsum(per_doc) - per_doc).tolist()
    marks.update(zip([doc.ordinal for doc in docs],
                     zip(before, range(base, base + m), strict=True), strict=True))
    pop = marks.popitem
    for _ in range(len(marks) - MARKS):
        pop(last=False)
    totals = steps.total[:m]
    clusters = np.where(steps.cluster[:m] >= 0, steps.cluster[:m], base + np.arange(m))
    index.add_documents([doc.id for doc in docs], totals.tolist(), clusters.tolist())
    if not len(entry_doc):
        return
    row_ids = first_row + np.arange(len(entry_doc))
    row_doc = base + entry_doc
    sizes = np.full(len(entry_doc), 2, dtype=np.int64)
    long_items = entry_item[longs]
    sizes[longs] = rows.set_start[long_items + 1] - rows.set_start[long_items]
    ends = np.cumsum(sizes)
    flat = np.empty(int(ends[-1]), dtype=np.uint32)
    # a short line's payload is its 64-bit key hash as two uint32 (low, high); the long
    # paragraphs' shingle sets fill the rest, in row order
    short_at = (ends - sizes)[is_short]
    hashes = content.hash[position[is_short]]
    long_values = np.ones(len(flat), dtype=bool)
    long_values[short_at] = long_values[short_at + 1] = False
    if longs.any():
        flat[long_values] = rows.values[index_ranges(rows.set_start[long_items],
                                                     rows.set_start[long_items + 1])]
    flat[short_at] = hashes & np.uint64(_U32)
    flat[short_at + 1] = hashes >> np.uint64(32)
    got = index.add_rows_flat(row_doc, content.line[position], sizes, flat)
    assert got == first_row
    if longs.any():
        band = rows.keys[entry_item[longs]]
        index.bands.add(band.astype(np.uint64).ravel(),
                        np.repeat(row_ids[longs].astype(np.uint64), band.shape[1]))
        index.copies.add(rows.groups[entry_item[longs]] & np.uint64(_U32),
                         row_ids[longs].astype(np.uint64))
    if is_short.any():
        index.exact.add(_doc_keys(hashes, row_doc[is_short]),
                        row_ids[is_short].astype(np.uint64))


@dataclass(slots=True)
class _Hit:
    """A drop: the document (index ordinal) and line it points at, the similarity."""

    doc: int
    line: int
    sim: float


def decision_rounds(deduper: CorpusDeduper | None) -> dict[str, int | str]:
    """What a run's corpus stage says of its decision rounds (``--report``): the windows
    decided in rounds, the most rounds one needed and their total, the windows decided by the
    reference (crowded), or the reference's name when it decided the whole run."""
    if deduper is None:
        return {"engine": "none"}
    if not isinstance(deduper, StagedDeduper):
        return {"engine": "sequential"}
    return {"engine": "rounds", "windows": len(deduper.rounds),
            "max": max(deduper.rounds, default=0), "total": sum(deduper.rounds),
            "remainder_rows": deduper.remainder, "crowded_windows": deduper.crowded_windows,
            "restarts": deduper.restarts}


def corpus_deduper(cfg: Config, index: CorpusIndex, canonical: frozenset[int] = frozenset()
                   ) -> CorpusDeduper:
    """The corpus stage for a run: staged where it applies, else the reference."""
    if canonical:
        return CorpusDeduper(cfg, index, canonical)
    return StagedDeduper(cfg, index, window=WINDOW)


__all__ = ["CROWDED", "WINDOW", "Content", "CorpusOutcome", "Crowded", "DropColumns",
           "LongDecision", "Outcomes", "Rows", "StagedDeduper", "Steps", "corpus_deduper",
           "decide_long", "decision_rounds", "doc_steps", "window_content", "window_rows"]


def _taken_keys(docs: Iterable[Document]) -> Iterator[tuple[Document, CorpusKeys | None]]:
    """Each document with its keys, which it lets go of (they are used once)."""
    for doc in docs:
        keys, doc.corpus_keys = doc.corpus_keys, None
        yield doc, keys
