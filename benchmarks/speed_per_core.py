"""Speed per core, with and without the caches: the speed section of ``dedup bench`` alone.

On N generated documents and a low-repetition corpus of the same size (the real pages of
``--real-pages DIR`` cycled with light edits, or without them the generator with syndication
off; see ``dedup/bench/lowrep.py``), each run in a fresh process: dedup's whole clean with the
caches on and off, with and without the classifier, and the naive datasketch loop, in MB of
text per CPU-second. Writes the markdown table to ``-o FILE`` (required: nothing is written into
the checkout unless named) and the JSON beside it (``FILE`` with ``.json``).

    python benchmarks/speed_per_core.py --docs 2500 --real-pages ../shared/realpages \\
        -o benchmarks/results/speed_per_core.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _common import commit

from dedup.bench.harness import BenchConfig, _machine, speed_markdown, speed_section
from dedup.io.writers import AtomicFile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2500, help="generated documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-pages", help="the realpages folder (default: the generator)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each measurement (fresh processes); the median is shown")
    parser.add_argument("-o", "--output", required=True, help="the markdown file to write")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    cfg = BenchConfig(docs=args.docs, seed=args.seed, real_pages=args.real_pages,
                      speed_repeats=args.repeats)
    speed = speed_section(cfg, lambda msg: print(msg, file=sys.stderr))
    if speed is None:
        parser.error("--docs must be 1 or more")
    machine = _machine()
    head = (f"Commit {commit()}; Python {machine['python']}, {machine['cpus']} CPUs "
            f"({machine['platform']}); `python benchmarks/speed_per_core.py --docs {args.docs}"
            f"{' --real-pages DIR' if args.real_pages else ''}"
            f"{f' --repeats {args.repeats}' if args.repeats > 1 else ''}`.\n\n")
    body = head + "\n".join(speed_markdown(speed)) + "\n"
    out = Path(args.output)
    for path, text in ((out, body), (out.with_suffix(".json"), json.dumps(
            {"commit": commit(), "machine": machine, **speed}, indent=2, sort_keys=True) + "\n")):
        fh = AtomicFile(path)
        fh.write(text)
        fh.commit()
    print(body)


if __name__ == "__main__":
    main()
