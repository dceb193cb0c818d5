"""The keep/drop decision in rounds (dedup/decide.py) on the graph of a real run, checked
against what the corpus stage decided.

1. A generated corpus is cleaned by the normal pipeline (:meth:`Cleaner.clean_documents`, one
   process): the final verdict of every paragraph.
2. The same cleaner (its repetition counts now fixed) prepares fresh copies of the documents
   (:meth:`Cleaner.prepare`: every stage but the corpus stage): each document's
   :class:`~dedup.types.CorpusKeys`. Both must see the same content paragraphs (checked: a
   paragraph without a verdict after ``prepare`` is one the pipeline kept or dropped in the
   corpus stage; every other verdict is the same in both).
3. The graph: one row per long content paragraph of every document, in first-come order
   (document, then position). Candidates are equal 32-bit band keys (any band against any band,
   as the index looks them up) of rows of different documents, found by one sort of
   ``(key, row)``; each is verified by exact Jaccard of the 32-bit shingle sets with
   :func:`dedup.crossdoc.similarities` (the same float64 ``inter / union``), an edge when at
   least ``lsh.threshold``. A bucket of more than ``--bucket-cap`` rows is reported and skipped
   (its pairs would be quadratic; with exact copies, :func:`dedup.decide.exact_groups` is the
   way to collapse it).
4. :func:`decide_rounds` (``sharp=True``) and :func:`decide_sequential` decide the graph; each
   row is compared with the pipeline's verdict: ``duplicate:cross-doc`` must be dropped against
   the same (document, line), kept must be kept. Disagreements are counted by category.

    python benchmarks/rounds_on_corpus.py                       # 2,000 documents
    python benchmarks/rounds_on_corpus.py --docs 500 --no-boilerplate -o /tmp/rounds.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.crossdoc import DOCUMENT, REASON, similarities
from dedup.decide import Decision, Rounds, decide_rounds, decide_sequential
from dedup.pipeline import Cleaner
from dedup.types import Document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # a sibling module of the scripts, not a package


@dataclass(slots=True)
class CorpusGraph:
    """The long content paragraphs of a run as rows, their verified edges, and what the
    pipeline decided for each row (``want``: -1 kept, else the row it was dropped against;
    ``reason``: the pipeline's reason per row)."""

    doc: np.ndarray  # document ordinal per row
    para: np.ndarray  # paragraph index (0-based line) per row
    src: np.ndarray
    dst: np.ndarray
    sim: np.ndarray
    want: np.ndarray
    want_sim: np.ndarray  # the pipeline's similarity, rounded to 4 places as in the verdict
    reason: list[str]
    candidates: int  # distinct cross-document candidate pairs verified
    skipped_buckets: list[int] = field(default_factory=list)  # sizes of buckets over the cap
    largest_bucket: int = 0  # rows under the most common band key
    short_cross_doc: int = 0  # short lines dropped as duplicate:cross-doc (not rows)
    seconds_clean: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.doc)


def corpus_texts(docs: int, seed: int) -> list[str]:
    return [d["text"] for d, _ in generate(GeneratorConfig(docs=docs, seed=seed, split="test"))]


def _documents(texts: Sequence[str]) -> list[Document]:
    return [Document(id=str(n), text=t, ordinal=n) for n, t in enumerate(texts)]


