"""Near-duplicate paragraphs inside a document: MinHash/LSH candidates, verified, then runs.

Three kinds of evidence, applied to the document's content paragraphs (blank and boilerplate
lines are skipped, so a banner between two copies does not break a run):

1. **Exact**: equal normalised keys (any length).
2. **Near**: paragraphs of at least ``shingle.min_words`` tokens are MinHashed over word shingles
   (datasketch's permutations, computed for the whole document at once) and banded into LSH keys
   (:mod:`dedup.lsh`); every candidate is verified with the exact Jaccard similarity of the
   shingle sets before it counts.
3. **Runs**: a repeated block (the article body pasted twice, the second copy possibly cut short)
   is found as a run of consecutive paragraphs whose matches are consecutive too. Short lines
   (headings such as "Key quotes", one-word answers) are dropped only inside such a run, edited
   lines inside a run are matched by token similarity, and a run's last line may be a truncated
   prefix of its source.

Drop reasons: ``duplicate:exact``, ``duplicate:near``, ``duplicate:run``, ``duplicate:truncated``.
"""

from __future__ import annotations

import bisect
import importlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from .arrays import unique_ints
from .batching import BATCH, batches
from .canonical import choose
from .config import Config
from .decide import decide_sequential
from .lsh import band_keys, candidate_pair_arrays, crowded_groups, lsh_params
from .shingle import jaccard, pair_jaccards
from .signature import Shingles, SketchCache, signatures
from .types import DROP, Document, Match, Paragraph, Sketch, Verdict, instances

_pairs: Any
try:  # the batch's verification in C (see _pair_sims)
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: numpy
    _pairs = None

# More paragraphs of one document than this sharing a band key: the document's candidates are
# looked up among its kept paragraphs instead of formed as all pairs (see find_matches).
CROWDED = 64


@dataclass(slots=True)
class _Drop:
    src: int
    score: float
    reason: str


def _similarity(a: Paragraph, b: Paragraph, floor: float = 0.0) -> float:
    """difflib's ratio of the two token sequences, or 0.0 when one of its cheap upper bounds
    (the ``real_quick_ratio`` and ``quick_ratio`` of difflib: the shorter length, the shared
    tokens) is already below ``floor``: most neighbours of a repeated run are unrelated lines,
    and the full comparison costs ten times the bounds."""
    la, lb = len(a.tokens), len(b.tokens)
    if la and lb and floor > 0.0:
        if 2.0 * min(la, lb) / (la + lb) < floor:
            return 0.0
        if 2.0 * sum((Counter(a.tokens) & Counter(b.tokens)).values()) / (la + lb) < floor:
            return 0.0
    return SequenceMatcher(None, a.tokens, b.tokens, autojunk=False).ratio()


