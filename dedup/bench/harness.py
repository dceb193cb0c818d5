"""The benchmark harness: one generated corpus, dedup and its peers on the same input, scored by
the same code, with speed and memory measured in a fresh process per system; optionally the real
pages of ``shared/realpages`` too (see :mod:`.realpages`).

``run_bench`` returns a JSON-ready dict; :func:`markdown` renders it. ``dedup bench`` is the CLI.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__
from ..config import Config
from ..corpus import GeneratorConfig, generate
from ..errors import ConfigError
from ..pipeline import Cleaner
from ..types import Document
from .metrics import LineScores, adjusted_rand_index, corpus_labels

DEDUP = "dedup"
DEDUP_DUPS = "dedup-duplicates-only"  # dedup with the boilerplate classifier off
OURS = (DEDUP, DEDUP_DUPS)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What to run: the corpus for quality, the sizes of the speed sweep, the peers."""

    docs: int = 2000
    sizes: tuple[int, ...] = (1000, 10000, 100000)
    sweep_systems: tuple[str, ...] = (DEDUP, DEDUP_DUPS, "exact-lines", "datasketch-naive")
    peer_sweep_max: int = 10000  # peers beyond this size would take most of the run
    peers: tuple[str, ...] | None = None  # None: every available peer
    seed: int = 0
    split: str = "test"
    isolate: bool = True  # each system in a fresh process, so peak RSS is its own
    parallel_docs: int = 20000  # the --jobs scaling run (0: skip)
    parallel_jobs: tuple[int, ...] = (1, 2)
    # Rounds of the scaling run, worker counts alternating (1, 2, 1, 2, ...); the median of each
    # is reported. One pair alone was too noisy here: the same run varied by 10-15%.
    parallel_rounds: int = 3
    # The real-pages folder (score.py and wcxb/ in it); None: that section is skipped. The CLI
    # looks for ../shared/realpages when no path is given.
    real_pages: str | None = None
    real_pages_limit: int | None = None  # that many pages, spread evenly; None: all
    real_pages_only: bool = False  # skip the generated corpus and every other section
    # Cross-validate the page model by site on the real pages (the numbers to quote: the
    # shipped model was trained on those pages); needs scikit-learn.
    real_pages_cv: bool = True
    # Speed per core (see :func:`speed_section`): this many generated documents and a
    # low-repetition corpus of the same size; None: as many as ``docs``; 0: skip.
    speed_docs: int | None = None
    # Runs of each speed-per-core measurement, each in a fresh process; the median run (by CPU
    # seconds) is reported with all of them: one run varies by up to 1.4x on a shared machine.
    speed_repeats: int = 1

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(docs=400, sizes=(250, 1000), parallel_docs=4000, parallel_rounds=1,
                   real_pages_limit=150, real_pages_cv=False, speed_docs=200)


@dataclass(slots=True)
class SystemRun:
    """What one system did on one input: keep flags per line, timings, memory."""

    name: str
    keep: list[list[bool]]
    seconds: float
    peak_rss_mb: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    line_reasons: list[list[str]] | None = None
    clusters: list[str] | None = None
    index: dict[str, Any] = field(default_factory=dict)


def load_corpus(docs: int, seed: int, split: str) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    pairs = list(generate(GeneratorConfig(docs=docs, seed=seed, split=split)))
    return [d for d, _ in pairs], [g for _, g in pairs]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _config(name: str) -> Config:
    return Config().replace(boilerplate={"enabled": False}) if name == DEDUP_DUPS else Config()


def run_system(name: str, texts: Sequence[str], langs: Sequence[str]) -> SystemRun:
    """Run one system on the documents (in this process) and time it."""
    lines = [t.split("\n") for t in texts]
    if name in OURS:
        cleaner = Cleaner(_config(name))
        t0 = time.perf_counter()
        results = list(cleaner.clean_documents(
            Document(str(i), t) for i, t in enumerate(texts)))
        seconds = time.perf_counter() - t0
        keep = [[not v.dropped for v in r.verdicts] for r in results]
        stats = cleaner.stats
        clusters = [r.doc.cluster.id if r.doc.cluster else r.doc.id for r in results]
        run = SystemRun(name, keep, seconds, _peak_rss_mb(), dict(stats.stage_seconds),
                        dict(stats.reasons), [[v.reason for v in r.verdicts] for r in results],
                        clusters, index_usage(cleaner))
        cleaner.close()
        return run
    from .peers import get_peer

    peer = get_peer(name)
    t0 = time.perf_counter()
    keep = peer.run(lines, langs)
    seconds = time.perf_counter() - t0
    return SystemRun(name, keep, seconds, _peak_rss_mb())


def cluster_scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    """Adjusted Rand index of the predicted document clusters, and the cluster counts."""
    return {"ari": round(adjusted_rand_index(gold, pred), 4), "gold_clusters": len(set(gold)),
            "clusters": len(set(pred)), "documents": len(gold)}


def index_usage(cleaner: Cleaner) -> dict[str, Any]:
    """The corpus index's size: paragraphs, documents, bytes in memory and per paragraph."""
    if not cleaner.config.corpus.enabled:
        return {}
    index = cleaner.index
    return {"paragraphs": index.paragraphs, "documents": index.documents,
            "bytes": index.nbytes,
            "bytes_per_paragraph": round(index.nbytes / max(index.paragraphs, 1), 1)}


