"""Hand-written page dumps with gold labels: dedup measured on pages the corpus generator never
produced (``corpus/pages/NN_LANG_slug.txt``, described in that folder's README).

Every line of a page file is ``LABEL<TAB>text``, one paragraph per line as a text extractor emits
a page. ``LABEL`` is ``content``, ``duplicate`` (a later, possibly cut, copy of an earlier line of
the same page), ``boilerplate:<category>`` or ``blank`` (an empty line). Blank lines are part of
the text dedup sees but are scored as neither content nor removable: they are left out of both the
gold labels and the keep flags.

>>> [(p.name, p.lang) for p in load_pages()][:2]
[('01_en_cookie-fine', 'en'), ('02_en_storm-liveblog', 'en')]
>>> result = run_pages("rules")
>>> result["classifiers"], result["pages"], sorted(result["removal"])
(['RuleClassifier'], 12, ['f1', 'fn', 'fp', 'precision', 'recall', 'tp'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from ..config import Config
from ..corpus.sources import CATEGORIES
from ..corpus.sources import default_root as corpus_root
from ..errors import ConfigError, InputError
from ..pipeline import Cleaner
from ..types import Document
from .metrics import CONTENT, DUPLICATE, LineScores

BLANK = "blank"
LABELS = frozenset({CONTENT, DUPLICATE, BLANK, *(f"boilerplate:{c}" for c in CATEGORIES)})
# The dedup configurations run_pages knows: name -> boilerplate settings over Config().
VARIANTS: dict[str, dict[str, Any]] = {
    "auto": {},
    "learned": {"classifier": "learned"},
    "rules": {"classifier": "rules"},
}
_NAME = regex.compile(r"^\d{2}_([a-z]{2})_[a-z0-9-]+$")


@dataclass(frozen=True, slots=True)
class Page:
    """One labelled page: file stem, language, the text dedup sees, and one label per line."""

    name: str
    lang: str
    text: str
    labels: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def default_root() -> Path:
    """The ``corpus/pages/`` folder of a source checkout."""
    return corpus_root() / "pages"


def parse_page(path: Path) -> Page:
    """Parse one page file; raises InputError naming the file and line on a format error.

    Trailing blank lines are dropped: the segmenter gives no paragraph after the final newline,
    so they would leave the labels one longer than dedup's verdicts.
    """
    m = _NAME.match(path.stem)
    if m is None:
        raise InputError(f"{path}: page file name is not NN_LANG_slug.txt",
                         hint="name it like 01_en_cookie-fine.txt")
    labels: list[str] = []
    lines: list[str] = []
    for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        label, tab, text = row.partition("\t")
        if not tab:
            raise InputError(f"{path}:{n}: no tab between label and text",
                             hint="write each line as LABEL<TAB>text")
        if label not in LABELS:
            raise InputError(f"{path}:{n}: unknown label {label!r}",
                             hint=f"use one of: {', '.join(sorted(LABELS))}")
        if (label == BLANK) != (not text.strip()):
            raise InputError(f"{path}:{n}: label 'blank' must go with an empty line and only there",
                             hint="label empty lines 'blank' and give every other line text")
        labels.append(label)
        lines.append(text)
    while labels and labels[-1] == BLANK:
        labels.pop()
        lines.pop()
    if not labels:
        raise InputError(f"{path}: the page has no lines")
    return Page(path.stem, m.group(1), "\n".join(lines), tuple(labels))


def load_pages(root: Path | None = None) -> list[Page]:
    """Every page under ``root`` (default: the checkout's ``corpus/pages``), in name order."""
    folder = default_root() if root is None else root
    if not folder.is_dir():
        raise InputError(f"{folder}: labelled pages not found",
                         hint="run from a source checkout or pass the corpus/pages folder")
    pages = [parse_page(p) for p in sorted(folder.glob("*.txt"))]
    if not pages:
        raise InputError(f"{folder}: no page files (*.txt)")
    return pages


def _scored(page: Page, keep: Sequence[bool]) -> tuple[list[int], list[str], list[bool]]:
    """The non-blank line positions of ``page`` with their labels and keep flags."""
    if len(keep) != len(page.labels):
        raise ValueError(f"{page.name}: {len(page.labels)} lines but {len(keep)} keep flags")
    idx = [i for i, label in enumerate(page.labels) if label != BLANK]
    return idx, [page.labels[i] for i in idx], [keep[i] for i in idx]


def score_pages(pages: Sequence[Page], keep_flags_per_page: Sequence[Sequence[bool]],
                reasons_per_page: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Score keep flags (one per line, blank lines included) against the pages' gold labels.

    Gives :meth:`LineScores.summary` over all pages (blank lines left out), plus ``pages``,
    ``lines`` (scored) and ``page_removal_f1`` (removal F1 of each page by name).

    >>> page = Page("01_en_x", "en", "Accept cookies\\n\\nText", (
    ...     "boilerplate:cookie", "blank", "content"))
    >>> s = score_pages([page], [[False, False, True]])
    >>> s["removal"]["f1"], s["lines"], s["recall_by_category"]
    (1.0, 2, {'cookie': 1.0})
    """
    if len(pages) != len(keep_flags_per_page):
        raise ValueError(f"{len(pages)} pages but {len(keep_flags_per_page)} keep-flag lists")
    total = LineScores()
    per_page: dict[str, float] = {}
    lines = 0
    for n, (page, keep) in enumerate(zip(pages, keep_flags_per_page, strict=True)):
        idx, labels, flags = _scored(page, keep)
        text = page.lines
        kept_lines = [text[i] for i in idx]
        reasons = None if reasons_per_page is None else [reasons_per_page[n][i] for i in idx]
        total.add(labels, flags, kept_lines, page.lang, reasons)
        one = LineScores()
        one.add(labels, flags, kept_lines, page.lang)
        removal = one.summary()["removal"]
        per_page[page.name] = removal["f1"] if isinstance(removal, dict) else 0.0
        lines += len(idx)
    out: dict[str, Any] = dict(total.summary())
    out.update(pages=len(pages), lines=lines, page_removal_f1=per_page)
    return out


def line_errors(pages: Sequence[Page], keep_flags_per_page: Sequence[Sequence[bool]],
                reasons_per_page: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """Every scored line dedup got wrong: content dropped (with the reason) or a removable line
    kept, as ``{"page", "line" (1-based), "gold", "kept", "reason", "text"}``."""
    out: list[dict[str, Any]] = []
    for page, keep, reasons in zip(pages, keep_flags_per_page, reasons_per_page, strict=True):
        text = page.lines
        for i, (label, kept) in enumerate(zip(page.labels, keep, strict=True)):
            if label != BLANK and kept != (label == CONTENT):
                out.append({"page": page.name, "line": i + 1, "gold": label, "kept": kept,
                            "reason": reasons[i], "text": text[i]})
    return out


def config_for(config_name: str) -> Config:
    """The :data:`VARIANTS` configuration called ``config_name``."""
    if config_name not in VARIANTS:
        raise ConfigError(f"unknown page-benchmark configuration {config_name!r}",
                          hint=f"use one of: {', '.join(VARIANTS)}")
    settings = VARIANTS[config_name]
    return Config().replace(boilerplate=settings) if settings else Config()


def run_pages(config_name: str, root: Path | None = None) -> dict[str, Any]:
    """Clean every page as one batch (one :class:`Cleaner`) under a :data:`VARIANTS`
    configuration and score it: :func:`score_pages`' summary, ``config`` and ``errors``
    (:func:`line_errors`). With a dozen pages, ``auto`` has no corpus counts and runs the rules.
    """
    config = config_for(config_name)
    pages = load_pages(root)
    cleaner = Cleaner(config)
    try:
        results = list(cleaner.clean_documents(Document(p.name, p.text) for p in pages))
    finally:
        cleaner.close()
    keep = [[not v.dropped for v in r.verdicts] for r in results]
    reasons = [[v.reason for v in r.verdicts] for r in results]
    out = score_pages(pages, keep, reasons)
    out["config"] = config_name
    out["classifiers"] = [type(c).__name__ for c in cleaner.classifiers]
    out["errors"] = line_errors(pages, keep, reasons)
    return out

