"""``dedup bench``: quality and speed of dedup beside its peers on the generated corpus (and on
the real pages of ``shared/realpages`` when they are there)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import click

from ..errors import DedupError
from . import main
from .common import fail


@main.command()
@click.option("--quick", is_flag=True,
              help="A small run (400 documents; sweep 250 and 1000; 4000 for --jobs scaling; 200 "
                   "for speed per core) that takes a few minutes.")
@click.option("--docs", type=click.IntRange(10), help="Documents in the quality corpus.")
@click.option("--sizes", help="Comma-separated document counts for the speed/memory sweep, "
                              "e.g. 1000,10000,100000; 'none' to skip.")
@click.option("--peers", help="Comma-separated peers to run (default: every installed peer).")
@click.option("--seed", type=int, default=0, show_default=True, help="Corpus seed.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True,
              help="Corpus split to measure on (test: unseen articles and phrasings).")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Directory for results.json, results.md and PNG plots (made when missing). "
                   "[default: a new directory dedup-bench-* in the system's temporary "
                   "directory, printed at the end]")
@click.option("--parallel-docs", type=click.IntRange(0),
              help="Documents for the --jobs 1 vs 2 scaling run (0 to skip). "
                   "[default: 20000; --quick: 4000]")
@click.option("--parallel-rounds", type=click.IntRange(1),
              help="Rounds of the scaling run (worker counts alternate; the median run of "
                   "each is reported). [default: 3; --quick: 1]")
@click.option("--speed-docs", type=click.IntRange(0),
              help="Generated documents for the speed-per-core section (beside them a "
                   "low-repetition corpus of the same size: the real pages cycled with edits, "
                   "or the generator with syndication off); whole clean, caches on and off, "
                   "and the naive datasketch loop, in MB per CPU-second (0 to skip). "
                   "[default: as --docs; --quick: 200]")
@click.option("--speed-repeats", type=click.IntRange(1), default=1, show_default=True,
              help="Runs of each speed-per-core measurement, each in a fresh process; the "
                   "median run is reported with all of them.")
@click.option("--no-speed", is_flag=True, help="Skip the speed-per-core section.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--in-process", is_flag=True,
              help="Run every system in this process (faster start; peak RSS is then shared).")
@click.option("--real-pages", "real_pages", type=click.Path(file_okay=False),
              help="The real-pages folder (score.py and wcxb/ in it): dedup, length baselines "
                   "and the peers on its pages, scored by its score.py. "
                   "[default: ../shared/realpages if it is there]")
@click.option("--no-real-pages", is_flag=True, help="Skip the real-pages section.")
@click.option("--real-pages-limit", type=click.IntRange(1),
              help="Use N real pages, every k-th in name order. [default: all; --quick: 150]")
@click.option("--real-pages-cv/--no-real-pages-cv", "real_pages_cv", default=None,
              help="Cross-validate dedup's page model by site on the real pages (one model "
                   "per domain fold, trained without that fold's sites; needs the train extra; "
                   "about 15-30 minutes here). [default: on; --quick: off]")
@click.option("--real-pages-only", is_flag=True,
              help="Run only the real-pages section; writes real_pages.json and real_pages.md "
                   "to OUTPUT (results.* are left as they are).")
def bench(quick: bool, docs: int | None, sizes: str | None, peers: str | None, seed: int,
          split: str, output: str | None, parallel_docs: int | None, parallel_rounds: int | None,
          speed_docs: int | None, speed_repeats: int, no_speed: bool, no_plots: bool,
          in_process: bool,
          real_pages: str | None, no_real_pages: bool,
          real_pages_limit: int | None, real_pages_cv: bool | None,
          real_pages_only: bool) -> None:
    """Benchmark dedup against its peers: line precision/recall/F1 for boilerplate and
    duplicates, content lost, token F1, MB/s, docs/s, peak RSS, and a size sweep; on real pages
    (when found), token F1 and snippet leaks by the set's own scorer.

    Prints a markdown table and writes results.json, results.md and plots to OUTPUT, or to a
    new directory it names when -o is not given (it never writes into the checkout by itself).
    """
    from ..bench.harness import BenchConfig, markdown, run_bench, write_results
    from ..bench.realpages import DEFAULT_ROOT, default_root

    if no_real_pages and (real_pages or real_pages_only):
        raise click.UsageError("--no-real-pages cannot go with --real-pages or "
                               "--real-pages-only")
    if no_speed and speed_docs:
        raise click.UsageError("--no-speed cannot go with --speed-docs N (N > 0)")

    cfg = BenchConfig.quick() if quick else BenchConfig()
    changes: dict[str, object] = {"seed": seed, "split": split, "isolate": not in_process,
                                  "speed_repeats": speed_repeats}
    if docs is not None:
        changes["docs"] = docs
    if sizes is not None:
        try:
            changes["sizes"] = () if sizes == "none" else tuple(
                int(s) for s in sizes.split(",") if s.strip())
        except ValueError as exc:
            raise click.BadParameter("use comma-separated whole numbers", param_hint="--sizes"
                                     ) from exc
    if parallel_docs is not None:
        changes["parallel_docs"] = parallel_docs
    if parallel_rounds is not None:
        changes["parallel_rounds"] = parallel_rounds
    if speed_docs is not None or no_speed:
        changes["speed_docs"] = 0 if no_speed else speed_docs
    if peers is not None:
        changes["peers"] = tuple(p.strip() for p in peers.split(",") if p.strip())
    if real_pages is None and not no_real_pages:
        found = default_root()
        if found is not None:
            real_pages = str(found)
        elif real_pages_only:
            raise click.UsageError(f"--real-pages-only: no {DEFAULT_ROOT} here; give "
                                   "--real-pages PATH")
        else:
            click.echo(f"real pages: no {DEFAULT_ROOT} here, section skipped "
                       "(--real-pages PATH)", err=True)
    changes["real_pages"] = real_pages
    changes["real_pages_only"] = real_pages_only
    if real_pages_limit is not None:
        changes["real_pages_limit"] = real_pages_limit
    if real_pages_cv is not None:
        changes["real_pages_cv"] = real_pages_cv
    cfg = dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]
    try:
        results = run_bench(cfg, progress=lambda msg: click.echo(msg, err=True))
        where = Path(output) if output else Path(tempfile.mkdtemp(prefix="dedup-bench-"))
        written = write_results(results, where, plots=not no_plots)
    except DedupError as exc:
        raise fail(exc) from exc
    click.echo(markdown(results))
    click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    if not output:
        click.echo(f"results in {where} (-o DIR to choose the directory)", err=True)

