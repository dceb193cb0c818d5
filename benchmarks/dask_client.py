"""The client's share of a real Dask run: `dedup clean` of a JSONL file with `--engine dask`.

`dedup bench`'s coordinator measures a client that holds the documents in memory and writes
nothing. A cluster run also reads and parses the input, serialises each chunk for the scheduler,
receives the workers' keys and finished records over TCP and writes the output; with a
LocalCluster the scheduler runs in the client's process too. This script measures that whole
client: each round runs `dedup clean FILE -o OUT --engine dask --jobs N --report R` in a child
process on generated pages (written once to a temporary directory) and reads the report's
`cpu_seconds` (the client process, the Dask workers' processes). The output of every round must
be the same bytes.

    python benchmarks/dask_client.py                         # 20,000 pages, 2 workers, 3 rounds
    python benchmarks/dask_client.py --docs 5000 --rounds 1 -o /tmp/dask_client.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # sibling modules of the scripts, not a package

from dedup.corpus import GeneratorConfig, write_corpus


def one_round(path: Path, tmp: Path, workers: int) -> dict[str, Any]:
    out, report = tmp / "out.jsonl", tmp / "report.json"
    subprocess.run([sys.executable, "-m", "dedup", "clean", str(path), "-o", str(out),
                    "--engine", "dask", "--jobs", str(workers), "--report", str(report), "-q"],
                   check=True)
    rep = json.loads(report.read_text())
    cpu = rep["cpu_seconds"]
    return {"client": cpu["client"], "workers": cpu["workers"],
            "share": round(cpu["client"] / (cpu["client"] + cpu["workers"]), 4),
            "seconds": round(rep["seconds"], 2),
            "output": hashlib.sha256(out.read_bytes()).hexdigest()[:16]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-o", "--output", help="write the table here (markdown)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dedup-dask-client-") as name:
        tmp = Path(name)
        write_corpus(GeneratorConfig(docs=args.docs, seed=0, split="dev"), tmp / "corpus")
        path = tmp / "corpus" / "docs.jsonl"
        mb = path.stat().st_size / 1e6
        runs = [one_round(path, tmp, args.workers) for _ in range(args.rounds)]
    if len({r["output"] for r in runs}) != 1:
        sys.exit("the rounds' outputs differ")
    shares = sorted(r["share"] for r in runs)
    lines = [
        "# The client's share of a real Dask run",
        "",
        f"`python benchmarks/dask_client.py --docs {args.docs} --workers {args.workers} "
        f"--rounds {args.rounds}` on commit {commit()}, {platform.machine()}, Python "
        f"{platform.python_version()}: {args.docs:,} generated pages ({mb:.1f} MB of JSONL), "
        f"`dedup clean --engine dask --jobs {args.workers}` (a LocalCluster; its scheduler runs "
        "in the client's process).",
        "",
        "| round | client CPU s | workers CPU s | client share | seconds | output |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        *(f"| {i + 1} | {r['client']} | {r['workers']} | {100 * r['share']:.1f}% | "
          f"{r['seconds']} | {r['output']} |" for i, r in enumerate(runs)),
        "",
        f"Median client share {100 * shares[(len(shares) - 1) // 2]:.1f}%.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
