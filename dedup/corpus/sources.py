"""Loading the corpus sources: articles (``corpus/articles/LANG/*.txt``) and the boilerplate
library (``corpus/boilerplate/LANG/CATEGORY.txt``), with the dev/test split of both.

Article files start with ``lang:``, ``split:`` and ``title:`` headers, then ``---``, then one block
per line; a line may carry a role tag: ``[byline]``, ``[heading]``, ``[quote]``, ``[caption]``,
``[list]`` (untagged lines are paragraphs). Boilerplate files hold one phrasing per line.

Boilerplate phrasings are split in two halves per (language, category): the phrasings are ordered
by a seeded hash and alternate between ``dev`` and ``test``, so the halves are disjoint, balanced
and stable when a phrasing is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import regex
import xxhash

from ..errors import InputError

SPLITS = ("dev", "test")
# Halves of the dev split (articles and phrasings), for cross-fitting a model on dev alone.
SUBSPLITS = ("dev/0", "dev/1")
ROLES = ("paragraph", "byline", "heading", "quote", "caption", "list")
CATEGORIES = ("cookie", "nav", "login", "newsletter", "share", "related", "comments", "ads",
              "legal", "credits")
_TAG = regex.compile(r"^\[(\w+)\]\s*")
_SPLIT_SEED = 20261127


@dataclass(frozen=True, slots=True)
class Article:
    """A source article: its id (file stem), language, split, title and (role, text) lines."""

    id: str
    lang: str
    split: str
    title: str
    lines: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Library:
    """Boilerplate phrasings of one split: ``phrases[lang][category]``."""

    split: str
    phrases: Mapping[str, Mapping[str, tuple[str, ...]]]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.phrases))

    def get(self, lang: str, category: str) -> tuple[str, ...]:
        return self.phrases.get(lang, {}).get(category, ())


def default_root() -> Path:
    """The ``corpus/`` folder of a source checkout (where the data files live)."""
    return Path(__file__).resolve().parent.parent.parent / "corpus"


def _check_root(root: Path, what: str) -> Path:
    path = root / what
    if not path.is_dir():
        raise InputError(f"{path}: corpus sources not found",
                         hint="run from a source checkout or pass --source path/to/corpus")
    return path


def parse_article(path: Path) -> Article:
    """Parse one article file; raises InputError naming the file and line on a format error."""
    text = path.read_text(encoding="utf-8")
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise InputError(f"{path}: missing the '---' line between headers and body")
    headers: dict[str, str] = {}
    for n, line in enumerate(head.splitlines(), start=1):
        key, colon, value = line.partition(":")
        if not colon:
            raise InputError(f"{path}:{n}: expected 'key: value', got {line!r}")
        headers[key.strip()] = value.strip()
    for key in ("lang", "split", "title"):
        if not headers.get(key):
            raise InputError(f"{path}: header {key!r} is missing")
    if headers["split"] not in SPLITS:
        raise InputError(f"{path}: split must be one of {SPLITS}, got {headers['split']!r}")
    lines: list[tuple[str, str]] = []
    for raw in body.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        m = _TAG.match(raw)
        role = m.group(1) if m else "paragraph"
        if role not in ROLES:
            raise InputError(f"{path}: unknown role tag [{role}]")
        lines.append((role, raw[m.end():] if m else raw))
    return Article(path.stem, headers["lang"], headers["split"], headers["title"], tuple(lines))


def _parse_split(split: str) -> tuple[str, int | None]:
    name, _, part = split.partition("/")
    if name not in SPLITS or (part and split not in SUBSPLITS):
        raise InputError(f"unknown split {split!r}",
                         hint=f"use one of {', '.join(SPLITS + SUBSPLITS)}")
    return name, int(part) if part else None


def load_articles(root: Path | None = None, split: str | None = None) -> list[Article]:
    """Every article under ``root/articles``, sorted by id, optionally of one split.

    ``dev/0`` and ``dev/1`` are the even and odd dev articles of each language."""
    base = _check_root(root or default_root(), "articles")
    arts = [parse_article(p) for p in sorted(base.glob("*/*.txt"))]
    if split is None:
        return arts
    name, part = _parse_split(split)
    chosen = [a for a in arts if a.split == name]
    if part is None:
        return chosen
    out = []
    for lang in sorted({a.lang for a in chosen}):
        out += [a for a in chosen if a.lang == lang][part::2]
    return sorted(out, key=lambda a: a.id)


def split_phrases(phrases: list[str], split: str) -> tuple[str, ...]:
    """The ``split`` half of ``phrases``: ordered by seeded hash, alternating dev/test
    (``dev/0`` and ``dev/1`` alternate again within the dev half)."""
    def rank(s: str) -> int:
        return int(xxhash.xxh64_intdigest(s.encode(), _SPLIT_SEED))

    ordered = sorted(dict.fromkeys(phrases), key=rank)
    name, part = _parse_split(split)
    half = ordered[SPLITS.index(name)::2]
    return tuple(half if part is None else half[part::2])


def load_library(root: Path | None = None, split: str = "dev") -> Library:
    """The boilerplate phrasings of one split, by language and category."""
    _parse_split(split)
    base = _check_root(root or default_root(), "boilerplate")
    phrases: dict[str, dict[str, tuple[str, ...]]] = {}
    for lang_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        cats: dict[str, tuple[str, ...]] = {}
        for cat in CATEGORIES:
            path = lang_dir / f"{cat}.txt"
            if path.exists():
                lines = [s.strip() for s in path.read_text(encoding="utf-8").splitlines()]
                cats[cat] = split_phrases([s for s in lines if s], split)
        phrases[lang_dir.name] = cats
    return Library(split, phrases)