class _DocDeduper:
    """State for one document; positions are indices into the content paragraphs."""

    def __init__(self, doc: Document, cfg: Config) -> None:
        self.doc = doc
        self.cfg = cfg
        self.content = [p for p in doc.paragraphs if p.verdict is None]
        # what exact copies share: the normalised key (the text when it has none), per position
        self.texts = [p.key or p.text for p in self.content]
        self.exact: dict[int, int] = {}  # a repeated paragraph -> its first copy
        self.near: dict[int, tuple[int, float]] = {}
        self.drops: dict[int, _Drop] = {}

    def long_positions(self) -> list[int]:
        """Content positions of the paragraphs long enough to be MinHashed."""
        return [k for k, p in enumerate(self.content)
                if len(p.tokens) >= self.cfg.shingle.min_words]

    def find_matches(self, long_pos: list[int], sigs: np.ndarray,
                     decided: tuple[np.ndarray, np.ndarray] | None, keys: np.ndarray,
                     shingles: Shingles, first: int) -> None:
        """Exact and near matches; the long paragraphs' signatures and band ``keys`` come
        computed for a batch of documents (this document's long paragraphs are its rows
        ``first`` on; ``shingles``: the batch's shingle hashes, by row).

        ``decided``: the first-come rule over this document's verified LSH candidates, decided
        for the whole batch (:func:`dedup_batch`): per long paragraph, the long paragraph it is
        dropped against (its row among ``long_pos``) or -1, and the similarity. With
        ``decided=None`` (a crowded document, see :func:`~dedup.lsh.crowded_groups`), the
        candidates are found here in a table of the kept paragraphs' band ``keys`` as it
        grows: the same candidates, since only kept paragraphs are ever a source, in time
        linear in the paragraphs when most of them are dropped."""
        content = self.content
        self.doc.sketch = Sketch(np.asarray([content[k].index for k in long_pos], dtype=np.int64),
                                 sigs, shingles, first)
        # every repeated text's first position (a dict built from the end keeps the first)
        texts = self.texts
        first_of = {t: k for k, t in zip(range(len(texts) - 1, -1, -1), reversed(texts),
                                         strict=True)}
        self.exact = {k: f for k, f in enumerate(map(first_of.__getitem__, texts)) if f != k}
        if decided is not None:
            target, sim = decided
            dropped = np.flatnonzero(target >= 0)
            self.near = {long_pos[r]: (long_pos[t], s) for r, t, s in zip(
                dropped.tolist(), target[dropped].tolist(), sim[dropped].tolist(), strict=True)}
            return
        self._find_crowded(long_pos, keys, shingles, first)

    def _find_crowded(self, long_pos: list[int], keys: np.ndarray, shingles: Shingles,
                      first: int) -> None:
        """The near matches of a crowded document: each long paragraph in order against the
        kept ones sharing a band key (a table that grows with the kept paragraphs)."""
        sets: dict[int, np.ndarray] = {}

        def shingle_set(i: int) -> np.ndarray:  # only candidates ever need their exact set
            if i not in sets:
                sets[i] = unique_ints(shingles.rows([first + i])[0])
            return sets[i]

        table: dict[int, list[int]] = {}  # band key -> kept long paragraphs (rows)
        exact = self.exact
        threshold = self.cfg.lsh.threshold
        for i, k in enumerate(long_pos):  # in content order, as the sources are indexed
            if k in exact:
                continue
            mine = keys[i].tolist()
            cands = sorted({c for key in mine for c in table.get(key, ())})
            verified = ((long_pos[c], jaccard(shingle_set(i), shingle_set(c))) for c in cands)
            best = choose((c, s) for c, s in verified if s >= threshold)
            if best is not None:
                self.near[k] = best
            else:
                for key in mine:
                    table.setdefault(key, []).append(i)

    def decide(self) -> None:
        cfg = self.cfg
        for k, first_copy in self.exact.items():
            if len(self.content[k].tokens) >= cfg.shingle.min_exact_words:
                self.drops[k] = _Drop(first_copy, 1.0, "duplicate:exact")
        for k, (src, sim) in self.near.items():
            self.drops[k] = _Drop(src, sim, "duplicate:near")
        # Grow runs from the drops outwards: only neighbours of a drop can join a run.
        pending = sorted({j for k in self.drops for j in (k - 1, k + 1)})
        while pending:
            grown = [k for k in pending if 0 <= k < len(self.content) and k not in self.drops
                     and self._extend_run(k)]
            pending = sorted({j for k in grown for j in (k - 1, k + 1)})

    def same_text(self, a: int, b: int) -> bool:
        return self.texts[a] == self.texts[b]

    def repeats(self, long_pos: list[int]) -> list[bool]:
        """For each long paragraph, whether an earlier paragraph has its normalised text: it
        is an exact copy, matched without LSH (a paragraph repeated 10,000 times in a page
        would otherwise make 50 million candidate pairs)."""
        seen: set[str] = set()
        out = []
        texts = self.texts
        for k in long_pos:
            key = texts[k]
            out.append(key in seen)
            seen.add(key)
        return out

    def _extend_run(self, k: int) -> bool:
        """Drop paragraph ``k`` if it continues a repeated run on either side."""
        prev, nxt = self.drops.get(k - 1), self.drops.get(k + 1)
        anchors = [d.src + 1 for d in (prev,) if d] + [d.src - 1 for d in (nxt,) if d]
        for src in dict.fromkeys(anchors):
            if not 0 <= src < k:
                continue
            if k in self.exact and self.same_text(src, k):  # an exact copy of line k
                self.drops[k] = _Drop(src, 1.0, "duplicate:run")
                return True
            para, source = self.content[k], self.content[src]
            sim = _similarity(para, source, self.cfg.lsh.gap_similarity)
            if sim >= self.cfg.lsh.gap_similarity:
                self.drops[k] = _Drop(src, sim, "duplicate:run")
                return True
            if (prev and src == prev.src + 1 and len(para.tokens) >= 3
                    and source.key.startswith(para.key)):
                share = len(para.key) / max(len(source.key), 1)
                self.drops[k] = _Drop(src, share, "duplicate:truncated")
                return True
        return False

    def canonical(self, src: int) -> int:
        """Follow a source that was itself dropped back to the kept copy."""
        hops = 0
        while src in self.drops and hops < len(self.content):
            src = self.drops[src].src
            hops += 1
        return src

    def runs(self) -> dict[int, tuple[int, int]]:
        """Run length and first source line for every dropped paragraph that sits in a run."""
        out: dict[int, tuple[int, int]] = {}
        k = 0
        n = len(self.content)
        while k < n:
            if k not in self.drops:
                k += 1
                continue
            end = k
            while end + 1 in self.drops and self.drops[end + 1].src == self.drops[end].src + 1:
                end += 1
            if end > k:
                for j in range(k, end + 1):
                    out[j] = (end - k + 1, k)
            k = end + 1
        return out

    def apply(self) -> None:
        if not self.drops:
            return
        runs = self.runs()
        rows = []
        doc_id = self.doc.id
        for k, d in self.drops.items():
            src = self.content[self.canonical(d.src)]
            detail = ""
            if k in runs:
                length, first = runs[k]
                a = self.content[self.drops[first].src].line
                b = self.content[self.drops[first + length - 1].src].line
                detail = f"in a run of {length} lines repeating lines {a}-{b}"
            rows.append((d.reason, round(d.score, 4), (doc_id, src.line), detail))
        matches = instances(Match, [r[2] for r in rows])
        verdicts = instances(Verdict, [(DROP, r[0], r[1], m, r[3])
                                       for r, m in zip(rows, matches, strict=True)])
        for k, verdict in zip(self.drops, verdicts, strict=True):
            self.content[k].verdict = verdict

    def relabel_boilerplate_copies(self) -> None:
        """A line the classifier dropped that copies kept content is a duplicate first.

        Same normalised text as a kept line; a short line must also continue a repeated run
        (the kept line sits right after the source of the previous content line's copy). The
        line stays dropped; only its reason and match change, to the more specific one.
        """
        content = self.content
        # the lines the classifier dropped (content lines have no verdict from it)
        dropped = [(p, v) for p in self.doc.paragraphs
                   if (v := p.verdict) is not None and v.reason.startswith("boilerplate:")]
        if not dropped or not content:
            return
        drops = self.drops
        texts = self.texts
        # each kept text's first position (a dict built from the end keeps the first)
        kept = {texts[k]: k for k in range(len(content) - 1, -1, -1) if k not in drops}
        starts = [p.index for p in content]  # ascending
        for p, v in dropped:
            src = kept.get(p.key or p.text)
            if src is None or content[src].index > p.index:
                continue
            # content position of the last content line before p
            at = bisect.bisect_left(starts, p.index) - 1
            match = Match(self.doc.id, content[src].line)
            prev = drops.get(at) if at >= 0 else None
            if len(p.tokens) >= self.cfg.shingle.min_exact_words:
                p.verdict = Verdict(DROP, "duplicate:exact", 1.0, match,
                                    f"also classified {v.reason}")
            elif prev is not None and self.canonical(prev.src) + 1 == src:
                p.verdict = Verdict(DROP, "duplicate:run", 1.0, match,
                                    f"continues a repeated run; also classified {v.reason}")


