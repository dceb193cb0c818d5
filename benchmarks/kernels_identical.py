"""Byte-identical output with the compiled kernels and with their Python references.

Each input set is cleaned in this process (``--jobs 1``) twice with ``--removed``: with the
kernels, and inside :func:`dedup.kernels.kernels_off` (every kernel replaced by its Python or
numpy reference). The outputs (every file, byte for byte) and the ``--removed`` journals must be
equal. Input sets: generated documents as one JSONL file (``--docs``, 10,000 by default), the
real pages of ``../shared/realpages`` as a directory (read from there, never copied; skipped
when absent), and the seed page three times. Exit 1 when anything differs.

    python benchmarks/kernels_identical.py -o benchmarks/results/kernels_identical.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dedup.batch import run_clean
from dedup.config import Config
from dedup.kernels import kernels_off

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines_identical import digest, input_sets, mark_identical, write_table


def run(name: str, src: Path, out: Path, kernels: bool) -> dict[str, Any]:
    removed = out.with_name(out.name + ".removed.jsonl")
    t0 = time.process_time()
    if kernels:
        run_clean([str(src)], str(out), Config(), removed=str(removed), jobs=1)
    else:
        with kernels_off():
            run_clean([str(src)], str(out), Config(), removed=str(removed), jobs=1)
    return {"input": name, "kernels": "compiled" if kernels else "Python reference",
            "output": digest(out), "removed": digest(removed),
            "cpu seconds": round(time.process_time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("-o", "--out", type=Path, required=True,
                    help="the markdown file to write (the tracked one: "
                         "benchmarks/results/kernels_identical.md)")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dedup-kernels-") as tmp:
        root = Path(tmp)
        for name, src, target in input_sets(root, args.docs):
            for n, kernels in enumerate((True, False)):
                row = run(name, src, root / f"{name[:4]}-{n}-{target}", kernels)
                print(row, flush=True)
                rows.append(row)
    ok = mark_identical(rows)
    cols = ["input", "kernels", "output", "removed", "identical", "cpu seconds"]
    write_table(args.out, "Byte-identical output with the compiled kernels and their Python "
                "references", f"`python benchmarks/kernels_identical.py --docs {args.docs}`",
                "; `cpu seconds` of this process (one run after the other, so the second has "
                "warm caches of the file system only)", cols, rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
