"""The corpus stage decided in windows of rounds (dedup/staged.py) against the reference
(dedup/crossdoc.py CorpusDeduper, one document after the other), on the same prepared documents.

For each corpus the documents are prepared once (every per-document stage, one process), then
each engine decides fresh copies of them: the verdict of every paragraph, every document's
cluster and the index's arrays must be equal; the CPU seconds of each engine's corpus stage
alone, and the staged engine's decision rounds per window, are printed and written as Markdown.

Corpora: the generated corpus (``--docs``, the test split), the real pages of
``shared/realpages`` as one corpus in name order (``--realpages DIR``, skipped when absent), and
the seed page three times.

    python benchmarks/staged_corpus.py                       # 20,000 generated documents
    python benchmarks/staged_corpus.py --docs 2000 -o /tmp/staged.md
"""

from __future__ import annotations

import argparse
import pickle
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dedup.allocator import tune_runtime
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.crossdoc import CorpusDeduper
from dedup.index import CorpusIndex
from dedup.pipeline import Cleaner
from dedup.staged import WINDOW, StagedDeduper
from dedup.types import Document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # a sibling module of the scripts, not a package

SEED = Path(__file__).resolve().parent.parent / "corpus" / "seed"


def prepare(texts: Sequence[str], cfg: Config) -> bytes:
    cleaner = Cleaner(cfg)
    if cleaner.uses_repetition:
        cleaner.counts = cleaner.count_lines(texts)
        cleaner.classifiers = cleaner._build_classifiers()
    docs = list(cleaner.prepare([Document(id=str(i), text=t, ordinal=i)
                                 for i, t in enumerate(texts)]))
    cleaner.close()
    return pickle.dumps(docs)


def decide(blob: bytes, cfg: Config, staged: bool, window: int) -> dict[str, Any]:
    docs = pickle.loads(blob)
    index = CorpusIndex(cfg)
    deduper = StagedDeduper(cfg, index, window=window) if staged else CorpusDeduper(cfg, index)
    t0 = time.process_time()
    out = [([p.verdict for p in d.paragraphs], d.cluster) for d in deduper(docs)]
    cpu = time.process_time() - t0
    arrays = [index.bands.compact().tobytes(), index.exact.compact().tobytes(),
              index.store.rows.read(0, index.store.rows.end), index.row_doc.view().tobytes(),
              index.doc_cluster.view().tobytes()]
    drops = sum(v is not None and v.reason == "duplicate:cross-doc"
                for verdicts, _ in out for v in verdicts)
    result = {"cpu": cpu, "out": out, "arrays": arrays, "drops": drops,
              "rows": index.paragraphs}
    if isinstance(deduper, StagedDeduper):
        result.update(rounds=deduper.rounds, crowded=deduper.crowded_windows,
                      remainder=deduper.remainder)
    index.close()
    return result


def compare(name: str, texts: Sequence[str], cfg: Config, window: int) -> dict[str, Any]:
    blob = prepare(texts, cfg)
    ref = decide(blob, cfg, False, window)
    got = decide(blob, cfg, True, window)
    differ = sum(a != b for a, b in zip(ref["out"], got["out"], strict=True))
    rounds = np.asarray(got["rounds"] or [0])
    row = {"corpus": name, "documents": len(texts), "cross_doc_drops": ref["drops"],
           "index_rows": ref["rows"], "documents_differing": differ,
           "index_equal": ref["arrays"] == got["arrays"],
           "reference_cpu_s": round(ref["cpu"], 2), "staged_cpu_s": round(got["cpu"], 2),
           "windows": len(got["rounds"]), "rounds_max": int(rounds.max()),
           "rounds_mean": round(float(rounds.mean()), 2), "crowded_windows": got["crowded"],
           "remainder_rows": got["remainder"]}
    print(row, flush=True)
    return row


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    cols = list(rows[0])
    lines = ["# The corpus stage in windows of rounds against the reference", "",
             f"`python benchmarks/staged_corpus.py --docs {args.docs} --window {args.window}` "
             f"on commit {commit()}, {platform.machine()}, Python {platform.python_version()}; "
             "CPU seconds of the corpus stage alone (documents prepared beforehand, the same "
             "for both), one process.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--window", type=int, default=WINDOW)
    ap.add_argument("--realpages", type=Path, default=Path("../shared/realpages"))
    ap.add_argument("-o", "--out", type=Path, required=True,
                    help="the markdown file to write (benchmarks/results/staged_corpus.md is the "
                         "tracked one)")
    args = ap.parse_args(argv)
    tune_runtime()  # as the dedup command runs: freed memory reused, young collections rare
    cfg = Config()
    rows = []
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=args.docs, seed=1,
                                                            split="test"))]
    rows.append(compare(f"generated ({args.docs:,})", texts, cfg, args.window))
    pages = sorted((args.realpages / "wcxb" / "pages").glob("*.txt"))
    if pages:
        rows.append(compare("real pages (wcxb)", [p.read_text(encoding="utf-8")
                                                   for p in pages], cfg, args.window))
    seed = next((p for p in sorted(SEED.glob("*.txt")) if ".expected." not in p.name), None)
    if seed is not None:
        text = seed.read_text(encoding="utf-8")
        rows.append(compare("seed x3", [text] * 3, cfg, args.window))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(rows, args), encoding="utf-8")
    print(f"wrote {args.out}")
    ok = all(r["documents_differing"] == 0 and r["index_equal"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
