"""Near-duplicates across documents: paragraphs against every earlier document, and documents.

Runs after the in-document stage, on each document's remaining content, against the
:class:`~dedup.index.CorpusIndex` of everything kept before it (in this run and, with
``--index``, in earlier runs):

1. **Long paragraphs** (``shingle.min_words`` tokens or more): the signatures the in-document
   stage computed are cut into ``corpus.bands`` x ``corpus.rows`` band keys and looked up; every
   candidate is verified with the exact Jaccard similarity of the shingle sets (read from the
   index's store) at ``lsh.threshold``. The most similar kept paragraph wins, then the earliest.
2. **Short lines** (headings, bylines, short captions) are never dropped on their own: a
   heading such as "Key quotes" recurs in unrelated articles. A short line goes only when it
   continues a run of cross-document drops: a neighbouring content line was dropped against
   document D and the short line has the same normalised text as a kept line of D.
3. **Documents**: the content tokens matched against each earlier cluster estimate the Jaccard
   similarity of the two documents' content, ``matched / (tokens + cluster_tokens - matched)``;
   at ``corpus.document_threshold`` or more the document joins that cluster (the cluster is
   named after its first document). ``corpus.documents = "drop"`` then drops the document.

Kept paragraphs are added to the index after their document is decided, so every drop points
at a kept copy (keep policy ``first``; no chains).

:class:`CorpusDeduper` decides one document after the other. A run's corpus stage is
:class:`dedup.staged.StagedDeduper`, which gives the same verdicts, clusters and index a window
of documents at a time, in rounds, and falls back to this class for keep policy ``longest`` and
crowded windows; the tests keep this class as its reference.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from .arrays import unique_ints
from .batching import BATCH, batches
from .canonical import choose
from .config import Config
from .index import CorpusIndex
from .lsh import band_keys
from .shingle import _hash_joined, fmix64
from .signature import RowsOf, Shingles, SketchCache, shingle_sets32
from .types import DROP, CorpusKeys, DocCluster, Document, Match, Paragraph, Verdict

MARKS = 4096  # recent documents whose index watermark is kept (more than ever in flight)
REASON = "duplicate:cross-doc"
DOCUMENT = "duplicate:document"
_HI = np.uint64(32)

_pairs: Any
try:  # the candidate kernels, built by the package's own build (see similarities)
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: numpy
    _pairs = None


@dataclass(slots=True)
class _Hit:
    """A verified match: the index row, its document ordinal and line, the similarity."""

    row: int
    doc: int
    line: int
    sim: float


@dataclass(slots=True)
class _Found:
    """A document's candidates from the look-up of its batch, verified: the distinct
    (paragraph, row) pairs and their similarities, and the short-line look-ups for the
    documents of the pairs that passed (``(line, document)`` -> rows; see ``_grow_runs``)."""

    paras: list[int]
    rows: list[int]
    sims: list[float]
    exact: dict[tuple[int, int], list[int]]
    asked: set[int]


def _key_hashes(paras: list[Paragraph], seed: int) -> np.ndarray:
    """64-bit hashes of the normalised keys (keys hold no NUL: tokens are letters and digits)."""
    if not paras:
        return np.empty(0, dtype=np.uint64)
    return _hash_joined("\x00".join(p.key for p in paras), seed + 0x5EED)


RECORD_CACHE = 1 << 15  # rows whose record stays in memory (a few MB)


def similarities(mine: list[np.ndarray], stored: list[np.ndarray], compiled: bool = True
                 ) -> np.ndarray:
    """Exact Jaccard similarity of every pair ``(mine[i], stored[i])`` of sorted unique 32-bit
    shingle sets, all pairs at once (the value :func:`.shingle.jaccard` gives each pair).

    ``compiled``: the shared shingles counted by one merge per pair (``dedup._pairs``) when it
    is built and the sets are uint32 arrays in lists; else, the reference: each set is tagged
    with its pair number in the high 32 bits, so all ``mine`` values form one sorted array and
    all ``stored`` values another, and one search of the first in the second finds every
    shared shingle.
    """
    n = len(mine)
    la = np.fromiter(map(len, mine), dtype=np.int64, count=n)
    lb = np.fromiter(map(len, stored), dtype=np.int64, count=n)
    inter = np.zeros(n, dtype=np.int64)
    if n and la.any() and lb.any():
        done = False
        if compiled and _pairs is not None and type(mine) is list and type(stored) is list:
            try:
                _pairs.intersections(mine, stored, inter)
                done = True
            except TypeError:  # a set that is not uint32: the reference below
                pass
        if not done:
            tag = np.arange(n, dtype=np.uint64) << _HI
            a = np.concatenate(mine).astype(np.uint64) | np.repeat(tag, la)
            b = np.concatenate(stored).astype(np.uint64) | np.repeat(tag, lb)
            pos = np.minimum(np.searchsorted(b, a), len(b) - 1)
            inter = np.bincount(np.repeat(np.arange(n), la)[b[pos] == a], minlength=n)
    union = la + lb - inter
    out: np.ndarray = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return out


class _Drop(Protocol):
    doc: int


H = TypeVar("H", bound=_Drop)


def grow_runs(hits: dict[int, H], short_hash: dict[int, int],
              holds: Callable[[int, int], H | None]) -> None:
    """Grow runs of drops into the short lines beside them, in waves (see
    ``CorpusDeduper._grow_runs``): a short line next to a drop against document D goes when
    ``holds(line, D)`` finds D's kept copy of it; the left neighbour's document is asked first,
    and each wave reads the drops as they were when it started."""
    # the short lines beside a drop (a document has fewer short lines than drops, mostly)
    pending = sorted(j for j in short_hash if j not in hits and (j - 1 in hits or j + 1 in hits))
    while pending:
        wave = [(k, [nb.doc for nb in (hits.get(k - 1), hits.get(k + 1)) if nb is not None])
                for k in pending]  # asked before the wave adds anything
        grown = []
        for k, neighbours in wave:
            for d in neighbours:
                hit = holds(k, d)
                if hit is not None:
                    hits[k] = hit
                    grown.append(k)
                    break
        pending = sorted({j for k in grown for j in (k - 1, k + 1)
                          if j in short_hash and j not in hits})


def best_cluster(hits: dict[int, H], tokens: Sequence[int], cluster_of: Callable[[int], int],
                 tokens_of: Callable[[int], int], threshold: float) -> tuple[float, int] | None:
    """The cluster a document joins, as ``(similarity, cluster)``, or None: the content tokens
    of its drops (``hits``: content position -> drop) counted per cluster of the documents they
    point at, ``matched / (tokens + cluster_tokens - matched)``, the most similar at
    ``threshold`` or more, ties to the earliest cluster."""
    total = sum(tokens)
    per_doc: dict[int, int] = defaultdict(int)  # the drops point at a few documents
    for k, hit in hits.items():
        per_doc[hit.doc] += tokens[k]
    matched: dict[int, int] = defaultdict(int)
    for d, m in per_doc.items():
        matched[cluster_of(d)] += m
    best: tuple[float, int] | None = None
    for cl in sorted(matched):
        m = matched[cl]
        sim = m / max(total + tokens_of(cl) - m, 1)
        if best is None or sim > best[0]:
            best = (sim, cl)
    return best if best is not None and best[0] >= threshold else None


_DOC_MULT = 0x9E3779B97F4A7C15


def _doc_key(line_hash: int, doc: int) -> int:
    """The 32-bit exact-table key of a short line in one document."""
    return ((line_hash ^ (doc * _DOC_MULT)) & 0xFFFFFFFFFFFFFFFF) >> 32


def _doc_keys(hashes: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """:func:`_doc_key` of every ``(hashes[i], docs[i])`` (uint64 and int64 arrays)."""
    with np.errstate(over="ignore"):
        out: np.ndarray = (hashes ^ (docs.astype(np.uint64) * np.uint64(_DOC_MULT))
                           ) >> np.uint64(32)
    return out


_GROUP_K = np.uint64(0x9E3779B97F4A7C15)


def group_keys(sets: Sequence[np.ndarray], keys32: np.ndarray, compiled: bool = True
               ) -> np.ndarray:
    """One 64-bit key per row, equal for rows with equal shingle sets (uint32) and band keys:
    rows with the same key have the same similarity to every other row and the same
    candidates. A chain of MurmurHash3's finaliser over the row's sizes, set values and band
    keys (``h = fmix64((h ^ value) + K)``); 64 bits, so two different rows of a window share a
    key with odds of about ``rows**2 / 2**65``. ``compiled``: the chain in C
    (``dedup._pairs.group_keys``) when it is built; else numpy, all rows a value at a time."""
    if len(sets) != len(keys32):
        raise ValueError(f"group_keys: {len(sets)} sets but {len(keys32)} rows of band keys")
    n = len(sets)
    if not n:
        return np.empty(0, dtype=np.uint64)
    keys = np.ascontiguousarray(keys32, dtype=np.uint64).reshape(n, -1)
    rows = [np.ascontiguousarray(s, dtype=np.uint32) for s in sets]
    out = np.empty(n, dtype=np.uint64)
    if compiled and _pairs is not None:
        _pairs.group_keys(rows, keys, out)
        return out
    sizes = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    flat = np.concatenate(rows) if n else np.empty(0, dtype=np.uint32)
    starts = np.cumsum(sizes) - sizes
    with np.errstate(over="ignore"):
        h = fmix64(sizes.astype(np.uint64) * _GROUP_K ^ np.uint64(keys.shape[1]))
        for j in range(int(sizes.max(initial=0))):
            at = np.flatnonzero(sizes > j)
            h[at] = fmix64((h[at] ^ flat[starts[at] + j].astype(np.uint64)) + _GROUP_K)
        for j in range(keys.shape[1]):
            h = fmix64((h ^ keys[:, j]) + _GROUP_K)
    out[:] = h
    return out


def corpus_keys(doc: Document, cfg: Config) -> CorpusKeys:
    """Everything of ``doc`` the corpus stage needs that does not depend on the index."""
    return corpus_keys_batch([doc], cfg)[0]


def corpus_keys_batch(docs: Sequence[Document], cfg: Config, cache: SketchCache | None = None
                      ) -> list[CorpusKeys]:
    """:func:`corpus_keys` of several documents: one sort of all their shingle hashes, one
    band-key pass and one key hash for all of them (``cache``: the sets of recently seen
    paragraphs). Every value is per paragraph, so the batch changes nothing."""
    contents = [[p for p in doc.paragraphs if p.verdict is None and p.tokens]  # kept so far
                for doc in docs]
    longs: list[list[int]] = []
    rows: list[int] = []  # the batch row of every long content paragraph, document after document
    paras: list[Paragraph] = []  # ... and the paragraph
    sources: list[Shingles] = []  # ... and where its shingle hashes are (the batch's, by row)
    source_rows: list[int] = []
    sigs = []
    base = 0
    for doc, content in zip(docs, contents, strict=True):
        sk = doc.sketch
        if sk is None:
            longs.append([])
            continue
        row_of = {int(ix): base + i for i, ix in enumerate(sk.index.tolist())}
        mine = [k for k, p in enumerate(content) if p.index in row_of]
        longs.append(mine)
        rows.extend(row_of[content[k].index] for k in mine)
        paras.extend(content[k] for k in mine)
        sources.extend([sk.shingles] * len(mine))
        source_rows.extend(sk.first + row_of[content[k].index] - base for k in mine)
        sigs.append(sk.signatures)
        base += len(sk.index)
    row_sets: list[np.ndarray] = []
    keys32 = None
    if rows:
        # a row's shingles are read from the in-document stage's (hashed there only if needed)
        shingles = RowsOf(sources, source_rows)
        row_sets = (shingle_sets32(*shingles.rows(range(len(paras)))) if cache is None
                    else cache.sets32([p.key for p in paras], shingles,
                                      (cfg.shingle.size, cfg.shingle.seed, cfg.lsh.num_perm)))
        bands, nrows = cfg.corpus_bands()
        keys32 = band_keys(np.concatenate(sigs)[rows], bands, nrows) >> _HI
    shorts = []
    for content, mine in zip(contents, longs, strict=True):
        is_long = set(mine)
        shorts.append([k for k in range(len(content)) if k not in is_long])
    short_hashes = _key_hashes([content[k] for content, ks in zip(contents, shorts, strict=True)
                                for k in ks], cfg.shingle.seed).tolist()
    out = []
    at = short_at = 0
    for content, mine, ks in zip(contents, longs, shorts, strict=True):
        sets: dict[int, np.ndarray] = {}
        doc_keys = None
        if mine and keys32 is not None:
            sets = dict(zip(mine, row_sets[at:at + len(mine)], strict=True))
            doc_keys = keys32[at:at + len(mine)]
            at += len(mine)
        short_hash = dict(zip(ks, short_hashes[short_at:short_at + len(ks)], strict=True))
        short_at += len(ks)
        groups = None if doc_keys is None else group_keys(
            [sets[k] for k in mine], doc_keys)
        out.append(CorpusKeys([p.index for p in content], [len(p.tokens) for p in content],
                              mine, sets, doc_keys, short_hash, groups))
    return out


def add_corpus_keys(docs: Iterable[Document], cfg: Config, cache: SketchCache | None = None
                    ) -> Iterator[Document]:
    """Stage: :func:`corpus_keys` for every document, ``BATCH`` at a time (runs on the workers
    in parallel runs; ``cache``: see :class:`.signature.SketchCache`)."""
    for batch in batches(docs, BATCH):
        for doc, keys in zip(batch, corpus_keys_batch(batch, cfg, cache), strict=True):
            doc.corpus_keys = keys
            doc.sketch = None  # what the corpus stage needs is in the keys; nothing to ship back
        yield from batch


class CorpusDeduper:
    """The corpus stage: one instance per run, holding (not owning) the index."""

    def __init__(self, cfg: Config, index: CorpusIndex,
                 canonical: frozenset[int] = frozenset()) -> None:
        self.cfg = cfg
        self.index = index
        # Documents (by ordinal) already indexed as their cluster's canonical copy (keep policy
        # ``longest``): they are neither matched nor indexed again.
        self.canonical = canonical
        self._tokens: list[int] = []  # token counts of the current document's content
        # The index's (paragraphs, documents) before each recent document, by run ordinal: a
        # checkpoint saves the index as it was before a given document.
        self.marks: OrderedDict[int, tuple[int, int]] = OrderedDict()
        # Band keys of the rows the current batch added (see ``_prefetch``); None outside one.
        self._recent: dict[int, list[int]] | None = None
        self._recent_exact: dict[int, list[int]] | None = None  # the same for short lines
        self._batch_start = 0  # the index's documents before the current batch
        self._records: dict[int, tuple[int, int, np.ndarray]] = {}  # see _record

    def _mark(self, doc: Document) -> None:
        self.marks[doc.ordinal] = (self.index.paragraphs, self.index.documents)
        while len(self.marks) > MARKS:
            self.marks.popitem(last=False)

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        for batch in batches(docs, BATCH):
            found = self._prefetch(batch)
            try:
                for doc, doc_found in zip(batch, found, strict=True):
                    self._mark(doc)
                    if doc.ordinal in self.canonical:
                        doc.cluster = DocCluster(doc.id)
                    else:
                        self.process(doc, found=doc_found)
            finally:
                self._recent = self._recent_exact = None
            yield from batch

    def _prefetch(self, batch: list[Document]) -> list[_Found | None]:
        """The look-ups of a whole batch in one go, against the index as it stands before the
        batch: band keys, verification of the rows they find, and the short-line keys of the
        documents those rows verified in. The rows the batch itself adds are then found in
        ``_recent`` and ``_recent_exact`` (dicts of this batch's keys), so each document sees
        exactly the rows indexed before it, as with one look-up per document."""
        index = self.index
        self._recent, self._recent_exact = {}, {}
        self._batch_start = index.documents
        wanted = [i for i, d in enumerate(batch) if d.ordinal not in self.canonical
                  and d.corpus_keys is not None and d.corpus_keys.keys32 is not None]
        out: list[_Found | None] = [None] * len(batch)
        if not wanted or not len(index.bands):
            for i in wanted:
                out[i] = _Found([], [], [], {}, set())
            return out
        keys = [batch[i].corpus_keys.keys32.ravel() for i in wanted]  # type: ignore[union-attr]
        sizes = [len(k) for k in keys]
        q, rows = index.bands.lookup(np.concatenate(keys))
        starts = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        owner = np.searchsorted(starts, q, side="right") - 1
        order = np.argsort(owner, kind="stable")
        q, rows, owner = q[order], rows[order], owner[order]
        bounds = np.searchsorted(owner, np.arange(len(keys) + 1))
        pairs = [self._pairs(batch[i].corpus_keys,  # type: ignore[arg-type]
                             q[bounds[j]:bounds[j + 1]] - starts[j], rows[bounds[j]:bounds[j + 1]])
                 for j, i in enumerate(wanted)]
        sims = self._verify([batch[i].corpus_keys for i in wanted], pairs)  # type: ignore[misc]
        # Short-line keys: every short line of a document against each document it verified in.
        threshold = self.cfg.lsh.threshold
        asks: list[tuple[int, int, int]] = []  # (batch position, line, document)
        asked: list[set[int]] = []
        for j, i in enumerate(wanted):
            short = batch[i].corpus_keys.short_hash  # type: ignore[union-attr]
            docs = {self._record(row)[0] for row, sim in zip(pairs[j][1], sims[j], strict=True)
                    if sim >= threshold} if short else set()
            asked.append(docs)
            asks.extend((j, k, d) for k in short for d in sorted(docs))
        exact: list[dict[tuple[int, int], list[int]]] = [{} for _ in wanted]
        if asks and len(index.exact):
            held = self._held([(batch[wanted[j]].corpus_keys.short_hash[k], d)  # type: ignore[union-attr]
                               for j, k, d in asks])
            for (j, k, d), found_rows in zip(asks, held, strict=True):
                if found_rows:
                    exact[j][k, d] = found_rows
        for j, i in enumerate(wanted):
            out[i] = _Found(pairs[j][0], pairs[j][1], sims[j], exact[j], asked[j])
        return out

    def _pairs(self, keys: CorpusKeys, q: np.ndarray, cand: np.ndarray
               ) -> tuple[list[int], list[int]]:
        """The distinct (paragraph, row) pairs of a band look-up (``q``: positions in the
        document's flattened band keys), sorted by paragraph then row: each band of a paragraph
        usually finds the same rows."""
        bands = self.cfg.corpus_bands()[0]
        para = np.asarray(keys.longs, dtype=np.int64)[q // bands]
        pairs = unique_ints((para << 32) | cand.astype(np.int64))
        return (pairs >> 32).tolist(), (pairs & 0xFFFFFFFF).tolist()

    def _verify(self, keys: list[CorpusKeys], pairs: list[tuple[list[int], list[int]]]
                ) -> list[list[float]]:
        """The similarity of every pair of every document, in one pass (:func:`similarities`)."""
        sims = similarities(
            [k.sets[p] for k, (ps, _) in zip(keys, pairs, strict=True) for p in ps],
            [self._record(row)[2] for _, rows in pairs for row in rows]).tolist()
        out = []
        at = 0
        for ps, _ in pairs:
            out.append(sims[at:at + len(ps)])
            at += len(ps)
        return out

    def prime(self, docs: Iterable[Document]) -> Iterator[Document]:
        """Index documents as canonical copies first (keep policy ``longest``): nothing is
        matched or dropped, every content paragraph is indexed."""
        for doc in docs:
            self.process(doc, match=False)
            yield doc

    def process(self, doc: Document, match: bool = True,
                found: _Found | None = None) -> Document:
        """Match ``doc`` against the index (``found``: its candidates, looked up and verified for
        the whole batch), decide its drops and cluster, and index what it keeps."""
        cfg, index = self.cfg, self.index
        keys = doc.corpus_keys if doc.corpus_keys is not None else corpus_keys(doc, cfg)
        doc.corpus_keys = None  # used once; not kept with the result
        content = [doc.paragraphs[i] for i in keys.content]
        self._tokens = keys.tokens
        longs, sets, keys32, short_hash = keys.longs, keys.sets, keys.keys32, keys.short_hash
        hits: dict[int, _Hit] = {}
        if match and longs and (len(index.bands) or self._recent):
            assert keys32 is not None
            if found is None:  # not prefetched: this document's own look-up
                q, cand = index.bands.lookup(keys32.ravel())
                ks, rows = self._pairs(keys, q, cand)
                sims = self._verify([keys], [(ks, rows)])[0]
            else:
                ks, rows, sims = list(found.paras), list(found.rows), list(found.sims)
            if self._recent:  # rows this batch added: not in the batch's look-up
                flat = keys32.ravel().tolist()
                extra = [(qi, row) for qi, key in enumerate(flat)
                         for row in self._recent.get(key, ())]
                if extra:
                    more = self._pairs(keys, np.asarray([e[0] for e in extra], dtype=np.int64),
                                       np.asarray([e[1] for e in extra], dtype=np.uint64))
                    ks += more[0]
                    rows += more[1]
                    sims += self._verify([keys], [more])[0]
            scored: dict[int, list[tuple[int, float]]] = defaultdict(list)
            verified: dict[int, tuple[int, int]] = {}
            for k, row, sim in zip(ks, rows, sims, strict=True):
                if sim >= cfg.lsh.threshold:
                    verified[row] = self._record(row)[:2]
                    scored[k].append((row, sim))
            for k in sorted(scored):
                best = choose(scored[k])
                if best is not None:
                    d, line = verified[best[0]]
                    hits[k] = _Hit(best[0], d, line, best[1])
        if hits and short_hash and len(index.exact):
            self._grow_runs(content, hits, short_hash, found)
        cluster, cluster_ordinal = self._cluster(doc, content, hits)
        drop_doc = cluster.duplicate and cfg.corpus.documents == "drop"
        names: dict[int, str] = {}
        for k, hit in sorted(hits.items()):
            if hit.doc not in names:
                names[hit.doc] = index.doc_id(hit.doc)
            content[k].verdict = Verdict(DROP, REASON, round(hit.sim, 4),
                                         Match(names[hit.doc], hit.line),
                                         f"document cluster {cluster.id}")
        if drop_doc:
            for p in content:
                if p.verdict is None:
                    p.verdict = Verdict(DROP, DOCUMENT, round(cluster.similarity, 4),
                                        Match(cluster.id, 0),
                                        f"near-duplicate of document {cluster.id}")
        ordinal = self._insert(doc, [p.line for p in content], hits, longs, sets, keys32,
                               short_hash, cluster_ordinal, drop_doc)
        doc.cluster = DocCluster(cluster.id, cluster.duplicate, cluster.similarity,
                                 ordinal if cluster_ordinal is None else cluster_ordinal,
                                 sum(self._tokens))
        return doc

    def _record(self, row: int) -> tuple[int, int, np.ndarray]:
        """A row's document, line and shingle set, kept for the rows verified most recently:
        each copy of a syndicated article is verified against the same kept rows. The cache
        is bounded (``RECORD_CACHE`` rows) and rows never change, so it changes no result."""
        hit = self._records.get(row)
        if hit is None:
            if len(self._records) >= RECORD_CACHE:
                self._records.clear()
            d, line, stored = self.index.record(row)
            hit = self._records[row] = (d, line, stored)
        return hit

    def _held(self, asks: list[tuple[int, int]]) -> list[list[int]]:
        """For each ``(line hash, document)``, the exact-table rows of that document under the
        line's key, in table order (one look-up for all; the 32-bit key may collide across
        documents, so each row's document is checked)."""
        out: list[list[int]] = [[] for _ in asks]
        if not asks:
            return out
        hashes = np.fromiter((h for h, _ in asks), dtype=np.uint64, count=len(asks))
        docs = np.fromiter((d for _, d in asks), dtype=np.int64, count=len(asks))
        q, rows = self._held_rows(hashes, docs)
        for qi, row in zip(q.tolist(), rows.tolist(), strict=True):
            out[qi].append(row)
        return out

    def _held_rows(self, hashes: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_held` for asks given as arrays (``hashes`` uint64, ``docs`` int64): the
        pairs ``(ask, row)``, each ask's rows in table order."""
        q, cand = self.index.exact.lookup(_doc_keys(hashes, docs))
        mine = self.index.row_doc.data[cand].astype(np.int64) == docs[q]
        return q[mine], cand[mine]

    def _grow_runs(self, content: list[Paragraph], hits: dict[int, _Hit],
                   short_hash: dict[int, int], found: _Found | None = None) -> None:
        """Drop short lines that continue a run of cross-document drops (see module doc).

        The exact table is keyed by (line, document), so a look-up asks only "does document D
        hold this line?": a heading kept in ten thousand documents costs no more than a rare one.
        A run can only grow into documents the long paragraphs matched, so every short line is
        asked about each of them up front (for a batch, in its look-up: ``found``); the waves
        then only read the answers. In a wave a line takes its left neighbour's document before
        its right one's, and within a document its earliest copy: nothing depends on how the
        table is laid out.
        """
        index = self.index
        docs = sorted({hit.doc for hit in hits.values()})
        asks = [(k, d) for k in short_hash if k not in hits for d in docs]
        if not asks:
            return
        rows: dict[tuple[int, int], list[int]] = defaultdict(list)
        row_doc = index.row_doc.data
        missing = []
        for k, d in asks:
            if found is not None and d in found.asked:  # answered by the batch's look-up
                if (k, d) in found.exact:
                    rows[k, d] = found.exact[k, d]
            elif found is not None and d >= self._batch_start and self._recent_exact is not None:
                # a document of this batch: all its rows are this batch's
                mine = [r for r in self._recent_exact.get(_doc_key(short_hash[k], d), ())
                        if int(row_doc[r]) == d]
                if mine:
                    rows[k, d] = mine
            else:
                missing.append((k, d))
        if missing:
            held = self._held([(short_hash[k], d) for k, d in missing])
            for (k, d), found_rows in zip(missing, held, strict=True):
                if found_rows:
                    rows[k, d] = found_rows
        if not rows:
            return

        def holds(k: int, d: int) -> _Hit | None:
            """Document ``d``'s earliest kept copy of short line ``k``, if any."""
            for row in sorted(rows.get((k, d), ())):
                doc, line, payload = index.record(row)
                if payload.tolist() == [short_hash[k] & 0xFFFFFFFF, short_hash[k] >> 32]:
                    return _Hit(row, doc, line, 1.0)
            return None

        grow_runs(hits, short_hash, holds)

    def _cluster(self, doc: Document, content: list[Paragraph],
                 hits: dict[int, _Hit]) -> tuple[DocCluster, int | None]:
        """The document's cluster and the ordinal of the cluster's first document."""
        index = self.index
        cluster_of, doc_tokens = index.doc_cluster.data, index.doc_tokens.data
        best = best_cluster(hits, self._tokens, lambda d: int(cluster_of[d]),
                            lambda cl: int(doc_tokens[cl]), self.cfg.corpus.document_threshold)
        if best is not None:
            return DocCluster(index.doc_id(best[1]), True, round(best[0], 4)), best[1]
        return DocCluster(doc.id), None

    def _insert(self, doc: Document, lines: list[int], hits: dict[int, _Hit],
                longs: list[int], sets: dict[int, np.ndarray], keys32: np.ndarray | None,
                short_hash: dict[int, int], cluster: int | None, drop_doc: bool) -> int:
        """Register the document, index its kept paragraphs (``lines``: the content's line
        numbers); returns its index ordinal."""
        index = self.index
        ordinal = index.add_document(doc.id, sum(self._tokens), cluster)
        if drop_doc:
            return ordinal
        band_pos = [i for i, k in enumerate(longs) if k not in hits]
        band_rows = index.add_rows(ordinal, [lines[longs[i]] for i in band_pos],
                                   [sets[longs[i]] for i in band_pos])
        if band_rows:
            assert keys32 is not None
            keys = keys32[band_pos]
            index.bands.add(keys.ravel(), np.repeat(np.asarray(band_rows, dtype=np.uint64),
                                                    keys.shape[1]))
            if self._recent is not None:
                for row, row_keys in zip(band_rows, keys.tolist(), strict=True):
                    for key in row_keys:
                        self._recent.setdefault(key, []).append(row)
        shorts = [(k, h) for k, h in short_hash.items() if k not in hits]
        exact_rows = index.add_rows(
            ordinal, [lines[k] for k, _ in shorts],
            [np.array([h & 0xFFFFFFFF, h >> 32], dtype=np.uint32) for _, h in shorts])
        exact_keys = [_doc_key(h, ordinal) for _, h in shorts]
        if exact_rows:
            index.exact.add(np.asarray(exact_keys, dtype=np.uint64),
                            np.asarray(exact_rows, dtype=np.uint64))
            if self._recent_exact is not None:
                for row, key in zip(exact_rows, exact_keys, strict=True):
                    self._recent_exact.setdefault(key, []).append(row)
        return ordinal
