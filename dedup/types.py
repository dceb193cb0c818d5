"""The records that flow through the pipeline: documents, their paragraphs, verdicts."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

_segment: Any
try:  # the compiled record maker, built by the package's own build
    _segment = importlib.import_module("dedup._segment")
except ImportError:  # pragma: no cover - a source tree without the build: the classes below
    _segment = None

R = TypeVar("R")


def instances(cls: type[R], rows: list[tuple[Any, ...]],
              make: Callable[..., R] | None = None) -> Sequence[R]:
    """``[cls(*row) for row in rows]`` for a slots dataclass, each row holding every field:
    by the kernel (``dedup._segment.instances``, the slots written in place) when it is built,
    else by the class itself. The same objects; several times faster for a frozen dataclass,
    whose ``__init__`` sets each field through ``object.__setattr__``. ``make``: what makes an
    object from its row without the kernel, for a class whose constructor takes other
    arguments than its slots in order."""
    if _segment is not None:
        made: Sequence[R] = _segment.instances(cls, cls.__slots__, rows)  # type: ignore[attr-defined]
        return made
    return [(make or cls)(*row) for row in rows]

KEEP = "keep"
DROP = "drop"


@dataclass(slots=True, frozen=True)
class Match:
    """The line a dropped line duplicates: document id and 1-based line number."""

    doc: str
    line: int


@dataclass(slots=True, frozen=True)
class Verdict:
    """What happened to one line and why.

    ``reason`` is a code such as ``boilerplate:cookie`` or ``duplicate:near`` (``content`` when
    kept);
    ``score`` is the classifier score or the similarity to ``match``; ``detail`` is a short
    human-readable explanation (the deciding features, or the run the line belongs to).
    """

    label: str
    reason: str
    score: float = 0.0
    match: Match | None = None
    detail: str = ""

    @property
    def dropped(self) -> bool:
        return self.label == DROP


KEPT = Verdict(KEEP, "content")


@dataclass(slots=True)
class Paragraph:
    """One block of a document (one input line), with its character offsets in the document text.

    ``key`` is the normalised form used for matching; ``tokens`` the matching tokens.
    ``verdict`` is filled in by the stages; ``None`` means no stage has decided yet.
    """

    index: int
    text: str
    start: int
    end: int
    key: str = ""
    tokens: tuple[str, ...] = ()
    verdict: Verdict | None = None

    @property
    def line(self) -> int:
        """1-based line number, as shown to users."""
        return self.index + 1

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass(slots=True)
class Sketch:
    """The MinHash signatures of a document's long paragraphs, computed once by the
    in-document stage and reused by the corpus stage: row ``i`` is paragraph ``index[i]``. Its
    shingle hashes are rows ``first + i`` of ``shingles`` (the batch's
    :class:`~dedup.signature.Shingles`), so a row hashed once is not hashed again."""

    index: np.ndarray
    signatures: np.ndarray
    shingles: Any
    first: int


@dataclass(slots=True)
class CorpusKeys:
    """What the corpus stage needs of a document, computed without the index (so a worker can):
    the content paragraphs (indices) and their token counts, content positions of the long
    paragraphs, their 32-bit shingle sets and 32-bit band keys (one row per long paragraph), and
    the 64-bit key hash of every short line by position."""

    content: list[int]
    tokens: list[int]
    longs: list[int]
    sets: dict[int, np.ndarray]
    keys32: np.ndarray | None
    short_hash: dict[int, int]
    # one 64-bit key per long paragraph, equal for equal shingle sets and band keys (the
    # corpus stage's exact groups, see dedup/staged.py); None: not computed
    groups: np.ndarray | None = None


@dataclass(slots=True, frozen=True)
class DocCluster:
    """A document's near-duplicate cluster: the id of its first (kept) member, whether this
    document is a later member, its similarity to the cluster, and the index ordinal of the
    cluster's first member (``-1`` when unknown), and this document's content tokens."""

    id: str
    duplicate: bool = False
    similarity: float = 1.0
    first: int = -1
    tokens: int = 0


@dataclass(slots=True)
class Document:
    """A document: its id, its raw text, every other field of the input record, its paragraphs."""

    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    paragraphs: list[Paragraph] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False  # left out on purpose (--encoding-errors skip); ``error`` says why
    normalized: bool = False  # keys and tokens filled (a counting pass may have done it)
    sketch: Sketch | None = None
    corpus_keys: CorpusKeys | None = None
    cluster: DocCluster | None = None
    ordinal: int = -1  # position in the run's input stream (set by the batch runner)
    # A JSONL record's bytes until the worker that prepares it parses it (a parallel run's
    # reader, see dedup.io.readers.parse_raw): until then ``text`` and ``meta`` are empty and
    # ``id`` is the record's ``file:line``.
    raw: bytes | None = None

    def verdicts(self) -> list[Verdict]:
        """The verdict of every paragraph, in order (kept when no stage decided)."""
        return [p.verdict or KEPT for p in self.paragraphs]

    def clean_text(self) -> str:
        """Kept paragraphs, trimmed, one per line, with a final newline when any are kept."""
        return joined_lines([p.text for p in self.paragraphs  # (not p.blank, inlined)
                             if p.text and (p.verdict is None or p.verdict.label != DROP)])


def utf8_len(text: str) -> int:
    """The length of ``text`` in UTF-8 (lone surrogates as ``surrogatepass`` writes them),
    without encoding an ASCII text (``str.isascii`` is a flag of the string, not a scan)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def joined_lines(kept: list[str]) -> str:
    """Kept lines as a clean text: one per line, with a final newline when there are any."""
    return "\n".join(kept) + "\n" if kept else ""
