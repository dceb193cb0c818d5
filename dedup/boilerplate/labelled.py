"""Real pages with human gold, as labelled lines for training and cross-validation.

A directory laid out as WCXB's dump (``wcxb/pages/NAME.txt``: one HTML block per line;
``wcxb/gold/NAME.txt``: the main content; ``wcxb/manifest.tsv``: page type and domain) gives a
label to every line of every page: a line is content when most of its tokens align with the gold
text. The alignment is monotone (:class:`difflib.SequenceMatcher` on ``\\w+`` tokens, the
scorer's tokens), so a gold paragraph the extractor split over several lines, or several gold
lines joined in one dump line, still label right, and a title repeated in a menu before the
article is not taken for the article's own copy. Matches of one or two tokens count only where
they are a whole gold line (a heading "Reviews"), not a stray word inside a menu.

Pages are read from where the user keeps them; nothing is copied into the project.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

_TOKEN = re.compile(r"\w+")
SHORT_MATCH = 3  # matching blocks shorter than this count only as whole gold lines
CONTENT_SHARE = 0.5  # a line is content when this share of its tokens aligns with the gold


@dataclass(frozen=True, slots=True)
class LabelledPage:
    """One real page: its dump lines, a content label per line, where it comes from."""

    name: str
    domain: str
    page_type: str
    lines: tuple[str, ...]
    content: np.ndarray  # bool per line (blank lines: False)


def line_labels(lines: Sequence[str], gold: str) -> np.ndarray:
    """Which of ``lines`` belong to the ``gold`` text (see the module docstring).

    >>> line_labels(["Home", "News", "The council met on Monday to vote.", "Share"],
    ...             "The council met on Monday to vote.").tolist()
    [False, False, True, False]
    """
    toks: list[str] = []
    owner: list[int] = []
    for i, line in enumerate(lines):
        found = _TOKEN.findall(line)
        toks += found
        owner += [i] * len(found)
    gold_toks: list[str] = []
    gold_start: set[int] = set()
    gold_end: set[int] = set()
    for gline in gold.splitlines():
        found = _TOKEN.findall(gline)
        if found:
            gold_start.add(len(gold_toks))
            gold_toks += found
            gold_end.add(len(gold_toks))
    n = len(lines)
    if not toks or not gold_toks:
        return np.zeros(n, dtype=bool)
    own = np.asarray(owner, dtype=np.int64)
    starts = np.searchsorted(own, np.arange(n), side="left")
    ends = np.searchsorted(own, np.arange(n), side="right")
    hit = np.zeros(len(toks), dtype=bool)
    matcher = difflib.SequenceMatcher(None, toks, gold_toks, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        if not size:
            continue
        if size < SHORT_MATCH and not (
                b in gold_start and b + size in gold_end
                and a == starts[owner[a]] and a + size == ends[owner[a + size - 1]]):
            continue
        hit[a:a + size] = True
    total = ends - starts
    got = np.bincount(own[hit], minlength=n)
    out: np.ndarray = (total > 0) & (got >= CONTENT_SHARE * np.maximum(total, 1))
    return out


def _manifest(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = [line for line in f if not line.startswith("#")]
    return {row["name"]: row for row in csv.DictReader(rows, delimiter="\t")}


def find_set(root: Path) -> Path:
    """The WCXB-style set under ``root`` (``root`` itself or ``root/wcxb``)."""
    for cand in (root / "wcxb", root):
        if (cand / "pages").is_dir() and (cand / "gold").is_dir():
            return cand
    raise InputError(f"no real-page set in {root}",
                     hint="give the directory that holds wcxb/pages and wcxb/gold "
                          "(for example ../shared/realpages)")


def load_pages(root: Path, limit: int | None = None) -> list[LabelledPage]:
    """The labelled pages under ``root`` in name order (every k-th one when ``limit`` is
    given, so a quick run still spans the whole set)."""
    base = find_set(root)
    meta = _manifest(base / "manifest.tsv") if (base / "manifest.tsv").exists() else {}
    names = sorted(p.stem for p in (base / "gold").glob("*.txt")
                   if (base / "pages" / p.name).exists())
    if limit is not None and 0 < limit < len(names):
        step = len(names) / limit
        names = [names[int(i * step)] for i in range(limit)]
    out = []
    for name in names:
        text = (base / "pages" / f"{name}.txt").read_text(encoding="utf-8", errors="replace")
        lines = tuple(line.strip() for line in text.split("\n"))
        if lines and lines[-1] == "":
            lines = lines[:-1]
        gold = (base / "gold" / f"{name}.txt").read_text(encoding="utf-8", errors="replace")
        row = meta.get(name, {})
        out.append(LabelledPage(name, row.get("domain", name), row.get("page_type", ""),
                                lines, line_labels(lines, gold)))
    return out


def domain_folds(pages: Sequence[LabelledPage], k: int) -> np.ndarray:
    """A fold number per page such that every site's pages share one fold (cross-validation by
    domain): the sites, ordered by a stable hash of their name, are dealt to the ``k`` folds in
    turn, so every fold gets sites when there are ``k`` or more, and the split does not depend
    on the order the pages were read in."""
    import zlib

    sites = sorted({p.domain for p in pages}, key=lambda d: (zlib.crc32(d.encode()), d))
    fold_of = {d: i % k for i, d in enumerate(sites)}
    return np.asarray([fold_of[p.domain] for p in pages], dtype=np.int64)
