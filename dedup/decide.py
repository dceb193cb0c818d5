"""Keep or drop, decided in parallel rounds over verified edges: the first-come rule at scale.

The corpus stage (:class:`~dedup.crossdoc.CorpusDeduper`) visits paragraphs in first-come order
(document ordinal, then line) and drops a paragraph only against an earlier paragraph that is
**kept**; among its verified kept earlier neighbours the most similar wins, then the earliest
(:func:`.canonical.choose`). Every drop points at a kept copy: no chains. This module computes
the same decision from a table of verified edges, in rounds that are joins over that table.

**Rows and edges.** Rows ``0..n-1`` are in first-come order. An edge ``(src, dst, sim)`` is a
verified pair, ``dst < src`` (``dst`` is the earlier row), ``sim`` its exact Jaccard similarity
as :func:`.crossdoc.similarities` computes it: ``float64`` ``inter / union``. Similarities are
compared exactly (no tolerance): equal fractions give equal floats (division is correctly
rounded), rounding never reverses an order, and two different fractions with unions below
2**26 stay different floats (they differ by at least ``1/union**2``, more than the rounding
error), so ties are ties of the fractions themselves. Inside, the similarities are replaced by
their dense integer ranks, so nothing below depends on floating point.

**The rule** (:func:`decide_sequential`, the reference): row ``r`` is dropped iff it has an
edge to an earlier kept row; its target is the most similar such row, ties to the earliest.

**The rounds** (:func:`decide_rounds`). Sort each row's edges in preference order (similarity
descending, then ``dst`` ascending). Edges to *dropped* rows can never matter again and are
deleted; a row's **first live edge** is its first edge whose ``dst`` is not dropped. Then:

* round 0: a row with no edges to earlier rows is kept;
* each later round, every undecided row looks at its first live edge (state as of the start of
  the round): ``dst`` kept -> the row is dropped against it; ``dst`` undecided -> it waits; no
  live edge left -> it is kept.

Why this equals the sequential rule: by induction, every state a round reads is final and equal
to the sequential one. A row dropped against its first live edge's ``dst`` has only dropped rows
before that edge in preference order, so the sequential rule, which skips dropped rows and picks
the first kept one in that order, picks the same row; a row whose live edges are all gone has
only dropped earlier neighbours, and the sequential rule keeps it. Every round decides at least
the smallest undecided row (all its earlier neighbours are decided), so at most ``n`` rounds.
This is sharper than "wait until every earlier neighbour is decided" (``sharp=False``): a less
similar neighbour still undecided does not block a row whose best candidate is already kept.

**The join form.** Two tables partitioned by row with the same partitioner: ``E(src, dst, rank,
edge)`` by ``src`` and ``S(row, state, target, sim, head)`` by ``row``, ``head`` being the row's
first live edge. A round is (1) ``delta JOIN E ON E.dst = delta.row``, ``delta`` the rows
decided in the previous round (the only data shuffled: hashed on ``dst`` to the edge
partitions); it finds the rows whose ``head`` points at a row of ``delta`` (no other row can
change: its best candidate is still undecided); (2) local to each such row's partition: move
``head`` past the edges to dropped rows, then decide as above (a group-by-first over the edges
in ``(-rank, dst)`` order), giving the next ``delta``. Every edge is joined once (when its
``dst`` is decided) and passed over at most once, so a whole run touches each edge a bounded
number of times, whatever the number of rounds. Here the same steps run vectorised on one edge
table (an index of the edges by ``dst`` is the join, positions into the sorted edges the
heads), and the partitions can later run on workers round by round.

**The remainder.** The rounds are the length of the longest dependency path, not a constant:
the kept rows are the lexicographically first maximal independent set of the similarity graph,
a problem with no general parallel shortcut. A chain (each row similar to the previous one only)
takes ``n`` rounds. ``max_rounds`` (and ``finish_at``) stop the rounds; the undecided rows left
are then decided by the sequential rule in one process, over the remaining (small) subgraph.

**Exact copies** (:func:`exact_groups`, :func:`expand`). Rows with the same normalised text
are one group: its representative is its first row and the graph is built over groups, never
member-member pairs (a paragraph copied 100,000 times is one row). :func:`expand` maps the
decision on groups back to every row exactly as the sequential rule over all rows decides.

>>> d = decide_sequential(4, np.array([1, 2, 3]), np.array([0, 1, 1]), np.array([0.9, 0.9, 0.8]))
>>> d.target.tolist()  # 1 is dropped against 0; 2 and 3 have only the dropped 1 before them
[-1, 0, -1, -1]
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import unique_ints
from .canonical import choose
from .errors import InputError

UNDECIDED, KEPT, DROPPED = 0, 1, 2  # row states (int8)
MAX_ROUNDS = 64  # rounds before the undecided remainder is finished in one process

_window: Any
_pairs: Any
try:  # the sequential rule's loop in C (see decide_sequential), the exact groups' table
    _window = importlib.import_module("dedup._window")
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: Python
    _window = _pairs = None

__all__ = ["Decision", "ExactGroups", "Rounds", "decide_rounds", "decide_sequential",
           "exact_groups", "expand", "index_ranges"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Per row: ``target`` (int64) is -1 when the row is kept, else the kept earlier row it is
    dropped against; ``sim`` (float64) the similarity to that row, NaN when kept."""

    target: np.ndarray
    sim: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        """Boolean mask of the kept rows."""
        out: np.ndarray = self.target < 0
        return out

    def same(self, other: Decision) -> bool:
        """True when both decisions agree on every row (targets and similarities)."""
        return bool(np.array_equal(self.target, other.target)
                    and np.array_equal(self.sim, other.sim, equal_nan=True))


