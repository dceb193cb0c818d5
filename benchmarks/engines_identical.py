"""Byte-identical output for every engine: `--jobs 1, 2, 3`, a Dask LocalCluster of 2 workers,
and the one-process reference of the first-come rule (the corpus stage deciding one document
after the other, dedup/crossdoc.py's CorpusDeduper, instead of windows of rounds).

Each input set is cleaned by each engine with ``--removed``; the outputs (every file, byte for
byte) and the ``--removed`` journal must be equal to the reference's. Input sets: generated
documents as one JSONL file (``--docs``), the real pages of ``../shared/realpages`` as a
directory (read from there, never copied; skipped when absent), and the seed page three times.

    python benchmarks/engines_identical.py                   # 2,000 generated documents
    python benchmarks/engines_identical.py --docs 500 --no-dask -o /tmp/engines.md
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dedup.pipeline
from dedup.batch import run_clean
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.crossdoc import CorpusDeduper
from dedup.index import CorpusIndex

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # a sibling module of the scripts, not a package

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / ".." / "shared" / "realpages" / "wcxb" / "pages"
SEED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.txt"


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """The corpus stage of the run is the one-document-at-a-time reference."""
    staged = dedup.pipeline.corpus_deduper

    def sequential(cfg: Config, index: CorpusIndex, canonical: frozenset[int] = frozenset()
                   ) -> CorpusDeduper:
        return CorpusDeduper(cfg, index, canonical)

    dedup.pipeline.corpus_deduper = sequential  # type: ignore[assignment]
    try:
        yield
    finally:
        dedup.pipeline.corpus_deduper = staged


def digest(path: Path) -> str:
    """One hash of the file, or of every file under the directory with its relative name."""
    h = hashlib.sha256()
    if not path.is_dir():
        h.update(path.read_bytes())
    for p in sorted(path.rglob("*")) if path.is_dir() else []:
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + b"\x00")
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def input_sets(root: Path, docs: int) -> list[tuple[str, Path, str]]:
    """(name, input, output name) of the input sets, written under ``root``: ``docs``
    generated documents as one JSONL file, the real pages in place (when present), the seed
    page three times."""
    gen = root / "generated.jsonl"
    gen.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n"
                           for d, _ in generate(GeneratorConfig(docs=docs, seed=3,
                                                                split="test"))))
    seed = root / "seed"
    seed.mkdir()
    for i in range(3):
        (seed / f"copy{i}.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    inputs = [(f"generated ({docs:,})", gen, "out.jsonl"), ("seed x3", seed, "out")]
    if REAL.is_dir():
        inputs.insert(1, ("real pages", REAL.resolve(), "out"))
    return inputs


def mark_identical(rows: list[dict[str, Any]]) -> bool:
    """Set each row's ``identical`` (its input's rows all have the same output and removed
    hashes); whether every input's are."""
    ok = True
    for name in dict.fromkeys(r["input"] for r in rows):
        mine = [r for r in rows if r["input"] == name]
        same = all((r["output"], r["removed"]) == (mine[0]["output"], mine[0]["removed"])
                   for r in mine)
        ok &= same
        for r in mine:
            r["identical"] = "yes" if same else "NO"
    return ok


def write_table(out: Path, title: str, command: str, note: str, cols: list[str],
                rows: list[dict[str, Any]]) -> None:
    """Write (and print) the markdown result: the title, the command with the commit and the
    machine, what the hashes are (and ``note``), then the table of ``rows``."""
    lines = [f"# {title}", "",
             f"{command} on commit {commit()}, {platform.machine()}, Python "
             f"{platform.python_version()}. `output` and `removed` are SHA-256 prefixes of every "
             f"output file and of the `--removed` journal{note}.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def run(name: str, src: Path, out: Path, engine: str, jobs: int) -> dict[str, Any]:
    removed = out.with_name(out.name + ".removed.jsonl")
    t0 = time.perf_counter()
    if engine == "reference":
        with reference():
            report = run_clean([str(src)], str(out), Config(), removed=str(removed), jobs=1)
    else:
        report = run_clean([str(src)], str(out), Config(), removed=str(removed), jobs=jobs,
                           engine=engine)
    seconds = time.perf_counter() - t0
    rounds = report.stats.get("decision_rounds", {})
    return {"input": name, "engine": engine if engine != "local" else f"--jobs {jobs}",
            "output": digest(out), "removed": digest(removed), "seconds": round(seconds, 1),
            "corpus stage": rounds.get("engine", "")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("-o", "--out", type=Path, required=True,
                    help="the markdown file to write (the tracked one: "
                         "benchmarks/results/engines_identical.md)")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    engines = [("reference", 1), ("local", 1), ("local", 2), ("local", 3)]
    if not args.no_dask:
        engines.append(("dask", 2))
    with tempfile.TemporaryDirectory(prefix="dedup-engines-") as tmp:
        root = Path(tmp)
        for name, src, target in input_sets(root, args.docs):
            for n, (engine, jobs) in enumerate(engines):
                row = run(name, src, root / f"{name[:4]}-{n}-{target}", engine, jobs)
                print(row, flush=True)
                rows.append(row)
    ok = mark_identical(rows)
    cols = ["input", "engine", "corpus stage", "output", "removed", "identical", "seconds"]
    write_table(args.out, "Byte-identical output for every engine",
                f"`python benchmarks/engines_identical.py --docs {args.docs}`", "", cols, rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
