"""Peak memory of `dedup clean` on big inputs: bounded by the corpus index, not by the input.

Generates corpora of the given sizes as JSONL files (streamed to disk), runs `dedup clean` on
each in a child process and reports its peak RSS (the largest of the cleaning process and its
workers), the run time and the corpus index's size. If memory were proportional to the input, a
4x larger input would show a 4x larger peak; the index grows with the kept paragraphs only.

    python benchmarks/memory.py --sizes 0.25,1.0 --jobs 2 --no-boilerplate

Writes memory.md and memory.json to --output DIR (benchmarks/results holds the tracked ones).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dedup.corpus import GeneratorConfig, generate
from dedup.io.writers import AtomicFile


def write_corpus(path: Path, gigabytes: float, seed: int) -> tuple[int, int]:
    """Write generated documents until ``gigabytes`` of text; returns (documents, bytes)."""
    target = int(gigabytes * 1e9)
    docs = nbytes = 0
    with open(path, "w", encoding="utf-8") as fh:
        while nbytes < target:  # one generator run per 100k documents, new seed each
            for doc, _ in generate(GeneratorConfig(docs=100_000, seed=seed + docs, split="test")):
                line = json.dumps({"id": doc["id"], "text": doc["text"]}, ensure_ascii=False)
                fh.write(line + "\n")
                docs += 1
                nbytes += len(doc["text"].encode("utf-8"))
                if nbytes >= target:
                    break
    return docs, nbytes


def clean(path: Path, out: Path, jobs: int, extra: list[str]) -> dict[str, float]:
    """Run `dedup clean` in a child process: wall seconds and the peak RSS of its tree."""
    report = out.with_suffix(".report.json")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dedup", "clean", str(path), "-o", str(out), "-q",
                    "--jobs", str(jobs), "--report", str(report), *extra], check=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    stats = json.loads(report.read_text(encoding="utf-8"))
    index = stats.get("index", {})
    own = stats.get("peak_rss_mb", {})  # dedup's own split: the client and its largest worker
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1),
            "client_peak_mb": own.get("client"), "worker_peak_mb": own.get("largest_worker"),
            "cpu_client_s": stats.get("cpu_seconds", {}).get("client"),
            "cpu_workers_s": stats.get("cpu_seconds", {}).get("workers"),
            "lines_in": stats["lines_in"], "lines_out": stats["lines_out"],
            "index_paragraphs": index.get("paragraphs", 0),
            "index_mb": round(index.get("bytes", 0) / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.25,1.0", help="input sizes in GB, comma-separated")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-boilerplate", action="store_true")
    parser.add_argument("--output", required=True,
                        help="directory for memory.md and memory.json (benchmarks/results is "
                             "the tracked one)")
    parser.add_argument("--tmp", default=None, help="where the generated inputs go")
    args = parser.parse_args()
    extra = ["--no-boilerplate"] if args.no_boilerplate else []
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="dedup-memory-") as tmp:
        for n, size in enumerate(float(s) for s in args.sizes.split(",")):
            src, out = Path(tmp) / f"in{n}.jsonl", Path(tmp) / f"out{n}.jsonl"
            docs, nbytes = write_corpus(src, size, seed=1000 * n)
            # A fresh interpreter per size, so RUSAGE_CHILDREN holds this size's peak only.
            code = ("import json,sys; from pathlib import Path; "
                    f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r});"
                    "import memory; print(json.dumps(memory.clean(Path(sys.argv[1]), "
                    "Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])))")
            res = subprocess.run([sys.executable, "-c", code, str(src), str(out),
                                  str(args.jobs), *extra], capture_output=True, text=True)
            if res.returncode:
                sys.exit(f"error: the clean of {size} GB failed (exit {res.returncode}):\n"
                         f"{res.stderr.strip()[-2000:]}")
            row = {"gb": size, "docs": docs, "mb": round(nbytes / 1e6, 1), "jobs": args.jobs,
                   **json.loads(res.stdout.strip().splitlines()[-1])}
            row["mb_per_s"] = round(row["mb"] / row["seconds"], 2)
            rows.append(row)
            print(row, flush=True)
            src.unlink()
    lines = ["| input GB | documents | MB | workers | seconds | MB/s | indexed paragraphs | "
             "index MB | peak RSS MB (largest process) | client peak MB | largest worker "
             "peak MB | client CPU s | workers CPU s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
             "---: | ---: |"]
    lines += [f"| {r['gb']} | {r['docs']} | {r['mb']} | {r['jobs']} | {r['seconds']} | "
              f"{r['mb_per_s']} | {r['index_paragraphs']} | {r['index_mb']} | "
              f"{r['peak_rss_mb']} | {r['client_peak_mb']} | {r['worker_peak_mb']} | "
              f"{r['cpu_client_s']} | {r['cpu_workers_s']} |" for r in rows]
    for name, body in (("memory.json", json.dumps(rows, indent=2) + "\n"),
                       ("memory.md", "\n".join(lines) + "\n")):
        fh = AtomicFile(Path(args.output) / name)
        fh.write(body)
        fh.commit()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