def build(texts: Sequence[str], cfg: Config, bucket_cap: int = 5000) -> CorpusGraph:
    """Clean ``texts``, prepare fresh copies for their keys, and build the graph (module doc)."""
    cleaner = Cleaner(cfg)
    t0 = time.perf_counter()
    results = list(cleaner.clean_documents(_documents(texts)))
    seconds_clean = time.perf_counter() - t0
    prepared = list(cleaner.prepare(_documents(texts)))
    cleaner.close()
    doc_rows, para_rows, sets, keys, reason = [], [], [], [], []
    want_line: list[tuple[int, int] | None] = []
    want_score: list[float] = []
    short_cross_doc = 0
    for n, (res, doc) in enumerate(zip(results, prepared, strict=True)):
        final = res.doc.paragraphs
        if len(final) != len(doc.paragraphs):
            raise SystemExit(f"document {n}: {len(final)} paragraphs cleaned, "
                             f"{len(doc.paragraphs)} prepared")
        for p, q in zip(final, doc.paragraphs, strict=True):
            if q.verdict is None:
                if p.verdict is not None and p.verdict.dropped and p.verdict.reason not in (
                        REASON, DOCUMENT):
                    raise SystemExit(f"document {n} line {p.line}: prepared as content, "
                                     f"cleaned as {p.verdict.reason}")
            elif p.verdict != q.verdict:
                raise SystemExit(f"document {n} line {p.line}: {q.verdict} prepared, "
                                 f"{p.verdict} cleaned")
        ck = doc.corpus_keys
        if ck is None:
            continue
        if [i for i, p in enumerate(doc.paragraphs) if p.verdict is None and p.tokens] \
                != ck.content:
            raise SystemExit(f"document {n}: the keys' content is not the prepared content")
        long_paras = set()
        for j, k in enumerate(ck.longs):
            i = ck.content[k]
            long_paras.add(i)
            v = final[i].verdict
            doc_rows.append(n)
            para_rows.append(i)
            sets.append(ck.sets[k])
            if ck.keys32 is None:
                raise SystemExit(f"document {n}: long paragraphs without band keys")
            keys.append(ck.keys32[j])
            reason.append("content" if v is None else v.reason)
            if v is not None and v.reason == REASON and v.match is not None:
                want_line.append((int(v.match.doc), v.match.line - 1))
                want_score.append(v.score)
            else:
                want_line.append(None)
                want_score.append(float("nan"))
        short_reasons = [final[i].verdict for i in ck.content if i not in long_paras]
        short_cross_doc += sum(v is not None and v.reason == REASON for v in short_reasons)
    n_rows = len(doc_rows)
    doc_arr = np.asarray(doc_rows, dtype=np.int64)
    para_arr = np.asarray(para_rows, dtype=np.int64)
    row_of = {(int(d), int(p)): r for r, (d, p) in enumerate(zip(doc_arr, para_arr, strict=True))}
    want = np.full(n_rows, -1, dtype=np.int64)
    for r, target in enumerate(want_line):
        if target is not None:
            # a target that is not a long content paragraph of this run (-2): an index row of
            # an earlier run, or a paragraph the graph does not hold
            want[r] = row_of.get(target, -2)
    src, dst, skipped, candidates, largest = _candidates(keys, doc_arr, bucket_cap)
    # mine = the later row, stored = the earlier one, as the corpus stage verifies
    sim = similarities([sets[i] for i in src.tolist()], [sets[i] for i in dst.tolist()])
    keep = sim >= cfg.lsh.threshold
    return CorpusGraph(doc_arr, para_arr, src[keep], dst[keep], sim[keep], want,
                       np.asarray(want_score), reason, candidates, skipped, largest,
                       short_cross_doc, seconds_clean)


def _candidates(keys: list[np.ndarray], doc: np.ndarray, bucket_cap: int
                ) -> tuple[np.ndarray, np.ndarray, list[int], int, int]:
    """Distinct pairs (later row, earlier row) of different documents sharing a band key, the
    sizes of the buckets skipped, the number of pairs and the largest bucket."""
    n = len(keys)
    empty = np.empty(0, dtype=np.int64)
    if not n:
        return empty, empty, [], 0, 0
    bands = len(keys[0])
    flat = np.concatenate(keys).astype(np.uint64)
    rows = np.repeat(np.arange(n, dtype=np.int64), bands)
    order = np.lexsort((rows, flat))  # one sort of (band key, row)
    flat, rows = flat[order], rows[order]
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    sizes = np.diff(np.r_[starts, len(flat)])
    pairs: list[np.ndarray] = []
    skipped: list[int] = []
    for at, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        if size > bucket_cap:
            skipped.append(size)
            continue
        members = rows[at:at + size]
        i, j = np.triu_indices(size, 1)  # members ascending: j is the later row
        s, d = members[j], members[i]
        ok = doc[s] != doc[d]
        pairs.append(s[ok] * n + d[ok])
    largest = int(sizes.max())
    if not pairs:
        return empty, empty, skipped, 0, largest
    unique = np.unique(np.concatenate(pairs))
    return unique // n, unique % n, skipped, len(unique), largest


@dataclass(slots=True)
class Comparison:
    agree: int
    categories: Counter[str]
    examples: dict[str, list[int]]


