"""Peak memory of `dedup clean` on pathological inputs: huge lines, compression bombs, binary.

Each case runs `dedup clean` in its own child process and reads that child's peak RSS
(``os.wait4``), its exit code and wall time. The inputs are generated in a temporary
directory (streamed: the bombs are a few MB on disk):

- a 50 MB single line of words (5000-word vocabulary), with the default limits (refused) and
  with ``--max-line-bytes 64M`` (cleaned);
- a .txt.gz that expands to one line of 2 GB of ``a`` (refused at ``--max-line-bytes``);
- a .txt.gz that expands to 2 GB of 100-byte lines (refused at ``--max-doc-bytes``);
- a .jsonl.gz whose second record is 2 GB (skipped to its newline; the others cleaned);
- a .txt.gz of 2 GB of zero bytes (binary, from its first 8 KB).

    python benchmarks/memory_limits.py                  # print the table
    python benchmarks/memory_limits.py -o benchmarks/results/memory_limits.md

``--command`` runs another build (e.g. ``"python -m dedup"`` with PYTHONPATH set) and
``--no-limit-options`` leaves out the limit options, for a build that has none.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # a sibling module of the scripts, not a package

GB2 = 2 * 1000**3
CHUNK = 1 << 20


def words_line(chars: int, seed: int = 1) -> bytes:
    """One line of ``chars`` bytes of random words from a 5000-word vocabulary."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(5000)]
    return " ".join(rng.choices(vocab, k=chars // 5))[:chars].strip().encode()


def gzip_stream(path: Path, pieces: Iterable[bytes]) -> None:
    """Write ``pieces`` as one gzip member, compressed as they come."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        for piece in pieces:
            fh.write(comp.compress(piece))
        fh.write(comp.flush())


def repeat(block: bytes, total: int) -> Iterator[bytes]:
    for _ in range(total // len(block)):
        yield block


def make_inputs(tmp: Path) -> dict[str, Path]:
    paths = {"line": tmp / "line50mb.txt", "bomb_line": tmp / "bomb-line.txt.gz",
             "bomb_lines": tmp / "bomb-lines.txt.gz", "bomb_record": tmp / "bomb-record.jsonl.gz",
             "zeros": tmp / "zeros.txt.gz"}
    paths["line"].write_bytes(words_line(50_000_000) + b"\n")
    gzip_stream(paths["bomb_line"], repeat(b"a" * CHUNK, GB2))
    gzip_stream(paths["bomb_lines"], repeat((b"a" * 99 + b"\n") * (CHUNK // 100), GB2))
    ok = b'{"text": "The council approved the harbour bridge budget on Monday evening."}\n'

    def record() -> Iterator[bytes]:
        yield ok + b'{"text": "'
        yield from repeat(b"a" * CHUNK, GB2)
        yield b'"}\n' + ok.replace(b"Monday", b"Friday")
    gzip_stream(paths["bomb_record"], record())
    gzip_stream(paths["zeros"], repeat(bytes(CHUNK), GB2))
    return paths


# (label, input, limit options, what is expected)
CASES = [
    ("50 MB line, default limits", "line", [], "refused"),
    ("50 MB line, --max-line-bytes 64M", "line", ["--max-line-bytes", "64M"], "cleaned"),
    ("gzip bomb: one 2 GB line", "bomb_line", [], "refused"),
    ("gzip bomb: 2 GB of 100-byte lines", "bomb_lines", [], "refused"),
    ("jsonl.gz: a 2 GB record between two", "bomb_record", [], "record skipped"),
    ("gzip of 2 GB of zero bytes", "zeros", [], "binary"),
]


def run(command: list[str], path: Path, out: Path, options: list[str]) -> dict[str, object]:
    """`dedup clean` on ``path`` in a child process: exit code, seconds, peak RSS (MB)."""
    log = out.with_name(out.name + ".stderr")
    t0 = time.perf_counter()
    with open(log, "wb") as err_fh:
        proc = subprocess.Popen([*command, "clean", str(path), "-o", str(out), "-q", *options],
                                stdout=subprocess.DEVNULL, stderr=err_fh)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = log.read_text(encoding="utf-8", errors="replace")
    return {"exit": proc.returncode, "seconds": round(time.perf_counter() - t0, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "message": err.strip().splitlines()[0][:140] if err.strip() else ""}


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| case | expected | exit | seconds | peak RSS MB | first line of stderr |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        message = str(r["message"]).replace("|", "\\|")
        lines.append(f"| {r['case']} | {r['expected']} | {r['exit']} | {r['seconds']} | "
                     f"{r['peak_rss_mb']} | {message} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", help="write the results to this markdown file")
    parser.add_argument("--command", default=f"{sys.executable} -m dedup",
                        help="how to run dedup [default: this interpreter's -m dedup]")
    parser.add_argument("--no-limit-options", action="store_true",
                        help="run every case without the limit options (a build without them)")
    parser.add_argument("--cases", default="", help="comma-separated case numbers (1-based)")
    parser.add_argument("--tmp", default=None, help="where the generated inputs go")
    args = parser.parse_args()
    command = shlex.split(args.command)
    chosen = {int(c) for c in args.cases.split(",") if c} or set(range(1, len(CASES) + 1))
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="dedup-limits-") as tmp:
        t0 = time.perf_counter()
        paths = make_inputs(Path(tmp))
        print(f"inputs written in {time.perf_counter() - t0:.0f}s: "
              + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in paths.values()),
              file=sys.stderr)
        for n, (label, key, options, expected) in enumerate(CASES, start=1):
            if n not in chosen:
                continue
            out = Path(tmp) / f"out{n}{''.join(paths[key].suffixes[:1])}"
            result = run(command, paths[key], out, [] if args.no_limit_options else options)
            rows.append({"case": label, "expected": expected, **result})
            print(json.dumps(rows[-1]), file=sys.stderr)
    text = table(rows)
    if args.output:
        header = (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
                  f"{platform.python_version()}, {platform.system()}; commit {commit()}; "
                  f"command `{args.command}`.\n\n")
        Path(args.output).write_text(header + text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
