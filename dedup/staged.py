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
   groups; every pair verified by exact Jaccard (:func:`.crossdoc.similarities`);
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

import importlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config
from .crossdoc import (
    DOCUMENT,
    MARKS,
    REASON,
    CorpusDeduper,
    best_cluster,
    corpus_keys,
    group_keys,
    grow_runs,
    similarities,
)
from .decide import decide_rounds, exact_groups, index_ranges
from .index import CorpusIndex
from .types import DROP, CorpusKeys, DocCluster, Document, Match, Paragraph, Verdict, instances

WINDOW = 256  # documents decided together (at most MARKS, so checkpoints find their marks)
WINDOW_CHARS = 16 << 20  # ... or fewer, once their texts reach this many characters
CROWDED = 64  # groups under one band key beyond which a window goes to the reference
_U32 = 0xFFFFFFFF

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
    sets: tuple[np.ndarray, ...]  # its sorted unique 32-bit shingle set
    keys: np.ndarray  # uint64 (rows, bands): its 32-bit band keys
    groups: np.ndarray  # uint64: its exact-group key (crossdoc.group_keys)

    def __len__(self) -> int:
        return len(self.doc)


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
class CorpusOutcome:
    """What the corpus stage decided about one document, as plain values: ``drops`` holds
    ``(paragraph, reason, score, matched document, matched line, detail)`` for every content
    paragraph it dropped, in paragraph order; ``cluster`` the document's cluster. It pickles as
    tuples, so a window's outcomes can travel to where the documents are."""

    drops: tuple[DropRow, ...]
    cluster: DocCluster

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
    """A chunk's outcomes on their way to the worker that finishes it: pickled as plain tuples
    in one go (a slotted dataclass pickles field by field in Python, two per document), and
    made outcomes again on arrival."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_outcomes, ([None if o is None else
                             (o.drops, o.cluster.id, o.cluster.duplicate, o.cluster.similarity,
                              o.cluster.first, o.cluster.tokens) for o in self],))


def _outcomes(rows: list[tuple[Any, ...] | None]) -> Outcomes:
    return Outcomes(None if r is None else CorpusOutcome(r[0], DocCluster(*r[1:]))
                    for r in rows)


class Crowded(Exception):
    """A window whose candidate pairs would be quadratic (see the module doc)."""


def window_rows(keys: Sequence[CorpusKeys]) -> Rows:
    """The rows of a window from its documents' corpus keys."""
    doc: list[int] = []
    pos: list[int] = []
    para: list[int] = []
    start: list[int] = []
    sets: list[np.ndarray] = []
    band_rows: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    for j, ck in enumerate(keys):
        if not ck.longs or ck.keys32 is None:
            continue
        first = len(doc)
        mine = [ck.sets[k] for k in ck.longs]
        doc.extend([j] * len(mine))
        pos.extend(ck.longs)
        para.extend(ck.content[k] for k in ck.longs)
        start.extend([first] * len(mine))
        sets.extend(mine)
        band = np.asarray(ck.keys32, dtype=np.uint64).reshape(len(ck.longs), -1)
        band_rows.append(band)
        groups.append(ck.groups if ck.groups is not None else group_keys(mine, band))
    keys_arr = (np.concatenate(band_rows) if band_rows else np.empty((0, 0), dtype=np.uint64))
    return Rows(np.asarray(doc, dtype=np.int64), np.asarray(pos, dtype=np.int64),
                np.asarray(para, dtype=np.int64), np.asarray(start, dtype=np.int64),
                tuple(sets), keys_arr,
                np.concatenate(groups) if groups else np.empty(0, dtype=np.uint64))


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
        found = np.unique(np.frombuffer(raw, dtype=np.uint64)).astype(np.int64)
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
                record: Callable[[int], tuple[int, int, np.ndarray]],
                crowded: int = CROWDED) -> LongDecision:
    """Steps 2-4 of the module doc for one window (``record``: a row's record, cached)."""
    n = len(rows)
    threshold = cfg.lsh.threshold
    groups = exact_groups(rows.groups)
    rep = groups.rep
    g = len(rep)
    bands = rows.keys.shape[1] if n else 0
    rep_keys = rows.keys[rep] if n else rows.keys
    # candidates among the window's groups (all pairs of representatives, any documents)
    ws, wd = _bucket_pairs(rep_keys.ravel(), np.repeat(np.arange(g), bands), crowded)
    wsim = similarities([rows.sets[i] for i in rep[ws].tolist()],
                        [rows.sets[i] for i in rep[wd].tolist()])
    keep = wsim >= threshold
    ws, wd, wsim = ws[keep], wd[keep], wsim[keep]
    # candidates among the index's kept rows
    ps, pr, psim = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64),
                    np.empty(0, dtype=np.float64))
    if g and len(index.bands):
        q, found = index.bands.lookup(rep_keys.ravel())
        if len(q):
            pairs = np.unique(((q // bands).astype(np.int64) << 32) | found.astype(np.int64))
            ps, pr = pairs >> 32, pairs & _U32
            psim = similarities([rows.sets[i] for i in rep[ps].tolist()],
                                [record(r)[2] for r in pr.tolist()])
            keep = psim >= threshold
            ps, pr, psim = ps[keep], pr[keep], psim[keep]
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
        window: deque[Document] = deque()
        chars = 0
        for doc in docs:
            window.append(doc)
            chars += len(doc.text)
            if len(window) >= self.window or chars >= WINDOW_CHARS:
                yield from self._decided(window)
                chars = 0
        yield from self._decided(window)

    def _decided(self, window: deque[Document]) -> Iterator[tuple[Document, CorpusOutcome]]:
        """The window's documents decided, then handed on one by one (and let go of)."""
        outcomes = deque(self._window(list(window))) if window else deque()
        while window:
            yield window.popleft(), outcomes.popleft()

    def _window(self, docs: list[Document]) -> list[CorpusOutcome]:
        keys = [d.corpus_keys if d.corpus_keys is not None else corpus_keys(d, self.cfg)
                for d in docs]
        for doc in docs:
            doc.corpus_keys = None
        out: list[CorpusOutcome] = []
        while docs:
            docs, keys = self._decide(docs, keys, out)
        return out

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

    def _decide(self, docs: list[Document], keys: list[CorpusKeys], out: list[CorpusOutcome]
                ) -> tuple[list[Document], list[CorpusKeys]]:
        """Decide a window (module doc); returns the documents left to decide again (none,
        unless a document was dropped). With ``corpus.documents = "drop"`` a document that
        joins a cluster adds nothing to the index: when a later row of the window was dropped
        against one of its rows, the rest of the window is decided again without them (no
        other decision of the window can change: a row kept stays kept with fewer
        candidates, and every other drop's target is still there and still the best).
        Appends each decided document's outcome to ``out``."""
        cfg, index = self.cfg, self.index
        rows = window_rows(keys)
        try:
            long = decide_long(rows, index, cfg, self._record, self.crowded)
        except Crowded:
            self.crowded_windows += 1
            for doc, ck in zip(docs, keys, strict=True):
                self._mark(doc)
                out.append(self._reference(doc, ck))
            return [], []
        self.rounds.append(long.rounds)
        self.remainder += long.remainder
        p = long.prior
        base = index.documents  # the window's documents are indexed from here, in order
        # every row's target as (document ordinal, line), or (-1, -1) when it is kept
        prior = np.asarray([self._record(r)[:2] for r in long.prior_rows.tolist()],
                           dtype=np.int64).reshape(-1, 2)
        pd, pl = prior[:, 0], prior[:, 1]
        tdoc = np.full(len(rows), -1, dtype=np.int64)
        tline = np.full(len(rows), -1, dtype=np.int64)
        at = (long.target >= 0) & (long.target < p)
        tdoc[at], tline[at] = pd[long.target[at]], pl[long.target[at]]
        at = long.target >= p
        w = long.target[at] - p
        tdoc[at] = base + rows.doc[w]
        tline[at] = rows.para[w] + 1
        tdocs, tlines, sims = tdoc.tolist(), tline.tolist(), long.sim.tolist()
        wdoc = np.full(len(rows), -1, dtype=np.int64)  # the window document a row drops against
        wdoc[at] = rows.doc[w]
        drop_mode = cfg.corpus.documents == "drop"
        kept_short: dict[tuple[int, int], int] = {}  # (window document, hash) -> first line
        held = self._prior_shorts(keys, rows, long, pd)
        names: dict[int, str] = {}  # the ids of the documents the window's drops point at
        rounded: dict[float, float] = {}  # similarity -> as reported (exact copies: all 1.0)
        cluster_of: list[int] = []
        tokens_of: list[int] = []
        adds = _WindowAdds(index)
        row = 0
        for j, (doc, ck) in enumerate(zip(docs, keys, strict=True)):
            adds.mark(self.marks, doc.ordinal)
            paras = doc.paragraphs
            lines = ([paras[i].line for i in ck.content] if paras
                     else [i + 1 for i in ck.content])
            hits: dict[int, _Hit] = {}
            for k in ck.longs if ck.keys32 is not None else ():
                if tdocs[row] >= 0:
                    hits[k] = _Hit(tdocs[row], tlines[row], sims[row])
                row += 1
            tokens = ck.tokens
            if hits and ck.short_hash:
                self._runs(hits, ck.short_hash, base, kept_short, held)
            cl_id, duplicate, similarity, cl = self._doc_cluster(doc, hits, tokens, base,
                                                                 cluster_of, tokens_of, docs)
            detail = f"document cluster {cl_id}"
            content = ck.content
            drops: list[DropRow] = []
            for k, hit in sorted(hits.items()):
                d = hit.doc
                name = names.get(d)
                if name is None:
                    name = names[d] = index.doc_id(d) if d < base else docs[d - base].id
                sim = rounded.get(hit.sim)
                if sim is None:
                    sim = rounded[hit.sim] = round(hit.sim, 4)
                drops.append((content[k], REASON, sim, name, hit.line, detail))
            drop_doc = duplicate and drop_mode
            if drop_doc:
                drops.extend((ck.content[k], DOCUMENT, similarity, cl_id, 0,
                              f"near-duplicate of document {cl_id}")
                             for k in range(len(lines)) if k not in hits)
                drops.sort()
            total = sum(tokens)
            ordinal = adds.document(doc.id, total, cl)
            if not drop_doc:
                short_hash = ck.short_hash
                for k in adds.rows(ordinal, lines, hits, ck):  # the kept short lines
                    kept_short.setdefault((j, short_hash[k]), lines[k])
            cluster_of.append(ordinal if cl is None else cl)
            tokens_of.append(min(total, _U32))
            out.append(CorpusOutcome(tuple(drops), DocCluster(
                cl_id, duplicate, similarity, ordinal if cl is None else cl, total)))
            if drop_doc and bool((wdoc[row:] == j).any()):
                self.restarts += 1
                adds.write()
                return docs[j + 1:], keys[j + 1:]
        adds.write()
        return [], []

    def _prior_shorts(self, keys: Sequence[CorpusKeys], rows: Rows, long: LongDecision,
                      prior_doc: np.ndarray) -> dict[tuple[int, int], int | None]:
        """For every short line of the window and every earlier-window document its document's
        long paragraphs were dropped against, the first line of that document with the same
        text, or None: one look-up for the whole window (a run only grows into those).
        ``prior_doc``: the document of each index row the window touched."""
        if not len(self.index.exact) or not long.prior:
            return {}
        hit = (long.target >= 0) & (long.target < long.prior)
        # the distinct (window document, earlier document) pairs of the drops against the index
        pairs = np.unique((rows.doc[hit] << 32) | prior_doc[long.target[hit]])
        mine = pairs >> 32
        shorts = {j: np.fromiter(keys[j].short_hash.values(), dtype=np.uint64,
                                 count=len(keys[j].short_hash))
                  for j in np.unique(mine).tolist()}
        sizes = np.fromiter((len(shorts[j]) for j in mine.tolist()), dtype=np.int64,
                            count=len(mine))
        if not sizes.sum():
            return {}
        # every (short line hash, earlier document) asked about, once
        hashes = np.concatenate([shorts[j] for j in mine.tolist()])
        docs = np.repeat(pairs & _U32, sizes)
        order = np.lexsort((docs, hashes))
        hashes, docs = hashes[order], docs[order]
        first = np.r_[True, (hashes[1:] != hashes[:-1]) | (docs[1:] != docs[:-1])]
        hashes, docs = hashes[first], docs[first]
        out: dict[tuple[int, int], int | None] = dict.fromkeys(
            zip(hashes.tolist(), docs.tolist(), strict=True))
        q, found = self._held_rows(hashes, docs)
        if len(q):  # each ask's rows in row order: the first whose line is this one's
            at = np.lexsort((found, q))
            for qi, r in zip(q[at].tolist(), found[at].tolist(), strict=True):
                h, d = int(hashes[qi]), int(docs[qi])
                if out[h, d] is None:
                    _, line, payload = self.index.record(r)
                    if payload.tolist() == [h & _U32, h >> 32]:
                        out[h, d] = line
        return out

    def _runs(self, hits: dict[int, _Hit], short_hash: dict[int, int], base: int,
              kept_short: dict[tuple[int, int], int],
              held: dict[tuple[int, int], int | None]) -> None:
        """The reference's short-line runs (see ``CorpusDeduper._grow_runs``), answering "does
        document D hold this line?" from ``held`` (the window's look-up) for documents of
        earlier windows and from the window's own table for its documents."""

        def holds(k: int, d: int) -> _Hit | None:
            h = short_hash[k]
            line = kept_short.get((d - base, h)) if d >= base else held.get((h, d))
            return None if line is None else _Hit(d, line, 1.0)

        grow_runs(hits, short_hash, holds)

    def _doc_cluster(self, doc: Document, hits: dict[int, _Hit], tokens: list[int], base: int,
                     cluster_of: list[int], tokens_of: list[int], docs: list[Document]
                     ) -> tuple[str, bool, float, int | None]:
        """The reference's document cluster (``CorpusDeduper._cluster``) for a window."""
        index = self.index
        best = best_cluster(
            hits, tokens,
            lambda d: int(index.doc_cluster.data[d]) if d < base else cluster_of[d - base],
            lambda cl: int(index.doc_tokens.data[cl]) if cl < base else tokens_of[cl - base],
            self.cfg.corpus.document_threshold)
        if best is not None:
            cl = best[1]
            name = index.doc_id(cl) if cl < base else docs[cl - base].id
            return name, True, round(best[0], 4), cl
        return doc.id, False, 1.0, None


class _WindowAdds:
    """What a window's documents add to the index, written in one go once the window is
    decided (nothing in a window reads its own documents' entries from the index: they are
    answered from the window's tables). The same ordinals, rows, records and keys as the
    reference's insert document after document (``CorpusDeduper._insert``): per document, its
    kept long paragraphs, then its kept short lines."""

    def __init__(self, index: CorpusIndex) -> None:
        self.index = index
        self.documents = index.documents  # the next document's ordinal
        self.first_row = self.next_row = index.paragraphs
        self.ids: list[str] = []
        self.tokens: list[int] = []
        self.clusters: list[int] = []
        self.row_doc: list[int] = []
        self.row_line: list[int] = []
        self.sizes: list[int] = []
        self.payloads: list[np.ndarray] = []
        self.band_keys: list[np.ndarray] = []  # (rows, bands) per document with kept longs
        self.band_first: list[int] = []  # the first row of each block of band_keys
        self.short_hashes: list[int] = []  # the kept short lines' 64-bit key hashes
        self.exact_rows: list[int] = []  # ... and their rows

    def mark(self, marks: OrderedDict[int, tuple[int, int]], ordinal: int) -> None:
        """The index's (paragraphs, documents) before the document of run ordinal
        ``ordinal`` (``CorpusDeduper._mark``)."""
        marks[ordinal] = (self.next_row, self.documents)
        while len(marks) > MARKS:
            marks.popitem(last=False)

    def document(self, doc_id: str, tokens: int, cluster: int | None) -> int:
        ordinal = self.documents
        self.documents += 1
        self.ids.append(doc_id)
        self.tokens.append(tokens)
        self.clusters.append(ordinal if cluster is None else cluster)
        return ordinal

    def rows(self, ordinal: int, lines: list[int], hits: dict[int, _Hit], ck: CorpusKeys
             ) -> list[int]:
        """The kept paragraphs of document ``ordinal`` (``lines``: its content's lines);
        returns the content positions of its kept short lines."""
        if ck.keys32 is not None and ck.longs:
            kept = [i for i, k in enumerate(ck.longs) if k not in hits]
            if kept:
                sets = ck.sets
                for i in kept:
                    k = ck.longs[i]
                    payload = sets[k]
                    self.row_line.append(lines[k])
                    self.sizes.append(len(payload))
                    self.payloads.append(payload)
                self.row_doc.extend([ordinal] * len(kept))
                self.band_keys.append(ck.keys32[kept] if len(kept) < len(ck.longs)
                                      else ck.keys32)
                self.band_first.append(self.next_row)
                self.next_row += len(kept)
        shorts = [k for k in ck.short_hash if k not in hits]
        if shorts:
            short_hash = ck.short_hash
            self.short_hashes.extend(short_hash[k] for k in shorts)
            self.row_line.extend(lines[k] for k in shorts)
            self.row_doc.extend([ordinal] * len(shorts))
            self.sizes.extend([2] * len(shorts))
            self.exact_rows.extend(range(self.next_row, self.next_row + len(shorts)))
            self.next_row += len(shorts)
        return shorts

    def write(self) -> None:
        """Everything gathered into the index: documents, rows, band and exact keys."""
        index = self.index
        index.add_documents(self.ids, self.tokens, self.clusters)
        exact_rows = np.asarray(self.exact_rows, dtype=np.int64)
        if self.row_doc:
            row_doc = np.asarray(self.row_doc, dtype=np.int64)
            sizes = np.asarray(self.sizes, dtype=np.int64)
            ends = np.cumsum(sizes)
            flat = np.empty(int(ends[-1]), dtype=np.uint32)
            # a short line's payload is its 64-bit key hash as two uint32 (low, high); the
            # long paragraphs' shingle sets fill the rest, in row order
            short_at = (ends - sizes)[exact_rows - self.first_row]
            hashes = np.asarray(self.short_hashes, dtype=np.uint64)
            long_values = np.ones(len(flat), dtype=bool)
            long_values[short_at] = long_values[short_at + 1] = False
            if self.payloads:
                flat[long_values] = np.concatenate(self.payloads)
            flat[short_at] = hashes & np.uint64(_U32)
            flat[short_at + 1] = hashes >> np.uint64(32)
            first = index.add_rows_flat(row_doc, np.asarray(self.row_line, dtype=np.int64),
                                        sizes, flat)
            assert first == self.first_row
        if self.band_keys:
            keys = np.concatenate(self.band_keys)
            counts = np.fromiter((len(b) for b in self.band_keys), dtype=np.int64,
                                 count=len(self.band_keys))
            starts = np.repeat(np.asarray(self.band_first, dtype=np.int64), counts)
            within = np.arange(len(keys)) - np.repeat(np.cumsum(counts) - counts, counts)
            rows = (starts + within).astype(np.uint64)
            index.bands.add(keys.astype(np.uint64).ravel(), np.repeat(rows, keys.shape[1]))
        if self.exact_rows:
            # crossdoc._doc_key of every short line, modulo 2**64 as numpy's uint64 wraps
            docs = row_doc[exact_rows - self.first_row].astype(np.uint64)
            keys = (hashes ^ (docs * np.uint64(0x9E3779B97F4A7C15))) >> np.uint64(32)
            index.exact.add(keys, exact_rows.astype(np.uint64))


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


__all__ = ["CROWDED", "WINDOW", "CorpusOutcome", "Crowded", "LongDecision", "Outcomes", "Rows",
           "StagedDeduper", "corpus_deduper", "decide_long", "decision_rounds", "window_rows"]