def dedup_document(doc: Document, cfg: Config) -> Document:
    """Mark the near-duplicate paragraphs of ``doc`` (the first copy of each is kept)."""
    dedup_batch([doc], cfg)
    return doc


def dedup_batch(docs: list[Document], cfg: Config, cache: SketchCache | None = None
                ) -> None:
    """:func:`dedup_document` for several documents: the numpy work (shingles, MinHash, band
    keys) runs once over all their long paragraphs, the decisions document by document. Every
    value is per paragraph, so batching changes nothing."""
    dedupers = [_DocDeduper(doc, cfg) for doc in docs]
    longs = [d.long_positions() for d in dedupers]
    paras = [d.content[k] for d, ls in zip(dedupers, longs, strict=True) for k in ls]
    keyed = [p.key for p in paras]
    # the shingles of a row are hashed only when asked for: a row whose signature is cached
    # and that no candidate pair names never is
    shingles = Shingles([p.tokens for p in paras], cfg.shingle.size, cfg.shingle.seed, keyed)
    if cache is None:
        sigs = signatures(*shingles.rows(range(len(paras))), cfg.lsh.num_perm, cfg.shingle.seed)
    else:
        sigs = cache.signatures(keyed, shingles,
                                (cfg.shingle.size, cfg.shingle.seed, cfg.lsh.num_perm))
    bands, rows = lsh_params(cfg.lsh)
    keys = band_keys(sigs, bands, rows)
    # Only the first copy of each text takes part in LSH: later exact copies are matched by
    # their key and are never a near-match's source, so their pairs would change nothing.
    first = np.flatnonzero(~np.array([r for d, ls in zip(dedupers, longs, strict=True)
                                      for r in d.repeats(ls)], dtype=bool))
    groups = np.repeat(np.arange(len(docs)), [len(ls) for ls in longs])
    crowded = set(crowded_groups(keys[first], groups[first], CROWDED).tolist())
    if crowded:
        first = first[~np.isin(groups[first], list(crowded))]
    hi, lo = candidate_pair_arrays(keys[first], groups[first])
    hi, lo = first[hi], first[lo]  # rows of the batch, pairs inside one document
    sims = _pair_sims(hi, lo, shingles)
    near = sims >= cfg.lsh.threshold
    # the first-come rule over every document's verified pairs at once (they never cross)
    decision = decide_sequential(len(keys), hi[near], lo[near], sims[near])
    at = 0
    for n, (deduper, long_pos) in enumerate(zip(dedupers, longs, strict=True)):
        end = at + len(long_pos)
        decided = None if n in crowded else (decision.target[at:end] - at,
                                             decision.sim[at:end])
        deduper.find_matches(long_pos, sigs[at:end], decided, keys[at:end], shingles, at)
        deduper.decide()
        deduper.apply()
        deduper.relabel_boilerplate_copies()
        at = end