def _isolated(func: Callable[..., T], args: tuple[Any, ...], isolate: bool) -> T:
    """``func(*args)``, in a fresh spawned process when ``isolate`` (for its own peak RSS)."""
    if not isolate:
        return func(*args)
    from concurrent.futures import ProcessPoolExecutor

    # Not a multiprocessing.Pool: its workers are daemonic and may not start the worker
    # processes of a --jobs run.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_tuned, func, *args).result()


def _tuned(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` with the allocator and the cycle collector set as the ``dedup`` command
    sets them (a spawned process starts without), so every system is measured alike."""
    from ..allocator import tune_runtime

    tune_runtime()
    return func(*args)


SWEEP_CHUNK = 500


def sweep_one(name: str, size: int, seed: int, split: str) -> dict[str, Any]:
    """Time one system on ``size`` generated documents, streamed in chunks.

    Generating a chunk is not timed; the system's work on it is. Documents are never all in
    memory at once, so peak RSS shows what the system itself holds.
    """
    gen = generate(GeneratorConfig(docs=size, seed=seed, split=split))
    cleaner = Cleaner(_config(name)) if name in OURS else None
    peer = None
    if cleaner is None:
        from .peers import get_peer

        peer = get_peer(name)
    seconds = 0.0
    nbytes = 0
    while True:
        chunk = [doc for doc, _ in itertools.islice(gen, SWEEP_CHUNK)]
        if not chunk:
            break
        texts = [d["text"] for d in chunk]
        nbytes += sum(len(t.encode("utf-8")) for t in texts)
        t0 = time.perf_counter()
        if cleaner is not None:
            for _ in cleaner.clean_documents(Document(d["id"], d["text"]) for d in chunk):
                pass
        elif peer is not None:
            peer.run([t.split("\n") for t in texts], [d["lang"] for d in chunk])
        seconds += time.perf_counter() - t0
    mb = nbytes / 1e6
    out = {"system": name, "docs": size, "mb": round(mb, 3), "seconds": round(seconds, 4),
           "mb_per_s": round(mb / seconds, 3) if seconds else None,
           "peak_rss_mb": round(_peak_rss_mb(), 1)}
    if cleaner is not None:
        out["index"] = index_usage(cleaner)
        cleaner.close()
    return out


def hand_written_pages(peers: Sequence[str]) -> dict[str, Any]:
    """dedup (auto, learned, rules) and the line peers on the hand-written pages of
    ``corpus/pages/``: realistic dumps the generator never made (see :mod:`.pages`)."""
    from .pages import load_pages, run_pages, score_pages
    from .peers import get_peer

    out: dict[str, Any] = {}
    for variant in ("auto", "learned", "rules"):
        res = run_pages(variant)
        res.pop("errors", None)
        out[f"dedup ({variant})"] = res
    pages = load_pages()
    for name in peers:
        if name in OURS or name == "keep-all":
            continue
        keep = get_peer(name).run([p.lines for p in pages], [p.lang for p in pages])
        out[name] = score_pages(pages, keep)
    return out


def _generated(size: int, seed: int, split: str) -> tuple[list[str], float]:
    """The texts of ``size`` generated documents and their size in MB."""
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=size, seed=seed, split=split))]
    return texts, sum(len(t.encode("utf-8")) for t in texts) / 1e6


def _median_low(values: Iterable[float]) -> float:
    """The median of ``values``, the lower middle one of an even count (a value that was
    measured, as :func:`median_run` picks a run)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def parallel_one(jobs: int, size: int, seed: int, split: str) -> dict[str, Any]:
    """dedup with ``jobs`` local workers on ``size`` generated documents (generated first, not
    timed): wall time, and peak RSS of this process and of the largest worker."""
    texts, mb = _generated(size, seed, split)
    rss_before = _peak_rss_mb()
    cleaner = Cleaner(Config(), jobs=jobs)
    t0 = time.perf_counter()
    for _ in cleaner.clean_documents(texts, finished=True):  # as `dedup clean` runs
        pass
    seconds = time.perf_counter() - t0
    cleaner.close()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"jobs": jobs, "docs": size, "mb": round(mb, 3), "seconds": round(seconds, 3),
            "mb_per_s": round(mb / seconds, 3), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "rss_before_mb": round(rss_before, 1),
            "worker_peak_rss_mb": round(workers, 1) if jobs > 1 else None}


def amdahl(share: float, workers: int) -> float:
    """The speed-up over one process of ``workers`` workers when ``share`` of the work is
    serial (Amdahl's law)."""
    return 1.0 / (share + (1.0 - share) / workers)


def coordinator_one(size: int, seed: int, split: str) -> dict[str, Any]:
    """The serial share of a parallel run: two local workers and this process only
    coordinating (reading, the corpus stage, writing; it prepares no chunk itself, as a Dask
    client), on ``size`` generated documents, as ``dedup clean`` runs it: a JSONL file in,
    JSONL out (:func:`~dedup.batch.run_clean` with the executor given). CPU seconds (user
    plus system) of this process and of the workers during the clean, and the coordinator's
    share of their sum: by Amdahl, at most ``1 / share`` times one process however many
    workers. Also (``library_*``) the same with the texts in memory through
    :meth:`Cleaner.clean_documents`, each document's result made here."""
    from ..batch import run_clean
    from ..parallel import LocalExecutor, process_cpu

    texts, mb = _generated(size, seed, split)

    def shares(run: Callable[[LocalExecutor], None]) -> tuple[float, float, float]:
        ex = LocalExecutor(3, helping=False)
        self_before, children_before = process_cpu(), process_cpu(children=True)
        t0 = time.perf_counter()
        try:
            run(ex)
        finally:
            seconds = time.perf_counter() - t0
            client = process_cpu() - self_before
            ex.close()  # the workers are waited for: their CPU is counted among the children's
        return seconds, client, process_cpu(children=True) - children_before

    def library(ex: LocalExecutor) -> None:
        cleaner = Cleaner(Config(), executor=ex)
        for _ in cleaner.clean_documents(texts, finished=True):
            pass
        cleaner.close()

    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        src, out = Path(tmp) / "docs.jsonl", Path(tmp) / "clean.jsonl"
        with open(src, "w", encoding="utf-8") as fh:
            for n, text in enumerate(texts):
                fh.write(json.dumps({"id": f"doc-{n}", "text": text}) + "\n")
        def cli(ex: LocalExecutor) -> None:
            run_clean([str(src)], str(out), Config(), executor=ex)

        seconds, client, workers = shares(cli)
    _, lib_client, lib_workers = shares(library)
    return {"docs": size, "mb": round(mb, 3), "seconds": round(seconds, 3),
            "client_cpu_s": round(client, 3), "workers_cpu_s": round(workers, 3),
            "client_share": round(client / max(client + workers, 1e-9), 4),
            "library_client_cpu_s": round(lib_client, 3),
            "library_workers_cpu_s": round(lib_workers, 3),
            "library_client_share": round(lib_client / max(lib_client + lib_workers, 1e-9), 4)}


def halves_one(size: int, seed: int, split: str) -> dict[str, Any]:
    """The ceiling of ``--jobs 2`` on this machine: the parallel run's documents cut in two
    halves, each cleaned by ``--jobs 1`` in its own process, the two started together (a
    barrier) and timed from the first start to the last end. Nothing is shared, so what they
    lose against one process is the machine's (two busy cores running each slower), not
    dedup's."""
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(2)
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            futures = [pool.submit(_tuned, _half_one, part, size, seed, split, barrier)
                       for part in (0, 1)]
            spans = [f.result() for f in futures]
    seconds = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    mb = sum(m for _, _, m in spans)
    return {"jobs": "2 x 1 (halves)", "docs": size, "mb": round(mb, 3),
            "seconds": round(seconds, 3), "mb_per_s": round(mb / seconds, 3)}


def _half_one(part: int, size: int, seed: int, split: str, barrier: Any
              ) -> tuple[float, float, float]:
    """One half of :func:`halves_one`: (start, end, MB), on the shared wall clock."""
    texts, _ = _generated(size, seed, split)
    half = texts[: size // 2] if part == 0 else texts[size // 2:]
    cleaner = Cleaner(Config())
    barrier.wait()
    start = time.time()
    for _ in cleaner.clean_documents(half):
        pass
    end = time.time()
    cleaner.close()
    return start, end, sum(len(t.encode("utf-8")) for t in half) / 1e6


def median_run(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time among ``rows`` (runs of one worker count), with every
    run's seconds kept under ``runs_seconds``.

    >>> median_run([{"seconds": 3.0}, {"seconds": 1.0}, {"seconds": 2.0}])
    {'seconds': 2.0, 'runs_seconds': [3.0, 1.0, 2.0]}
    """
    ordered = sorted(rows, key=lambda row: row["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "runs_seconds": [row["seconds"] for row in rows]}


def round_speedups(base: list[float], runs: list[float]) -> dict[str, Any]:
    """Each round's speed-up against the base run of the same round, and their median: the
    runs of a round follow each other, so a machine whose speed drifts over minutes moves both
    sides of a round's ratio alike, not the medians of separate runs.

    >>> round_speedups([60.0, 50.0, 40.0], [30.0, 30.0, 20.0])
    {'round_speedups': [2.0, 1.667, 2.0], 'round_speedup_median': 2.0}
    """
    ratios = [round(b / r, 3) for b, r in zip(base, runs, strict=True)]
    return {"round_speedups": ratios,
            "round_speedup_median": _median_low(ratios)}


def baseline_rss_mb(isolate: bool = True) -> float:
    """Peak RSS of a fresh process that imports dedup and runs nothing (subtract for net)."""
    if not isolate:
        return 0.0
    return _isolated(_peak_rss_mb, (), True)


# speed per core ------------------------------------------------------------------------------

NAIVE = "datasketch-naive"
#: The runs of the speed section on each corpus, in order: (system, caches on); the naive
#: datasketch loop has no caches.
SPEED_RUNS: tuple[tuple[str, bool | None], ...] = (
    (DEDUP, True), (DEDUP, False), (DEDUP_DUPS, True), (DEDUP_DUPS, False), (NAIVE, None))


def _cpu() -> float:
    from ..parallel import process_cpu

    return process_cpu() + process_cpu(children=True)


def speed_one(system: str, caches: bool | None, path: str, mb: float) -> dict[str, Any]:
    """One run of the speed section on the JSONL corpus at ``path`` (``mb``: its text in MB),
    in this process: dedup's whole clean as ``dedup clean`` runs it (read, classifier,
    in-document and cross-document dedup, write) with the caches on or off (its models read
    before timing), or the naive datasketch loop on the documents' lines (read before timing).
    CPU seconds of this process and its children; the SHA-256 of dedup's output, to show that
    the caches change nothing."""
    import contextlib
    import hashlib

    from ..batch import run_clean
    from ..cache import caches_off

    row: dict[str, Any] = {"system": system,
                           "caches": None if caches is None else ("on" if caches else "off"),
                           "mb": round(mb, 3)}
    if system in OURS:
        # The models are read before timing (once per process, as the sweep's runs do): on a
        # few MB, reading them would weigh as much as cleaning. Reported apart.
        cpu0 = _cpu()
        Cleaner(_config(system)).close()
        row["startup_cpu_s"] = round(_cpu() - cpu0, 3)
        with tempfile.TemporaryDirectory(prefix="dedup-speed-") as tmp:
            out = Path(tmp) / "out.jsonl"
            switch = contextlib.nullcontext() if caches else caches_off()
            cpu0, t0 = _cpu(), time.perf_counter()
            with switch:
                run_clean([path], str(out), _config(system))
            cpu, wall = _cpu() - cpu0, time.perf_counter() - t0
            row["output_sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    else:
        from .peers import get_peer

        with open(path, encoding="utf-8") as fh:
            docs = [json.loads(line) for line in fh]
        lines = [d["text"].split("\n") for d in docs]
        langs = [d["lang"] for d in docs]
        peer = get_peer(system)
        cpu0, t0 = _cpu(), time.perf_counter()
        peer.run(lines, langs)
        cpu, wall = _cpu() - cpu0, time.perf_counter() - t0
    row.update({"cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                "mb_per_cpu_s": round(mb / cpu, 3) if cpu > 0 else None})
    return row


def _write_jsonl(path: Path, ids: Sequence[str], texts: Sequence[str], langs: Sequence[str]
                 ) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for doc_id, text, lang in zip(ids, texts, langs, strict=True):
            fh.write(json.dumps({"id": doc_id, "text": text, "lang": lang},
                                ensure_ascii=False) + "\n")


def speed_docs(cfg: BenchConfig) -> int:
    """The generated documents of the speed section: ``cfg.speed_docs``, or ``cfg.docs``."""
    return cfg.docs if cfg.speed_docs is None else cfg.speed_docs


def speed_corpora(cfg: BenchConfig) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...],
                                                        tuple[str, ...]]]:
    """The speed section's corpora: :func:`speed_docs` generated documents (seed + 3), and the
    low-repetition corpus of the same size (from ``cfg.real_pages`` when given, else the
    generator with syndication off; see :mod:`.lowrep`): name -> (source, ids, texts, langs)."""
    from .lowrep import build_lowrep

    docs = [d for d, _ in generate(GeneratorConfig(docs=speed_docs(cfg), seed=cfg.seed + 3,
                                                   split=cfg.split))]
    texts = tuple(d["text"] for d in docs)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    low = build_lowrep(mb, cfg.seed, Path(cfg.real_pages) if cfg.real_pages else None,
                       cfg.split)
    return {
        "generated": (f"generated ({cfg.split} split, seed {cfg.seed + 3})",
                      tuple(d["id"] for d in docs), texts, tuple(d["lang"] for d in docs)),
        "low-repetition": (low.source, low.ids, low.texts, low.langs),
    }


def speed_section(cfg: BenchConfig, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Speed per core: on the generated corpus and on the low-repetition one, each run of
    :data:`SPEED_RUNS` in a fresh process (with ``cfg.isolate``), MB of text per CPU-second,
    and each dedup run against the naive datasketch loop of the same corpus in the same run.
    ``None`` when ``cfg.speed_docs`` is 0."""
    if not speed_docs(cfg):
        return None
    from .lowrep import corpus_sha256, repetition

    say(f"speed per core: building the corpora ({speed_docs(cfg)} generated documents)")
    corpora: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dedup-speed-") as tmp:
        for name, (source, ids, texts, langs) in speed_corpora(cfg).items():
            path = Path(tmp) / f"{name}.jsonl"
            _write_jsonl(path, ids, texts, langs)
            stats = repetition(texts)
            corpora[name] = {"source": source, "sha256": corpus_sha256(texts), **stats}
            rows = []
            for system, caches in SPEED_RUNS:
                say(f"speed per core: {name}, {system}"
                    + ("" if caches is None else f", caches {'on' if caches else 'off'}"))
                runs_of = [_isolated(speed_one, (system, caches, str(path), stats["mb"]),
                                     cfg.isolate) for _ in range(max(cfg.speed_repeats, 1))]
                rows.append({"corpus": name, **_median_run(runs_of)})
            naive = rows[-1]["mb_per_cpu_s"]
            for row in rows:
                speed = row["mb_per_cpu_s"]
                row["x_naive"] = round(speed / naive, 2) if speed and naive else None
            by_system: dict[str, set[str]] = {}
            for row in rows:
                if "output_sha256" in row:
                    by_system.setdefault(row["system"], set()).add(row["output_sha256"])
            corpora[name]["same_output_caches_on_off"] = all(
                len(hashes) == 1 for hashes in by_system.values())
            runs += rows
    return {"corpora": corpora, "runs": runs}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median CPU time (the upper middle of an even count) among repeats of one
    measurement, with every run's CPU seconds (``cpu_s_runs``, in run order) and, for dedup,
    whether every run wrote the same output (``same_output_runs``)."""
    ranked = sorted(range(len(runs)), key=lambda i: runs[i]["cpu_s"])
    out = dict(runs[ranked[len(runs) // 2]])
    out["cpu_s_runs"] = [r["cpu_s"] for r in runs]
    hashes = {r["output_sha256"] for r in runs if "output_sha256" in r}
    if hashes:
        out["same_output_runs"] = len(hashes) == 1
    return out


def speed_markdown(speed: dict[str, Any]) -> list[str]:
    """The speed section's lines of markdown."""
    lines = ["Speed per core (MB of text per CPU-second, one fresh process per run; dedup: "
             "the whole clean as `dedup clean` runs it, reading a JSONL file, classifier, "
             "in-document and cross-document dedup, writing, its models loaded before timing; "
             "the naive datasketch loop: its documents read before timing):", ""]
    for name, c in speed["corpora"].items():
        lines.append(f"- {name}: {c['source']}; {c['docs']} documents, {c['lines']} lines, "
                     f"{c['mb']} MB, {c['bytes_per_line']} bytes a line; long paragraphs "
                     f"repeating an earlier one word for word {100 * c['long_repeat_share']:.1f}%"
                     f", lines {100 * c['line_repeat_share']:.1f}%; output the same with the "
                     f"caches on and off: {'yes' if c['same_output_caches_on_off'] else 'NO'}; "
                     f"sha256 {c['sha256'][:12]}")
    repeated = any(len(row.get("cpu_s_runs", ())) > 1 for row in speed["runs"])
    lines += ["", "| corpus | system | caches | MB | CPU s | MB per CPU-s | x datasketch-naive |"
              + (" all runs (CPU s) |" if repeated else ""),
              "| --- | --- | --- | ---: | ---: | ---: | ---: |" + (" --- |" if repeated else "")]
    for row in speed["runs"]:
        runs = ", ".join(map(str, row.get("cpu_s_runs", [row["cpu_s"]])))
        lines.append(f"| {row['corpus']} | {row['system']} | {row['caches'] or '-'} | "
                     f"{row['mb']} | {row['cpu_s']} | {row['mb_per_cpu_s']} | "
                     f"{row['x_naive'] if row['x_naive'] is not None else '-'} |"
                     + (f" {runs} |" if repeated else ""))
    if repeated:
        lines += ["", "Each row is the median of its runs (each in a fresh process), and its "
                  "ratio is over the median naive run of the same corpus."]
    return lines


def systems(cfg: BenchConfig) -> tuple[list[str], dict[str, str]]:
    """The systems to run (dedup first) and the peers left out, with why."""
    from .peers import available_peers, unavailable_peers

    names = [p.name for p in available_peers()]
    missing = dict(unavailable_peers())
    if cfg.peers is not None:
        for wanted in cfg.peers:
            if wanted not in names and wanted not in missing:
                from .peers import get_peer

                get_peer(wanted)  # raises ConfigError with the list of names
        names = [n for n in names if n in cfg.peers]
    return [DEDUP, DEDUP_DUPS, *names], missing


def real_pages(cfg: BenchConfig, say: Callable[[str], None]) -> dict[str, Any] | None:
    """dedup, the length baselines and the peers on the real pages, scored by the set's own
    scorer; ``None`` when ``cfg.real_pages`` is unset."""
    if cfg.real_pages is None:
        return None
    from .realpages import DEDUP_CV, cross_validated_systems, default_systems, run_real_pages

    found, not_run = default_systems(cfg.peers)
    if cfg.real_pages_cv:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            not_run[DEDUP_CV] = 'needs scikit-learn: pip install "dedup[train]"'
        else:
            found = {**cross_validated_systems(Path(cfg.real_pages), say=say), **found}
    out = run_real_pages(Path(cfg.real_pages), found, cfg.real_pages_limit, say)
    out["not_run"] = not_run
    return out


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": multiprocessing.cpu_count(),
            "platform": platform.platform()}


def run_bench(cfg: BenchConfig, progress: Any = None) -> dict[str, Any]:
    """Run the whole benchmark; returns the results as a JSON-ready dict.

    With ``cfg.real_pages_only`` only the real-pages section runs: the dict then has no
    ``quality`` (and :func:`write_results` writes ``real_pages.*``, not ``results.*``).
    """
    say = progress or (lambda msg: None)
    names, missing = systems(cfg)
    if cfg.real_pages is not None:
        from .realpages import check_root

        check_root(Path(cfg.real_pages))  # a wrong path fails now, not after the long sections
    if cfg.real_pages_only:
        if cfg.real_pages is None:
            raise ConfigError("real_pages_only needs the real-pages folder",
                              hint="give --real-pages PATH")
        return {"version": __version__, "machine": _machine(), "config": asdict(cfg),
                "real_pages": real_pages(cfg, say), "unavailable_peers": missing}
    say(f"generating {cfg.docs} documents ({cfg.split} split, seed {cfg.seed})")
    docs, gold = load_corpus(cfg.docs, cfg.seed, cfg.split)
    # the first copy of a line in the corpus is the one to keep
    labels = corpus_labels(gold, [d["text"] for d in docs])
    texts = [d["text"] for d in docs]
    langs = [d["lang"] for d in docs]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    base = baseline_rss_mb(cfg.isolate)
    quality: dict[str, Any] = {}
    for name in names:
        say(f"quality: {name}")
        run = _isolated(run_system, (name, texts, langs), cfg.isolate)
        scores = LineScores()
        reasons: list[list[str] | None] = [None] * len(docs)
        if run.line_reasons is not None:
            reasons = list(run.line_reasons)
        for doc, g, gl, keep, why in zip(docs, gold, labels, run.keep, reasons, strict=True):
            scores.add(gl, keep, doc["text"].split("\n"), g["site_lang"], why)
        extra: dict[str, Any] = {}
        if run.clusters is not None:
            extra["document_clusters"] = cluster_scores([g["cluster"] for g in gold],
                                                        run.clusters)
        if run.index:
            extra["index"] = run.index
        quality[name] = {
            **scores.summary(),
            "seconds": round(run.seconds, 4),
            "mb_per_s": round(mb / run.seconds, 3) if run.seconds else None,
            "docs_per_s": round(len(texts) / run.seconds, 1) if run.seconds else None,
            "peak_rss_mb": round(run.peak_rss_mb, 1),
            "stage_seconds": {k: round(v, 4) for k, v in run.stage_seconds.items()},
            "reasons": run.reasons,
            **extra,
        }
    sweep: list[dict[str, Any]] = []
    for size in cfg.sizes:
        say(f"sweep: {size} documents")
        for name in cfg.sweep_systems:
            if name not in OURS and (name not in names or size > cfg.peer_sweep_max):
                continue
            sweep.append(_isolated(sweep_one, (name, size, cfg.seed + 1, cfg.split),
                                   cfg.isolate))
    say("hand-written pages")
    pages = hand_written_pages(names)
    scaling: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []  # the coordinator's share, one run per round
    if cfg.parallel_docs:
        runs: dict[int, list[dict[str, Any]]] = {jobs: [] for jobs in cfg.parallel_jobs}
        halves: list[dict[str, Any]] = []
        for r in range(cfg.parallel_rounds):
            for jobs in cfg.parallel_jobs:
                say(f"parallel: {cfg.parallel_docs} documents, {jobs} worker(s), "
                    f"round {r + 1} of {cfg.parallel_rounds}")
                runs[jobs].append(_isolated(parallel_one, (jobs, cfg.parallel_docs,
                                                           cfg.seed + 2, cfg.split),
                                            cfg.isolate))
            if 2 in cfg.parallel_jobs:  # in the same round, so the machine's speed is alike
                say(f"parallel: the two halves side by side, round {r + 1}")
                halves.append(halves_one(cfg.parallel_docs, cfg.seed + 2, cfg.split))
                say(f"parallel: two workers and a coordinating client, round {r + 1}")
                shares.append(_isolated(coordinator_one, (cfg.parallel_docs, cfg.seed + 2,
                                                          cfg.split), cfg.isolate))
        scaling = [median_run(rows) for rows in runs.values()]
        if halves:
            scaling.append({**median_run(halves), "peak_rss_mb": None,
                            "worker_peak_rss_mb": None})
        base = scaling[0]["seconds"]
        for row in scaling:
            row["speedup"] = round(base / row["seconds"], 3)
            row.update(round_speedups(scaling[0]["runs_seconds"], row["runs_seconds"]))
    speed = speed_section(cfg, say)
    real = real_pages(cfg, say)
    ours = quality[DEDUP]
    ratios = {
        name: {
            "speed": round(ours["mb_per_s"] / q["mb_per_s"], 3)
            if ours["mb_per_s"] and q["mb_per_s"] else None,
            "removal_f1_delta": round(ours["removal"]["f1"] - q["removal"]["f1"], 4),
            "token_f1_delta": round(ours["token_f1"] - q["token_f1"], 4),
        }
        for name, q in quality.items() if name != DEDUP
    }
    naive = quality.get("datasketch-naive")
    if naive and naive["mb_per_s"]:
        ratios["vs_datasketch_naive"] = {
            name: round(quality[name]["mb_per_s"] / naive["mb_per_s"], 2)
            for name in OURS if name in quality and quality[name]["mb_per_s"]}
    return {
        "version": __version__,
        "machine": _machine(),
        "config": asdict(cfg),
        "corpus": {"docs": len(texts), "mb": round(mb, 3), "split": cfg.split,
                   "lines": sum(len(g["labels"]) for g in gold)},
        "baseline_rss_mb": round(base, 1),
        "quality": quality,
        "ratios_vs_peers": ratios,
        "sweep": sweep,
        "parallel": scaling,
        "client_share": shares,
        "speed": speed,
        "pages": pages,
        "real_pages": real,
        "unavailable_peers": missing,
    }


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables (quality and speed, peers side by side; the sweep; the
    real pages)."""
    from .realpages import markdown_table

    if "quality" not in results:  # a real-pages-only run
        return markdown_table(results["real_pages"])
    q = results["quality"]
    c = results["corpus"]
    lines = [
        f"Corpus: {c['docs']} documents, {c['lines']} lines, {c['mb']} MB "
        f"({c['split']} split). Baseline RSS of an idle worker: {results['baseline_rss_mb']} MB.",
        "",
        "| system | removal P | removal R | removal F1 | boilerplate R | duplicate R | "
        "content lost | token F1 | MB/s | docs/s | peak RSS MB | dedup speed x |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in q.items():
        ratio = results["ratios_vs_peers"].get(name, {}).get("speed")
        lines.append(
            f"| {name} | {s['removal']['precision']:.3f} | {s['removal']['recall']:.3f} | "
            f"{s['removal']['f1']:.3f} | {s['boilerplate']['recall']:.3f} | "
            f"{s['duplicate']['recall']:.3f} | {s['content_lost']:.4f} | {s['token_f1']:.3f} | "
            f"{s['mb_per_s']} | {s['docs_per_s']} | {s['peak_rss_mb']} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} |")
    cats = sorted({k for s in q.values() for k in s["recall_by_category"]})
    lines += ["", "Boilerplate recall by category:", "",
              "| system | " + " | ".join(cats) + " |",
              "| --- | " + " | ".join("---:" for _ in cats) + " |"]
    for name, s in q.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{s['recall_by_category'].get(k, 0):.2f}" for k in cats) + " |")
    ours = q[DEDUP]
    langs = sorted(ours["boilerplate_recall_by_language"])
    lines += ["", "dedup by language (site template language): boilerplate recall / cookie "
              "recall:", "", "| " + " | ".join(langs) + " |",
              "| " + " | ".join("---:" for _ in langs) + " |",
              "| " + " | ".join(
                  f"{ours['boilerplate_recall_by_language'][k]:.3f} / "
                  f"{ours['cookie_recall_by_language'].get(k, float('nan')):.3f}"
                  for k in langs) + " |"]
    if "reason_precision" in ours:
        lines += ["", "dedup precision per reason (share of dropped lines that were not "
                  "content): " + ", ".join(f"{k} {v:.4f}"
                                           for k, v in ours["reason_precision"].items())]
    lines += ["", "Corpus-wide duplicates (gold: a line's first copy in input order is content, "
              "later copies in other documents are duplicate:cross-doc):", "",
              "| system | duplicate P | duplicate R | duplicate F1 | cross-doc P | cross-doc R | "
              "document clusters ARI | index bytes/paragraph | MB/s | x datasketch-naive |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    naive_speed = q.get("datasketch-naive", {}).get("mb_per_s")
    for name, s in q.items():
        if "cross_doc" not in s or name in ("keep-all", "c4-rules", "justext", "trafilatura"):
            continue
        d, x = s["duplicate"], s["cross_doc"]
        ari = s.get("document_clusters", {}).get("ari")
        bpp = s.get("index", {}).get("bytes_per_paragraph")
        speed = (f"{s['mb_per_s'] / naive_speed:.2f}" if naive_speed and s["mb_per_s"]
                 else "-")
        lines.append(f"| {name} | {d['precision']:.4f} | {d['recall']:.4f} | {d['f1']:.4f} | "
                     f"{x['precision']:.4f} | {x['recall']:.4f} | "
                     f"{'-' if ari is None else f'{ari:.4f}'} | {bpp or '-'} | "
                     f"{s['mb_per_s']} | {speed} |")
    if results["sweep"]:
        lines += ["", "Size sweep:", "", "| system | docs | MB | seconds | MB/s | peak RSS MB | "
                  "indexed paragraphs | index bytes/paragraph |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in results["sweep"]:
            ix = row.get("index") or {}
            lines.append(f"| {row['system']} | {row['docs']} | {row['mb']} | {row['seconds']} | "
                         f"{row['mb_per_s']} | {row['peak_rss_mb']} | "
                         f"{ix.get('paragraphs', '-')} | {ix.get('bytes_per_paragraph', '-')} |")
    if results.get("pages"):
        lines += ["", "Hand-written pages (`corpus/pages/`: 12 realistic dumps in 6 languages, "
                  "never generated nor trained on; 12 documents, so `auto` runs the page model "
                  "on text alone, without corpus counts):", "",
                  "| system | removal P | removal R | removal F1 | boilerplate R | "
                  "duplicate R | content lost |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, r in results["pages"].items():
            lines.append(f"| {name} | {r['removal']['precision']:.3f} | "
                         f"{r['removal']['recall']:.3f} | {r['removal']['f1']:.3f} | "
                         f"{r['boilerplate']['recall']:.3f} | {r['duplicate']['recall']:.3f} | "
                         f"{r['content_lost']:.4f} |")
    if results.get("parallel"):
        lines += ["", "Parallel (--jobs, local engine; documents generated before timing, so "
                  "the parent's RSS includes them; worker counts alternate, the median run of "
                  "each is shown; `2 x 1 (halves)`: the two halves of the documents cleaned "
                  "by two one-process runs side by side, the ceiling of two processes on this "
                  "machine):", "",
                  "| workers | docs | MB | seconds | all runs (s) | MB/s | speed-up | "
                  "parent peak RSS MB | largest worker peak RSS MB |",
                  "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
        for row in results["parallel"]:
            every = ", ".join(str(x) for x in row.get("runs_seconds", [row["seconds"]]))
            lines.append(f"| {row['jobs']} | {row['docs']} | {row['mb']} | {row['seconds']} | "
                         f"{every} | {row['mb_per_s']} | {row['speedup']} | "
                         f"{row['peak_rss_mb'] or '-'} | {row['worker_peak_rss_mb'] or '-'} |")
        per_round = [f"{row['jobs']}: " + ", ".join(map(str, row["round_speedups"]))
                     + f" (median {row['round_speedup_median']})"
                     for row in results["parallel"][1:] if row.get("round_speedups")]
        if per_round:
            lines += ["", "Speed-up against the first row's run of the same round: "
                      + "; ".join(per_round) + "."]
    if results.get("client_share"):
        runs = results["client_share"]
        median = _median_low(r["client_share"] for r in runs)
        lines += ["", f"Two workers and a client only coordinating (reading, the corpus stage, "
                  f"writing; `dedup clean` of a JSONL file): the client's share of the run's "
                  f"CPU {100 * median:.1f}% (median of {len(runs)}; at most "
                  f"{1 / max(median, 1e-9):.1f}x one process by Amdahl, "
                  f"{amdahl(median, 32):.1f}x on 32 workers); per round client / workers "
                  "CPU s: " + ", ".join(f"{r['client_cpu_s']} / {r['workers_cpu_s']}"
                                        for r in runs)]
        if all("library_client_share" in r for r in runs):
            lib = _median_low(r["library_client_share"] for r in runs)
            lines += [f"The same pages as texts in memory through `Cleaner.clean_documents` "
                      f"(a result made here a document): {100 * lib:.1f}%; per round "
                      "client / workers CPU s: " + ", ".join(
                          f"{r['library_client_cpu_s']} / {r['library_workers_cpu_s']}"
                          for r in runs)]
    stages = q[DEDUP]["stage_seconds"]
    if stages:
        total = sum(stages.values()) or 1.0
        lines += ["", "dedup time per stage: " + ", ".join(
            f"{k} {v:.3f}s ({100 * v / total:.0f}%)" for k, v in stages.items())]
        if stages.get("boilerplate"):
            lines += [f"boilerplate classifier alone: {c['mb'] / stages['boilerplate']:.1f} MB/s "
                      "on one core"]
    if results.get("speed"):
        lines += ["", *speed_markdown(results["speed"])]
    if results.get("real_pages"):
        lines += ["", markdown_table(results["real_pages"]).rstrip("\n")]
    if results.get("note"):
        lines += ["", f"Note: {results['note']}."]
    if results["unavailable_peers"]:
        lines += ["", "Not run: " + "; ".join(
            f"{k} ({v})" for k, v in results["unavailable_peers"].items())]
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], out: Path, plots: bool = True) -> list[Path]:
    """Write ``results.json``, ``results.md`` and, with matplotlib, PNG plots into ``out``.

    A real-pages-only run writes ``real_pages.json`` and ``real_pages.md`` instead (no plots), so
    it never overwrites the results of a whole run.
    """
    from ..io.writers import AtomicFile

    whole = "quality" in results
    stem = "results" if whole else "real_pages"
    written = []
    for name, body in ((f"{stem}.json", json.dumps(results, indent=2, sort_keys=True) + "\n"),
                       (f"{stem}.md", markdown(results))):
        fh = AtomicFile(out / name)
        fh.write(body)
        fh.commit()
        written.append(out / name)
    if plots and whole:
        written += _plots(results, out)
    return written


def _plots(results: dict[str, Any], out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    q = results["quality"]
    names = list(q)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].barh(names, [q[n]["removal"]["f1"] for n in names], color="tab:blue")
    axes[0].set_xlabel("removal F1 (higher is better)")
    axes[0].set_xlim(0, 1)
    axes[1].barh(names, [q[n]["mb_per_s"] or 1e-3 for n in names], color="tab:green")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("MB/s, one core, log scale (higher is better)")
    fig.tight_layout()
    path = out / "quality_speed.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    if results["sweep"]:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for system in sorted({r["system"] for r in results["sweep"]}):
            rows = [r for r in results["sweep"] if r["system"] == system]
            axes[0].plot([r["docs"] for r in rows], [r["seconds"] for r in rows], "o-",
                         label=system)
            axes[1].plot([r["docs"] for r in rows], [r["peak_rss_mb"] for r in rows], "o-",
                         label=system)
        for ax, label in zip(axes, ("seconds", "peak RSS (MB)"), strict=True):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("documents")
            ax.set_ylabel(label)
            ax.legend()
        fig.tight_layout()
        path = out / "sweep.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