@dataclass(frozen=True, slots=True)
class Rounds:
    """How :func:`decide_rounds` got there: ``count`` rounds after round 0, the rows decided in
    each (round 0 first), and the ``remainder`` rows finished by the sequential rule."""

    count: int
    decided: tuple[int, ...]
    remainder: int


@dataclass(frozen=True, slots=True)
class ExactGroups:
    """Rows with the same exact key: ``rep`` (int64, ascending) is each group's first row,
    ``group`` (int64, per row) the group of every row. Groups are numbered in first-come order,
    so a graph over groups has the same "earlier" as the graph over rows."""

    rep: np.ndarray
    group: np.ndarray


def _edges(n: int, src: np.ndarray, dst: np.ndarray, sim: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edge arrays as int64, int64, float64, checked: ``0 <= dst < src < n``, finite sims."""
    s, d, w = (np.asarray(src), np.asarray(dst), np.asarray(sim, dtype=np.float64))
    if s.ndim != 1 or s.shape != d.shape or s.shape != w.shape:
        raise InputError(f"edge arrays must be 1-D and of one length, got {s.shape}, {d.shape} "
                         f"and {w.shape}", "pass src, dst and sim with one entry per edge")
    if len(s) and not (np.issubdtype(s.dtype, np.integer) and np.issubdtype(d.dtype, np.integer)):
        raise InputError(f"edge rows must be integers, got {s.dtype} and {d.dtype}",
                         "pass src and dst as int64 row numbers")
    s, d = s.astype(np.int64, copy=False), d.astype(np.int64, copy=False)
    if n < 0:
        raise InputError(f"the number of rows must be >= 0, got {n}")
    bad = (d < 0) | (d >= s) | (s >= n)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"edge {i} ({int(s[i])} -> {int(d[i])}) is not 0 <= dst < src < {n}",
                         "every edge points from a row to an earlier row of the same graph")
    if not np.isfinite(w).all():
        raise InputError("edge similarities must be finite", "drop or re-verify NaN pairs")
    return s, d, w


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """Integer ranks, equal exactly when the values are equal (larger value, larger rank)."""
    inverse = np.unique(values, return_inverse=True)[1]
    out: np.ndarray = inverse.reshape(-1).astype(np.int64, copy=False)
    return out


def decide_sequential(n: int, src: np.ndarray, dst: np.ndarray, sim: np.ndarray,
                      compiled: bool = True) -> Decision:
    """The reference: rows in order, each dropped against its most similar kept earlier
    neighbour (ties: the earliest, :func:`.canonical.choose`), else kept. A loop per edge:
    ``compiled``, in the kernel (``dedup._window.first_come``) when it is built; else in
    Python, below."""
    s, d, w = _edges(n, src, dst, sim)
    if compiled and _window is not None:
        target = np.empty(n, dtype=np.int64)
        tsim = np.empty(n, dtype=np.float64)
        _window.first_come(np.ascontiguousarray(s), np.ascontiguousarray(d),
                           np.ascontiguousarray(w), target, tsim)
        return Decision(target, tsim)
    order = np.argsort(s, kind="stable")
    bounds = np.searchsorted(s[order], np.arange(n + 1)).tolist()
    dl, wl = d[order].tolist(), w[order].tolist()
    kept = [True] * n
    target = np.full(n, -1, dtype=np.int64)
    tsim = np.full(n, np.nan)
    for r in range(n):
        best = choose((dl[j], wl[j]) for j in range(bounds[r], bounds[r + 1]) if kept[dl[j]])
        if best is not None:
            kept[r] = False
            target[r], tsim[r] = best
    return Decision(target, tsim)


def decide_rounds(n: int, src: np.ndarray, dst: np.ndarray, sim: np.ndarray, *,
                  max_rounds: int = MAX_ROUNDS, finish_at: int = 0, sharp: bool = True
                  ) -> tuple[Decision, Rounds]:
    """The decision of :func:`decide_sequential`, in rounds of vectorised joins (module doc).

    Rounds stop after ``max_rounds`` or once at most ``finish_at`` rows are undecided; those
    rows are finished by the sequential rule over the edges left (one pass in one process).
    ``sharp=False`` waits for all earlier neighbours instead (the same result, more rounds).

    >>> d, r = decide_rounds(3, np.array([1, 2]), np.array([0, 1]), np.array([1.0, 1.0]))
    >>> d.target.tolist(), r.count, r.decided
    ([-1, 0, -1], 2, (1, 1, 1))
    """
    if max_rounds < 0 or finish_at < 0:
        raise InputError(f"max_rounds and finish_at must be >= 0, got {max_rounds} and "
                         f"{finish_at}")
    s, d, w = _edges(n, src, dst, sim)
    rank = _dense_rank(w)
    order = np.lexsort((d, -rank, s))  # by row, then preference: most similar, then earliest
    s, d, e = s[order], d[order], order
    bounds = np.searchsorted(s, np.arange(n + 1))
    head, end = bounds[:-1].copy(), bounds[1:]  # each row's first edge not yet passed over
    incoming = np.argsort(d, kind="stable")  # the join's index: edges by dst
    in_bounds = np.searchsorted(d[incoming], np.arange(n + 1))
    pending = end - head  # plain rule: edges to rows not yet decided
    state = np.zeros(n, dtype=np.int8)
    target = np.full(n, -1, dtype=np.int64)
    tsim = np.full(n, np.nan)
    delta = np.flatnonzero(end == head)  # round 0: no earlier neighbour at all
    state[delta] = KEPT
    decided = [len(delta)]
    undecided = n - len(delta)
    count = 0
    while undecided > finish_at and count < max_rounds:
        count += 1
        # the join: edges into the rows decided last round, by dst; their rows may move
        j = incoming[index_ranges(in_bounds[delta], in_bounds[delta + 1])]
        j = j[state[s[j]] == UNDECIDED]
        if sharp:  # only rows whose first candidate was decided
            rows = s[j[head[s[j]] == j]]
        else:  # rows whose last undecided neighbour was decided
            np.subtract.at(pending, s[j], 1)
            rows = unique_ints(s[j])
            rows = rows[pending[rows] == 0]
        at = _advance(head[rows], end[rows], d, state)
        head[rows] = at
        alone = at == end[rows]
        first = state[d[np.minimum(at, len(d) - 1)]] if len(d) else state[:0]
        drop = ~alone & (first == KEPT)
        kept, dropped = rows[alone], rows[drop]
        state[kept] = KEPT  # written after every read: the round saw its start's states
        state[dropped] = DROPPED
        target[dropped] = d[at[drop]]
        tsim[dropped] = w[e[at[drop]]]
        delta = np.concatenate((kept, dropped))
        decided.append(len(delta))
        undecided -= len(delta)
    if undecided:
        rows = np.flatnonzero(state == UNDECIDED)
        left = index_ranges(head[rows], end[rows])
        _finish(state, target, tsim, s[left], d[left], w[e[left]])
    return Decision(target, tsim), Rounds(count, tuple(decided), undecided)


def index_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenated index ranges ``starts[i]:stops[i]``, without a loop."""
    lengths = stops - starts
    total = int(lengths.sum())
    if not total:
        return np.empty(0, dtype=np.int64)
    shift = starts - (np.cumsum(lengths) - lengths)
    out: np.ndarray = np.repeat(shift, lengths) + np.arange(total)
    return out


def _advance(at: np.ndarray, end: np.ndarray, d: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Each position moved past the edges whose dst is dropped (they never matter again), to
    the first live edge or ``end``. Every edge is passed over once in a whole run."""
    at = at.copy()
    moving = np.arange(len(at))
    while len(moving):
        moving = moving[at[moving] < end[moving]]
        moving = moving[state[d[at[moving]]] == DROPPED]
        at[moving] += 1
    return at


def _finish(state: np.ndarray, target: np.ndarray, tsim: np.ndarray, s: np.ndarray,
            d: np.ndarray, w: np.ndarray) -> None:
    """The sequential rule over the edges left (sorted by row, then preference): each
    undecided row in order takes its first edge to a kept row, else is kept."""
    st = state.tolist()
    sl, dl, wl = s.tolist(), d.tolist(), w.tolist()
    i, m = 0, len(sl)
    while i < m:
        r = sl[i]
        chosen = -1
        while i < m and sl[i] == r:
            if chosen < 0 and st[dl[i]] == KEPT:
                chosen = i
            i += 1
        if chosen < 0:
            st[r] = KEPT
        else:
            st[r] = DROPPED
            target[r], tsim[r] = dl[chosen], wl[chosen]
    state[:] = st  # every row left undecided has an edge left, so the loop decided it


def exact_groups(keys: np.ndarray, compiled: bool = True) -> ExactGroups:
    """Collapse rows with the same exact key (uint64 hashes of the normalised text, rows in
    first-come order) into groups: no pair of members is ever formed. ``compiled``: one pass
    over a hash table (``dedup._pairs.first_groups``) for uint64 keys when it is built; the
    numpy below (a sort) is the reference.

    >>> g = exact_groups(np.array([7, 5, 7, 9, 5], dtype=np.uint64))
    >>> g.rep.tolist(), g.group.tolist()
    ([0, 1, 3], [0, 1, 0, 2, 1])
    """
    k = np.asarray(keys)
    if k.ndim != 1 or (len(k) and not np.issubdtype(k.dtype, np.integer)):
        raise InputError(f"exact keys must be a 1-D integer array, got {k.dtype} {k.shape}",
                         "pass one uint64 hash of the normalised text per row")
    if compiled and _pairs is not None and k.dtype == np.uint64:
        rep = np.empty(len(k), dtype=np.int64)
        group = np.empty(len(k), dtype=np.int64)
        count = _pairs.first_groups(np.ascontiguousarray(k), rep, group)
        return ExactGroups(rep[:count], group)
    _, first, inverse = np.unique(k, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    renumber = np.empty_like(by_first)
    renumber[by_first] = np.arange(len(by_first))
    return ExactGroups(first[by_first].astype(np.int64),
                       renumber[inverse.reshape(-1)].astype(np.int64))


def expand(groups: ExactGroups, decision: Decision, src: np.ndarray, dst: np.ndarray,
           sim: np.ndarray) -> Decision:
    """The decision on groups (``decision``, over the group graph ``src``/``dst``/``sim`` with
    group numbers) mapped to every row, equal to the sequential rule over the expanded graph:
    each member pair of adjacent groups an edge, members of one group similar at 1.0.

    * a representative: as its group was decided (its earlier kept neighbours are the kept
      representatives; a member after the representative is never kept);
    * a later member of a kept group: dropped against the representative at 1.0 (no other kept
      row before it is that similar: it would have been dropped against the representative or
      the representative against it);
    * a later member ``m`` of a group dropped against ``X``: dropped against the best of ``X``
      and the kept representatives ``b`` with ``rep < b < m`` that have an edge to the group
      (kept after the representative was dropped), most similar then earliest: a running best
      over those candidates in row order, read at each member by one search.

    Needs every edge of the group graph (the ones into dropped groups from kept ones); the
    similarities must be at most 1.0, the similarity of identical texts.
    """
    g, n = len(groups.rep), len(groups.group)
    if decision.target.shape != (g,):
        raise InputError(f"the decision is over {decision.target.shape[0]} rows, the groups "
                         f"are {g}", "decide the group graph, then expand it")
    s, d, w = _edges(g, src, dst, sim)
    if len(w) and w.max() > 1.0:
        raise InputError("similarities above 1.0 cannot be Jaccard similarities",
                         "pass exact Jaccard similarities of the groups' texts")
    rep, grp, gt = groups.rep, groups.group, decision.target
    target = np.full(n, -1, dtype=np.int64)
    tsim = np.full(n, np.nan)
    dropped_g = gt >= 0
    reps = rep[dropped_g]
    target[reps] = rep[gt[dropped_g]]
    tsim[reps] = decision.sim[dropped_g]
    member = rep[grp] != np.arange(n)
    of_kept = member & ~dropped_g[grp]
    target[of_kept] = rep[grp[of_kept]]
    tsim[of_kept] = 1.0
    members = np.flatnonzero(member & dropped_g[grp])
    if not len(members):
        return Decision(target, tsim)
    # candidates per dropped group: its target X first, then kept groups with an edge into it
    xa = np.flatnonzero(dropped_g)
    into = dropped_g[d] & ~dropped_g[s]
    cand_g = np.concatenate((xa, d[into]))
    cand_row = np.concatenate((rep[gt[xa]], rep[s[into]]))
    cand_sim = np.concatenate((decision.sim[xa], w[into]))
    order = np.lexsort((cand_row, cand_g))
    cand_g, cand_row, cand_sim = cand_g[order], cand_row[order], cand_sim[order]
    rank = _dense_rank(cand_sim)
    # running best per group: the group number dominates the key, so the running maximum
    # restarts at each group; it moves only on a strictly more similar candidate (ties: earliest)
    best = np.maximum.accumulate(cand_g * (int(rank.max()) + 1) + rank)
    moved = np.concatenate(([True], best[1:] != best[:-1]))
    setter = np.maximum.accumulate(np.where(moved, np.arange(len(best)), 0))
    position = cand_g * (n + 1) + cand_row  # ascending: sorted by group, then row
    last = np.searchsorted(position, grp[members] * (n + 1) + members) - 1  # last row < member
    pick = setter[last]
    target[members] = cand_row[pick]
    tsim[members] = cand_sim[pick]
    return Decision(target, tsim)