def _pair_sims(hi: np.ndarray, lo: np.ndarray, shingles: Shingles, compiled: bool = True
               ) -> np.ndarray:
    """The exact Jaccard similarity of every candidate pair ``(hi[i], lo[i])`` of a batch (rows
    of ``shingles``, whose hashes are not de-duplicated): ``compiled``, each row named sorted
    once and every pair merged in C (``dedup._pairs.row_jaccards``) when it is built; else each
    row made a set by ``np.unique`` and the pairs given to
    :func:`~dedup.shingle.pair_jaccards`."""
    if not len(hi):
        return np.empty(0, dtype=np.float64)
    needed, at = np.unique(np.concatenate((hi, lo)), return_inverse=True)
    at = at.reshape(-1).astype(np.int64)
    hashes, offsets = shingles.rows(needed.tolist())
    if compiled and _pairs is not None and hashes.dtype == np.uint64:
        out = np.empty(len(hi), dtype=np.float64)
        _pairs.row_jaccards(np.ascontiguousarray(hashes), offsets, at[:len(hi)], at[len(hi):],
                            out)
        return out
    sets = [np.unique(hashes[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(),
                                                    strict=True)]
    return pair_jaccards(sets, at[:len(hi)], at[len(hi):])


def dedup_within(docs: Iterable[Document], cfg: Config, cache: SketchCache | None = None
                 ) -> Iterator[Document]:
    """Stage: in-document near-duplicate removal (``BATCH`` documents at a time; ``cache``
    keeps the signatures of recently seen paragraphs)."""
    for batch in batches(docs, BATCH):
        dedup_batch(batch, cfg, cache)
        yield from batch
