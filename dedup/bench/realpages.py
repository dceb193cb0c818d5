"""Real pages: dedup, simple baselines and the peers on the WCXB dev split in ``shared/realpages``
(1,252 scraped-text dumps with a gold main text and snippets to keep or remove), scored by the
set's own ``score.py``.

The data and the scorer are read from where the user keeps them, never copied into the project;
the scorer is imported from that folder so the numbers are the official scorer's. A system is a
callable from pages to one output text per page, so any cleaner can be plugged in.

>>> line = " ".join(["content"] * 20)  # 159 characters
>>> page = RealPage("p", "x.org", "article", f"Home\\nMenu\\n{line}")
>>> baselines()["length>100"]([page]) == [line]
True
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..config import Config
from ..errors import ConfigError, InputError
from ..pipeline import Cleaner
from ..types import Document

#: Where ``dedup bench`` looks for the set when no path is given (relative to the current
#: directory): the shared folder beside a checkout.
DEFAULT_ROOT = Path("..") / "shared" / "realpages"
SET = "wcxb"  # the set's folder under the root, and the scorer's name for it
SCORER_FUNCTIONS = ("score_set", "summarize", "summarize_snippets", "read_page_types")
LANG = "en"  # the set is mostly English; the peers' stoplists need one language
MIN_CHARS = 100  # the length baselines keep lines longer than this
# Peers of dedup/bench/peers.py run here, in this order (exact-lines and the naive MinHash loop
# are duplicate removers: the length>100+exact baseline stands for them).
REAL_PEERS = ("keep-all", "c4-rules", "justext", "trafilatura")
DEDUP_DIRECTORY = "dedup, shipped model (trained on these pages): directory"
DEDUP_PAGE = "dedup, shipped model (trained on these pages): one page at a time"


@dataclass(frozen=True, slots=True)
class RealPage:
    """One page of the set: its file stem, site, page type (from the manifest) and text dump."""

    name: str
    domain: str
    page_type: str
    text: str


System = Callable[[Sequence[RealPage]], list[str]]
Progress = Callable[[str], None]


def default_root(cwd: Path | None = None) -> Path | None:
    """``../shared/realpages`` relative to ``cwd`` (default: the current directory) when it holds
    the set and its scorer, else ``None``."""
    root = (cwd or Path.cwd()) / DEFAULT_ROOT
    return root if (root / "score.py").is_file() and (root / SET).is_dir() else None


def check_root(root: Path) -> Path:
    """``root`` if it holds ``score.py`` and ``wcxb/{pages,gold,with,without,manifest.tsv}``;
    :class:`~dedup.errors.InputError` naming what is missing otherwise."""
    hint = "give the shared realpages folder (the one with score.py and wcxb/ in it)"
    if not root.is_dir():
        raise InputError(f"real pages: {root} is not a directory", hint=hint)
    need = [root / "score.py", root / SET / "manifest.tsv",
            *(root / SET / d for d in ("pages", "gold", "with", "without"))]
    missing = [str(p.relative_to(root)) for p in need if not p.exists()]
    if missing:
        raise InputError(f"real pages: {root} has no {', '.join(missing)}", hint=hint)
    return root


def load_scorer(root: Path) -> ModuleType:
    """Import ``root/score.py`` (the set's official scorer) as a module; InputError when it does
    not import or lacks the functions scoring needs."""
    path = check_root(root) / "score.py"
    spec = importlib.util.spec_from_file_location("dedup_realpages_score", path)
    if spec is None or spec.loader is None:
        raise InputError(f"real pages: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any failure of a foreign script is an input problem here
        raise InputError(f"real pages: {path} does not import ({type(exc).__name__}: {exc})",
                         hint="use the score.py that came with the set") from exc
    lacking = [f for f in SCORER_FUNCTIONS if not callable(getattr(module, f, None))]
    if lacking:
        raise InputError(f"real pages: {path} has no {', '.join(lacking)}",
                         hint="use the score.py that came with the set")
    return module


def read_manifest(root: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """The manifest's provenance comment (``source=... commit=... split=...``) and its rows by
    page name."""
    path = root / SET / "manifest.tsv"
    source = ""
    header: list[str] | None = None
    rows: dict[str, dict[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            source = source or line.lstrip("# ").strip()
            continue
        if not line.strip():
            continue
        cols = line.split("\t")
        if header is None:
            header = cols
            if "name" not in header:
                raise InputError(f"real pages: {path} has no 'name' column",
                                 hint="use the manifest.tsv that came with the set")
            continue
        row = dict(zip(header, cols, strict=False))
        rows[row["name"]] = row
    return source, rows


def pick(names: Sequence[str], limit: int | None) -> list[str]:
    """``limit`` names spread evenly over ``names`` (every k-th), or all of them.

    >>> pick(["a", "b", "c", "d", "e", "f"], 3)
    ['a', 'c', 'e']
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"real pages limit = {limit} is out of range", hint="use 1 or more")
    if limit is None or limit >= len(names):
        return list(names)
    return [names[i * len(names) // limit] for i in range(limit)]


def load_pages(root: Path, limit: int | None = None) -> list[RealPage]:
    """The pages that have a gold file (as the scorer counts them), sorted by name, ``limit`` of
    them spread evenly when given."""
    wcxb = check_root(root) / SET
    _, manifest = read_manifest(root)
    names = sorted(p.stem for p in (wcxb / "gold").glob("*.txt"))
    if not names:
        raise InputError(f"real pages: no gold files in {wcxb / 'gold'}",
                         hint="the set's gold/NAME.txt files are missing")
    pages = []
    for name in pick(names, limit):
        path = wcxb / "pages" / f"{name}.txt"
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"real pages: cannot read {path} ({exc})",
                             hint="every gold/NAME.txt needs its pages/NAME.txt") from exc
        row = manifest.get(name, {})
        pages.append(RealPage(name, row.get("domain", ""), row.get("page_type", ""), text))
    return pages


# systems -----------------------------------------------------------------------------------

def _kept(lines: Sequence[str], flags: Sequence[bool]) -> str:
    return "\n".join(line for line, keep in zip(lines, flags, strict=True) if keep)


def _length(pages: Sequence[RealPage]) -> list[str]:
    return ["\n".join(s for line in p.text.split("\n") if len(s := line.strip()) > MIN_CHARS)
            for p in pages]


def _length_exact(pages: Sequence[RealPage]) -> list[str]:
    seen: set[str] = set()  # one set for the whole run: a line's first copy in the set stays
    out = []
    for page in pages:
        kept = []
        for line in page.text.split("\n"):
            s = line.strip()
            if len(s) > MIN_CHARS and s not in seen:
                kept.append(s)
                seen.add(s)
        out.append("\n".join(kept))
    return out


def baselines() -> dict[str, System]:
    """Two floors any cleaner should beat: lines longer than 100 characters, and the same with
    exact-line dedup across the whole set."""
    return {f"length>{MIN_CHARS}": _length, f"length>{MIN_CHARS}+exact": _length_exact}


def peer_system(name: str) -> System:
    """A peer of :mod:`.peers` as a system: the lines it keeps, language ``en`` for every page."""
    from .peers import get_peer

    peer = get_peer(name)

    def run(pages: Sequence[RealPage]) -> list[str]:
        docs = [p.text.split("\n") for p in pages]
        flags = peer.run(docs, [LANG] * len(docs))
        return [_kept(doc, keep) for doc, keep in zip(docs, flags, strict=True)]

    return run


def peer_systems(wanted: Collection[str] | None = None) -> tuple[dict[str, System],
                                                                 dict[str, str]]:
    """The :data:`REAL_PEERS` that can run here (those in ``wanted`` when given) and why the
    others cannot."""
    from .peers import available_peers, unavailable_peers

    names = {p.name for p in available_peers()}
    missing = {k: v for k, v in unavailable_peers().items()
               if k in REAL_PEERS and (wanted is None or k in wanted)}
    chosen = [n for n in REAL_PEERS if n in names and (wanted is None or n in wanted)]
    return {n: peer_system(n) for n in chosen}, missing


def _directory_and_single(cleaner_for: Callable[[RealPage], Cleaner],
                          group: Callable[[RealPage], object]) -> tuple[System, System]:
    """The two ways users run dedup: the pages of each ``group`` as one corpus in one run
    (as ``dedup clean DIR`` does, in name order), and each page alone with a fresh cleaner."""

    def directory(pages: Sequence[RealPage]) -> list[str]:
        out: dict[str, str] = {}
        for key in dict.fromkeys(map(group, pages)):
            part = [p for p in pages if group(p) == key]
            cleaner = cleaner_for(part[0])
            try:
                docs = (Document(id=f"{p.name}.txt", text=p.text, source=f"{p.name}.txt",
                                 ordinal=n) for n, p in enumerate(part))
                out.update((p.name, r.text) for p, r in zip(
                    part, cleaner.clean_documents(docs), strict=True))
            finally:
                cleaner.close()
        return [out[p.name] for p in pages]

    def one_at_a_time(pages: Sequence[RealPage]) -> list[str]:
        out = []
        for page in pages:
            cleaner = cleaner_for(page)
            try:
                out.append(cleaner.clean(Document(id=f"{page.name}.txt", text=page.text)).text)
            finally:
                cleaner.close()
        return out

    return directory, one_at_a_time


def dedup_systems(config: Config | None = None) -> dict[str, System]:
    """dedup as users run it: all pages as one corpus in one run (what ``dedup clean DIR`` does,
    pages in name order), and each page alone with a fresh cleaner (no corpus evidence)."""
    cfg = config or Config()
    directory, one_at_a_time = _directory_and_single(lambda page: Cleaner(cfg), lambda page: 0)
    return {DEDUP_DIRECTORY: directory, DEDUP_PAGE: one_at_a_time}


DEDUP_CV = "dedup, cross-validated by site"
DEDUP_CV_DIRECTORY = f"{DEDUP_CV}: directory"
DEDUP_CV_PAGE = f"{DEDUP_CV}: one page at a time"


def cross_validated_systems(root: Path, cfg: Any = None, say: Progress | None = None
                            ) -> dict[str, System]:
    """dedup with the page model cross-validated by site: one model per domain fold, trained
    (words model and trees, with the generated corpus) without that fold's sites; each page is
    cleaned with its fold's model, as a directory (the fold's pages in one run) and one page at a
    time. These are the numbers to quote: the shipped model was trained on every page here.
    Needs the ``train`` extra (scikit-learn)."""
    from ..boilerplate.labelled import load_pages as load_labelled
    from ..boilerplate.page import PageClassifier
    from ..boilerplate.train_page import PageTrainConfig, cross_validate

    labelled = load_labelled(root)
    fold, models = cross_validate(cfg or PageTrainConfig(), labelled, say)
    fold_of = {p.name: int(k) for p, k in zip(labelled, fold.tolist(), strict=True)}
    config = Config()

    def cleaner(page: RealPage) -> Cleaner:
        model = models[fold_of[page.name]]
        return Cleaner(config, classifiers=[PageClassifier(config.boilerplate, model=model)])

    directory, one_at_a_time = _directory_and_single(cleaner, lambda page: fold_of[page.name])
    return {DEDUP_CV_DIRECTORY: directory, DEDUP_CV_PAGE: one_at_a_time}


def cross_validated_scores(root: Path, cfg: Any = None, say: Progress | None = None,
                           limit: int | None = None) -> dict[str, Any]:
    """:func:`run_real_pages` of :func:`cross_validated_systems`."""
    return run_real_pages(root, cross_validated_systems(root, cfg, say), limit, say)


def default_systems(peers: Collection[str] | None = None) -> tuple[dict[str, System],
                                                                    dict[str, str]]:
    """dedup, the baselines and the peers (those in ``peers`` when given), in table order, and
    the peers that cannot run with why."""
    found, missing = peer_systems(peers)
    return {**dedup_systems(), **baselines(), **found}, missing


# running and scoring -----------------------------------------------------------------------

def score_outputs(scorer: ModuleType, root: Path, names: Sequence[str],
                  outputs: Sequence[str]) -> dict[str, Any]:
    """Score one system's outputs as ``score.py --outputs`` does: write ``TMP/wcxb/NAME.txt``,
    then its ``score_set``, ``summarize``, ``summarize_snippets`` and F1 by page type."""
    wcxb = root / SET
    with tempfile.TemporaryDirectory(prefix="dedup-realpages-") as tmp:
        out_dir = Path(tmp) / SET
        out_dir.mkdir()
        for name, text in zip(names, outputs, strict=True):
            (out_dir / f"{name}.txt").write_text(text, encoding="utf-8", errors="replace")
        rows: list[dict[str, Any]] = scorer.score_set(wcxb / "gold", out_dir, list(names), 1,
                                                      wcxb)
    types: dict[str, str] = scorer.read_page_types(wcxb / "manifest.tsv")
    summary: dict[str, Any] = dict(scorer.summarize(rows))
    summary.update(scorer.summarize_snippets(rows))
    by_type: dict[str, list[float]] = {}
    for row in rows:
        if page_type := types.get(row["name"], ""):
            by_type.setdefault(page_type, []).append(row["F1"])
    summary["F1_by_type"] = {t: {"docs": len(v), "F1": statistics.mean(v)}
                             for t, v in sorted(by_type.items())}
    return summary


def run_real_pages(root: Path, systems: Mapping[str, System], limit: int | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Run every system on the pages (``limit``: that many, spread evenly) and score each with
    the set's ``score.py``; a JSON-ready dict with the data and one entry per system."""
    say = progress or (lambda msg: None)
    scorer = load_scorer(root)
    source, _ = read_manifest(root)
    pages = load_pages(root, limit)
    total = len(list((root / SET / "gold").glob("*.txt")))
    names = [p.name for p in pages]
    nbytes = sum(len(p.text.encode("utf-8")) for p in pages)
    results: dict[str, Any] = {}
    for name, system in systems.items():
        say(f"real pages: {name} on {len(pages)} pages")
        t0 = time.perf_counter()
        outputs = system(pages)
        seconds = time.perf_counter() - t0
        if len(outputs) != len(pages):
            raise ConfigError(f"real pages: system {name!r} returned {len(outputs)} outputs for "
                              f"{len(pages)} pages", hint="return one text per page, in order")
        summary = score_outputs(scorer, root, names, outputs)
        summary["seconds"] = round(seconds, 3)
        summary["MB_per_s"] = round(nbytes / 1e6 / seconds, 3) if seconds > 0 else None
        results[name] = summary
    return {"root": str(root.resolve()), "source": source, "pages": len(pages),
            "pages_in_set": total, "mb": round(nbytes / 1e6, 3), "lang": LANG,
            "systems": results}


def describe(source: str) -> str:
    """The manifest's provenance comment for a reader.

    >>> describe("source=owner/bench commit=c039d5ee9f5a split=dev")
    'owner/bench at c039d5ee, dev split'
    """
    fields = dict(part.partition("=")[::2] for part in source.split())
    if "source" not in fields:
        return source
    out = fields["source"]
    if fields.get("commit"):
        out += f" at {fields['commit'][:8]}"
    return out + (f", {fields['split']} split" if fields.get("split") else "")


def markdown_table(results: Mapping[str, Any]) -> str:
    """The results of :func:`run_real_pages` as markdown: one row per system, then F1 by page
    type."""
    systems: Mapping[str, Any] = results["systems"]
    lines = [
        f"Real pages: {results['pages']} of the {results['pages_in_set']} pages of "
        f"{describe(results['source']) or results['root']} ({results['mb']} MB of text dumps), "
        "scored by "
        "the set's score.py: token P/R/F1 against the gold per page, averaged; leak = share of "
        "the `without` snippets left in the output (cookie: the cookie and consent ones); kept "
        "`with` = share of the `with` snippets kept. All in one process, language en.",
        "",
        "| system | F1 | P | R | leak | cookie leak | kept `with` | MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in systems.items():
        speed = "-" if s["MB_per_s"] is None else f"{s['MB_per_s']:.2f}"
        lines.append(f"| {name} | {s['F1']:.3f} | {s['P']:.3f} | {s['R']:.3f} | "
                     f"{s['leak']:.3f} | {s['leak_cookie']:.3f} | {s['kept_with']:.3f} | "
                     f"{speed} |")
    docs: dict[str, int] = {}
    for s in systems.values():
        for page_type, v in s["F1_by_type"].items():
            docs[page_type] = v["docs"]
    if docs:
        types = sorted(docs)
        lines += ["", "F1 by page type (pages):", "",
                  "| system | " + " | ".join(f"{t} ({docs[t]})" for t in types) + " |",
                  "| --- | " + " | ".join("---:" for _ in types) + " |"]
        for name, s in systems.items():
            lines.append(f"| {name} | " + " | ".join(
                f"{s['F1_by_type'][t]['F1']:.3f}" if t in s["F1_by_type"] else "-"
                for t in types) + " |")
    if results.get("not_run"):
        lines += ["", "Not run: " + "; ".join(f"{k} ({v})"
                                              for k, v in results["not_run"].items())]
    return "\n".join(lines) + "\n"
