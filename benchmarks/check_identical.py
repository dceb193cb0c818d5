"""Check that a change to the boilerplate classifier changes no output: dump, then compare.

``dump DIR`` cleans a fixed set of inputs and writes, per input set, every line's verdict
(label, reason, score, detail, match), the clean text, and the classifier's raw numbers: the
page model's stage-1 inputs and P(content), and the words model's class probabilities (captured
by wrapping ``PageModel.content_probability`` and ``Model.predict``). ``compare A B`` says
whether two dumps are identical, byte for byte, and where they differ.

    python benchmarks/check_identical.py dump /tmp/before      # on the old code
    python benchmarks/check_identical.py dump /tmp/after       # on the new code
    python benchmarks/check_identical.py compare /tmp/before /tmp/after

Input sets: generated documents (test split seed 0, as ``dedup bench``; dev split seed 7),
cleaned as one run each (so the repetition sample gives corpus counts and the words model runs
too), the same test documents with ``--classifier page`` in batches of 5, the hand-written
pages of ``corpus/pages``, and the real pages of ``../shared/realpages`` (read from there,
never copied) as a directory and with ``--classifier page``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dedup.batching import batches
from dedup.boilerplate import page as page_mod
from dedup.boilerplate.model import Model
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.pipeline import Cleaner
from dedup.types import Document

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "realpages" / "wcxb" / "pages"
CAPTURED: list[tuple[str, np.ndarray]] = []


def _capture() -> None:
    """Record the classifier's raw arrays as they are computed."""
    content_probability = page_mod.PageModel.content_probability
    predict = Model.predict

    def cp(self: Any, inputs: Any) -> np.ndarray:
        out: np.ndarray = content_probability(self, inputs)
        CAPTURED.extend([("x", inputs.x), ("words", inputs.words), ("p_content", out)])
        return out

    def pr(self: Any, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        probs, x2 = predict(self, *args, **kwargs)
        CAPTURED.extend([("learned_probs", probs), ("learned_x2", x2)])
        return probs, x2

    page_mod.PageModel.content_probability = cp  # type: ignore[method-assign]
    Model.predict = pr  # type: ignore[method-assign]


def generated(docs: int, seed: int, split: str) -> list[Document]:
    return [Document(d["id"], d["text"]) for d, _ in
            generate(GeneratorConfig(docs=docs, seed=seed, split=split))]


def real_pages() -> list[Document]:
    return [Document(p.stem, p.read_bytes().decode("utf-8"))
            for p in sorted(REAL.glob("*.txt"))]


def hand_pages() -> list[Document]:
    from dedup.bench.pages import load_pages

    return [Document(p.name, p.text) for p in load_pages()]


def clean(docs: list[Document], config: Config, batch: int | None = None
          ) -> Iterator[dict[str, Any]]:
    """Every document's verdicts and clean text, with one cleaner (or one per ``batch``)."""
    chunks = [docs] if batch is None else list(batches(docs, batch))
    for chunk in chunks:
        cleaner = Cleaner(config)
        for r in cleaner.clean_documents(Document(d.id, d.text) for d in chunk):
            yield {"id": r.doc.id, "text": r.text,
                   "verdicts": [[v.label, v.reason, repr(v.score), v.detail,
                                 None if v.match is None else [v.match.doc, v.match.line]]
                                for v in r.verdicts]}
        cleaner.close()


SETS: dict[str, Callable[[], tuple[list[Document], Config, int | None]]] = {
    "generated-test": lambda: (generated(2000, 0, "test"), Config(), None),
    "generated-dev": lambda: (generated(1000, 7, "dev"), Config(), None),
    "generated-page-b5": lambda: (generated(400, 0, "test"),
                                  Config().replace(boilerplate={"classifier": "page"}), 5),
    "hand-pages": lambda: (hand_pages(), Config(), None),
    "real-directory": lambda: (real_pages(), Config(), None),
    "real-page": lambda: (real_pages(), Config().replace(boilerplate={"classifier": "page"}),
                          None),
}


def dump(out: Path, only: list[str]) -> None:
    _capture()
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SETS.items():
        if only and name not in only:
            continue
        if name.startswith("real") and not REAL.is_dir():
            print(f"{name}: skipped, no {REAL}", file=sys.stderr)
            continue
        docs, config, batch = make()
        CAPTURED.clear()
        lines = 0
        with gzip.open(out / f"{name}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for rec in clean(docs, config, batch):
                lines += len(rec["verdicts"])
                fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        arrays: dict[str, list[np.ndarray]] = {}
        for key, arr in CAPTURED:
            arrays.setdefault(key, []).append(np.asarray(arr).reshape(len(arr), -1))
        np.savez_compressed(out / f"{name}.npz",
                            **{k: np.concatenate(v) for k, v in arrays.items()})
        print(f"{name}: {len(docs)} documents, {lines} lines, "
              + ", ".join(f"{k} {sum(map(len, v))} rows" for k, v in arrays.items()))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare(a: Path, b: Path) -> bool:
    same = True
    for left in sorted(a.glob("*.jsonl.gz")):
        name = left.name.removesuffix(".jsonl.gz")
        right = b / left.name
        if not right.exists():
            print(f"{name}: missing in {b}")
            same = False
            continue
        with gzip.open(left, "rt", encoding="utf-8") as fa, \
                gzip.open(right, "rt", encoding="utf-8") as fb:
            ra, rb = fa.read().splitlines(), fb.read().splitlines()
        docs = len(ra)
        lines = sum(len(json.loads(r)["verdicts"]) for r in ra)
        diff = [i for i, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y]
        ok = len(ra) == len(rb) and not diff
        msg = [f"{name}: {docs} documents, {lines} lines: "
               + ("verdicts and text identical" if ok else
                  f"{len(diff)} documents differ (first {diff[:5]})")]
        with np.load(a / f"{name}.npz") as na, np.load(b / f"{name}.npz") as nb:
            for key in na.files:
                x = na[key]
                y = nb[key] if key in nb.files else None
                if y is None or x.shape != y.shape:
                    msg.append(f"  {key}: shape {x.shape} vs {None if y is None else y.shape}")
                    ok = False
                elif x.tobytes() == y.tobytes():
                    msg.append(f"  {key}: {x.shape} bit-identical")
                else:
                    d = np.nanmax(np.abs(x - y)) if x.size else 0.0
                    msg.append(f"  {key}: {x.shape} DIFFERS, max abs diff {d:.3g}, "
                               f"{int(np.sum(~((x == y) | (np.isnan(x) & np.isnan(y)))))} "
                               f"values")
                    ok = False
        print("\n".join(msg))
        same &= ok
    print("IDENTICAL" if same else "DIFFERENT")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--only", nargs="*", default=[], choices=sorted(SETS))
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.cmd == "dump":
        dump(args.out, args.only)
        return 0
    return 0 if compare(args.a, args.b) else 1


if __name__ == "__main__":
    sys.exit(main())