def compare(graph: CorpusGraph, decision: Decision) -> Comparison:
    """Each row's decision against the pipeline's verdict, disagreements by category."""
    cats: Counter[str] = Counter()
    examples: dict[str, list[int]] = {}
    agree = 0
    for r in range(graph.rows):
        got, want, why = int(decision.target[r]), int(graph.want[r]), graph.reason[r]
        if why == "content" and got < 0:
            agree += 1
            continue
        if why == REASON and got == want and round(float(decision.sim[r]), 4) == \
                graph.want_sim[r]:
            agree += 1
            continue
        if why == REASON and want == -2:
            cat = "pipeline target not a row of this run"
        elif why == REASON and got < 0:
            cat = "pipeline dropped, rounds kept"
        elif why == REASON:
            cat = "dropped against another row" if got != want else "same target, other sim"
        elif why == "content":
            cat = "pipeline kept, rounds dropped"
        else:
            cat = f"pipeline {why}, rounds {'kept' if got < 0 else 'dropped'}"
        cats[cat] += 1
        examples.setdefault(cat, []).append(r)
    return Comparison(agree, cats, examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-boilerplate", action="store_true",
                        help="boilerplate.enabled = false (every line is content)")
    parser.add_argument("--documents", choices=("tag", "drop"), default="tag",
                        help="corpus.documents (drop: near-duplicate documents are not indexed)")
    parser.add_argument("--bucket-cap", type=int, default=5000,
                        help="skip band-key buckets with more rows than this (reported)")
    parser.add_argument("-o", "--output", type=Path, help="also write the report as markdown")
    args = parser.parse_args()
    cfg = Config().replace(corpus={"documents": args.documents})
    if args.no_boilerplate:
        cfg = cfg.replace(boilerplate={"enabled": False})
    texts = corpus_texts(args.docs, args.seed)
    t0 = time.perf_counter()
    graph = build(texts, cfg, args.bucket_cap)
    build_secs = time.perf_counter() - t0 - graph.seconds_clean
    n = graph.rows
    t0 = time.perf_counter()
    rounds_decision, rounds = decide_rounds(n, graph.src, graph.dst, graph.sim, sharp=True)
    rounds_secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    seq = decide_sequential(n, graph.src, graph.dst, graph.sim)
    seq_secs = time.perf_counter() - t0
    plain, plain_rounds = decide_rounds(n, graph.src, graph.dst, graph.sim, sharp=False)
    cmp = compare(graph, rounds_decision)
    reasons = Counter(graph.reason)
    lines = report(args, graph, rounds, plain_rounds, rounds_decision.same(seq),
                   plain.same(seq), cmp, reasons, rounds_secs, seq_secs, build_secs)
    print("\n".join(lines))
    if args.output:
        args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(args: argparse.Namespace, graph: CorpusGraph, rounds: Rounds, plain: Rounds,
           same_seq: bool, plain_same: bool, cmp: Comparison, reasons: Counter[str],
           rounds_secs: float, seq_secs: float, build_secs: float) -> list[str]:
    config = ", ".join([*(["boilerplate.enabled = false"] if args.no_boilerplate else []),
                        *([f"corpus.documents = {args.documents!r}"]
                          if args.documents != "tag" else [])]) or "default"
    degree = np.bincount(graph.src, minlength=graph.rows) if graph.rows else np.zeros(0)
    out = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}; commit {commit()}; one process.",
        f"Data: dedup.corpus.generate(GeneratorConfig(docs={args.docs}, seed={args.seed}, "
        f"split=\"test\")); config {config}; bucket cap {args.bucket_cap}.",
        "",
        "| measure | value |", "|---|---|",
        f"| documents | {args.docs:,} |",
        f"| rows (long content paragraphs) | {graph.rows:,} |",
        f"| pipeline reasons of the rows | "
        f"{', '.join(f'{k} {v:,}' for k, v in sorted(reasons.items()))} |",
        f"| short lines dropped as {REASON} (not rows) | {graph.short_cross_doc:,} |",
        f"| candidate pairs (cross-document, distinct) | {graph.candidates:,} |",
        f"| edges (verified, Jaccard >= threshold) | {len(graph.src):,} |",
        f"| rows with an edge / max edges of a row | {int((degree > 0).sum()):,} / "
        f"{int(degree.max()) if len(degree) else 0} |",
        f"| edges at similarity 1.0 | {int((graph.sim == 1.0).sum()):,} |",
        f"| largest band-key bucket (rows) / buckets over the cap (sizes) | "
        f"{graph.largest_bucket:,} / {graph.skipped_buckets or 'none'} |",
        f"| rounds (sharp) / remainder | {rounds.count} / {rounds.remainder} |",
        f"| rows decided per round (round 0 first) | {', '.join(map(str, rounds.decided[:8]))}"
        f"{', ...' if len(rounds.decided) > 8 else ''} |",
        f"| rounds (sharp=False) / remainder | {plain.count} / {plain.remainder:,} |",
        f"| rounds == sequential (sharp, plain) | {same_seq}, {plain_same} |",
        f"| seconds: rounds / sequential / graph build | {rounds_secs:.4f} / {seq_secs:.4f} "
        f"/ {build_secs:.2f} |",
        f"| seconds: the pipeline's clean | {graph.seconds_clean:.2f} |",
        f"| rows agreeing with the pipeline | {cmp.agree:,} of {graph.rows:,} |",
    ]
    for cat, count in sorted(cmp.categories.items()):
        ex = [f"doc {int(graph.doc[r])} line {int(graph.para[r]) + 1}"
              for r in cmp.examples[cat][:3]]
        out.append(f"| disagree: {cat} | {count:,} (e.g. {'; '.join(ex)}) |")
    return out


if __name__ == "__main__":
    main()
