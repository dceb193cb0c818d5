"""Rounds and seconds of the keep/drop decision in rounds (dedup/decide.py) on synthetic graphs.

Graphs (rows in first-come order, edges to earlier rows, similarities from a few values so
ties happen):

* ``random``: ``--rows`` rows, ``--edges`` distinct edges, each to a uniformly random earlier
  row (a corpus whose duplicates are anywhere before them);
* ``chain``: each row similar to the previous one only (the worst case: one row per round),
  with the rounds capped at ``--max-rounds`` and the rest finished in one process; and a short
  chain (``--chain-full`` rows) run to the end without a cap;
* ``exact group``: ``--rows`` rows of which ``--copies`` are one paragraph (one exact group),
  the others distinct and linked like ``random`` (a third of the edges): collapsed, decided on
  groups, expanded;
* ``template``: ``--variants`` near-duplicates of one template, each with an edge to the
  template and to ``--fanout`` random earlier variants (a dense cluster capped at that many
  verified edges per row: all pairs of 10,000 variants would be 5e7 edges, ~1.2 GB); the
  template at 0.8 (a variant's best match is often another variant) and at 1.0 (the template).

Every result is checked against the sequential reference (Python, one loop per edge), whose
seconds are printed too. Prints a table; ``-o FILE`` also writes it as markdown.

    python benchmarks/decide_rounds.py
    python benchmarks/decide_rounds.py --rows 100000 --edges 300000 -o /tmp/decide.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from dedup.decide import Decision, Rounds, decide_rounds, decide_sequential, exact_groups, expand

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # a sibling module of the scripts, not a package

SIMS = np.array([0.6, 0.7, 0.8, 0.9, 1.0])
Edges = tuple[np.ndarray, np.ndarray, np.ndarray]


def random_edges(rng: np.random.Generator, n: int, m: int) -> Edges:
    """``m`` distinct edges (fewer after removing repeats), each to a random earlier row."""
    src = rng.integers(1, n, size=m, dtype=np.int64)
    dst = (rng.random(m) * src).astype(np.int64)
    pairs = np.unique(src * n + dst)
    return pairs // n, pairs % n, SIMS[rng.integers(0, len(SIMS), size=len(pairs))]


def chain_edges(n: int) -> Edges:
    """Row ``r`` similar to row ``r - 1`` only."""
    src = np.arange(1, n, dtype=np.int64)
    return src, src - 1, np.full(n - 1, 0.9)


def template_edges(rng: np.random.Generator, variants: int, fanout: int, to_template: float
                   ) -> Edges:
    """Row 0 a template, rows 1.. its variants: an edge to the template (``to_template``) and
    up to ``fanout`` edges to random earlier variants (similarities from ``SIMS``)."""
    n = variants + 1
    src = np.repeat(np.arange(2, n, dtype=np.int64), fanout)
    dst = 1 + (rng.random(len(src)) * (src - 1)).astype(np.int64)
    pairs = np.unique(src * n + dst)
    src, dst = pairs // n, pairs % n
    src = np.concatenate((np.arange(1, n, dtype=np.int64), src))
    dst = np.concatenate((np.zeros(n - 1, dtype=np.int64), dst))
    drawn = SIMS[rng.integers(0, len(SIMS), len(pairs))]
    sim = np.concatenate((np.full(n - 1, to_template), drawn))
    return src, dst, sim


def timed(n: int, edges: Edges, max_rounds: int) -> tuple[Decision, Rounds, float]:
    """:func:`decide_rounds` and its seconds."""
    t0 = time.perf_counter()
    decision, rounds = decide_rounds(n, *edges, max_rounds=max_rounds)
    return decision, rounds, time.perf_counter() - t0


def reference(n: int, edges: Edges) -> tuple[Decision, float]:
    t0 = time.perf_counter()
    decision = decide_sequential(n, *edges)
    return decision, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=3_000_000)
    parser.add_argument("--max-rounds", type=int, default=64)
    parser.add_argument("--chain-full", type=int, default=10_000)
    parser.add_argument("--copies", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--fanout", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="also write the table as markdown")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n, cap = args.rows, args.max_rounds
    head = ["graph", "rows", "edges", "rounds", "remainder", "rounds s", "reference s"]
    table: list[list[str]] = []

    def row(name: str, rows: int, m: int, decided: Decision, rounds: Rounds, secs: float,
            want: Decision, ref: float) -> None:
        if not decided.same(want):
            raise SystemExit(f"{name}: the rounds differ from the sequential reference")
        table.append([name, f"{rows:,}", f"{m:,}", str(rounds.count), f"{rounds.remainder:,}",
                      f"{secs:.2f}", f"{ref:.2f}"])
        print("  ".join(table[-1]), flush=True)

    print("  ".join(head))
    edges = random_edges(rng, n, args.edges)
    want, ref = reference(n, edges)
    got, rounds, secs = timed(n, edges, cap)
    row("random", n, len(edges[0]), got, rounds, secs, want, ref)
    got, rounds, secs = timed(n, edges, 1 << 30)
    row("random, no cap", n, len(edges[0]), got, rounds, secs, want, ref)

    edges = chain_edges(n)
    want, ref = reference(n, edges)
    got, rounds, secs = timed(n, edges, cap)
    row(f"chain, cap {cap}", n, len(edges[0]), got, rounds, secs, want, ref)
    short = chain_edges(args.chain_full)
    want, ref = reference(args.chain_full, short)
    got, rounds, secs = timed(args.chain_full, short, 1 << 30)
    row("chain, no cap", args.chain_full, len(short[0]), got, rounds, secs, want, ref)

    # one paragraph copied `copies` times among n rows; the other rows distinct
    keys = rng.permutation(n).astype(np.uint64) + np.uint64(1)
    keys[rng.choice(n, size=args.copies, replace=False)] = 0
    t0 = time.perf_counter()
    groups = exact_groups(keys)
    g = len(groups.rep)
    group_edges = random_edges(rng, g, args.edges // 3)
    on_groups, rounds = decide_rounds(g, *group_edges, max_rounds=cap)
    got = expand(groups, on_groups, *group_edges)
    secs = time.perf_counter() - t0
    # the reference needs every member pair: only on the groups, then compared as expanded
    want_groups, ref = reference(g, group_edges)
    row(f"exact group of {args.copies:,}", n, len(group_edges[0]), got, rounds, secs,
        expand(groups, want_groups, *group_edges), ref)

    t = args.variants + 1
    for to_template in (0.8, 1.0):  # a variant's best match: often another one; the template
        edges = template_edges(rng, args.variants, args.fanout, to_template)
        want, ref = reference(t, edges)
        for rounds_cap in (cap, 1 << 30):
            got, rounds, secs = timed(t, edges, rounds_cap)
            row(f"template at {to_template}, fanout {args.fanout}"
                + ("" if rounds_cap == cap else ", no cap"), t, len(edges[0]), got, rounds,
                secs, want, ref)

    if args.output:
        lines = [f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
                 f"{platform.python_version()}, numpy {np.__version__}; commit {commit()}; "
                 f"seed {args.seed}; one process.", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in table]
        args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
