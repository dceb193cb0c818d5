"""Time and peak memory of `dedup clean` on skewed corpora, where pairwise work would explode.

Each case runs `dedup clean` in its own child process (peak RSS from ``os.wait4``, as
``memory_limits.py`` does) on inputs generated in a temporary directory:

- one paragraph copied into 100,000 documents (each with a paragraph of its own);
- 10,000 near-variants of one template paragraph (three words changed), one per document;
- the same 10,000 variants as the lines of one page;
- one page of 100,000 lines, every tenth a copy of the same paragraph.

    python benchmarks/skew.py                         # print the table
    python benchmarks/skew.py -o benchmarks/results/skew.md
    python benchmarks/skew.py --scale 0.1             # a tenth of every size
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # sibling modules of the scripts, not a package
from memory_limits import run

VOCAB = 5000


def _words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(VOCAB)}" for _ in range(n)]


def copies(path: Path, n: int, rng: random.Random) -> Path:
    shared = " ".join(_words(rng, 40))
    with open(path / "copies.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            text = shared + "\n" + " ".join(_words(rng, 40))
            fh.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    return path / "copies.jsonl"


def _variants(n: int, rng: random.Random) -> list[str]:
    template = _words(rng, 60)
    out = []
    for _ in range(n):
        tokens = list(template)
        for _ in range(3):
            tokens[rng.randrange(len(tokens))] = f"w{rng.randrange(VOCAB)}"
        out.append(" ".join(tokens))
    return out


def variants_docs(path: Path, n: int, rng: random.Random) -> Path:
    with open(path / "variants.jsonl", "w", encoding="utf-8") as fh:
        for i, text in enumerate(_variants(n, rng)):
            fh.write(json.dumps({"id": f"v{i}", "text": text}) + "\n")
    return path / "variants.jsonl"


def variants_page(path: Path, n: int, rng: random.Random) -> Path:
    (path / "variants_page.txt").write_text("\n".join(_variants(n, rng)) + "\n",
                                            encoding="utf-8")
    return path / "variants_page.txt"


def long_page(path: Path, n: int, rng: random.Random) -> Path:
    shared = " ".join(_words(rng, 40))
    with open(path / "long_page.txt", "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write((shared if i % 10 == 0 else " ".join(_words(rng, rng.randint(3, 30))))
                     + "\n")
    return path / "long_page.txt"


CASES: list[tuple[str, Callable[[Path, int, random.Random], Path], int]] = [
    ("one paragraph in 100,000 documents", copies, 100_000),
    ("10,000 variants of a template, one per document", variants_docs, 10_000),
    ("10,000 variants of a template in one page", variants_page, 10_000),
    ("one page of 100,000 lines, 10,000 copies of a paragraph", long_page, 100_000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", help="write the results to this markdown file")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--command", default=f"{sys.executable} -m dedup",
                        help="how to run dedup [default: this interpreter's -m dedup]")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dedup-skew-") as tmp:
        root = Path(tmp)
        for name, make, size in CASES:
            n = max(2, int(size * args.scale))
            path = make(root, n, random.Random(7))
            for options in ([], ["--no-boilerplate"]):
                out = root / f"out-{path.stem}{len(options)}{path.suffix}"
                r = run(shlex.split(args.command), path, out, options)
                rows.append({"case": name, "options": " ".join(options) or "default",
                             "mb": round(path.stat().st_size / 1e6, 1), **r})
                print(f"{name} [{rows[-1]['options']}]: exit {r['exit']}, {r['seconds']} s, "
                      f"{r['peak_rss_mb']} MB", flush=True)
    lines = ["| case | options | input MB | exit | seconds | peak RSS MB |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['case']} | {r['options']} | {r['mb']} | {r['exit']} | {r['seconds']} | "
              f"{r['peak_rss_mb']} |" for r in rows]
    text = (f"Commit {commit()}, {platform.machine()}, Python {platform.python_version()}, "
            f"scale {args.scale}.\n\n" + "\n".join(lines) + "\n")
    if args.output:
        Path(args.output).write_text("# Skewed corpora\n\n`python benchmarks/skew.py`: "
                                     + __doc__.split("\n\n")[1] + "\n\n" + text,
                                     encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
