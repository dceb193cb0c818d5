"""Segment a document into paragraphs: one block per input line, any line ending."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import Any

import regex

from .types import DROP, Document, Paragraph, Verdict

BLANK = Verdict(DROP, "blank", 1.0, detail="empty or whitespace-only line")

# \r\n, \r and \n end a line; Unicode separators (U+2028 ...) stay inside the paragraph.
_LINE = regex.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
_BOM = "\ufeff"

_segment: Any
try:  # the compiled lines of a whole document, built by the package's own build
    _segment = importlib.import_module("dedup._segment")
except ImportError:  # pragma: no cover - a source tree without the build: the Python below
    _segment = None


# The kernel makes Paragraph objects by setting these fields itself (key "", tokens (),
# verdict None or BLANK, as __init__ would): only while they are the class's fields.
_KERNEL_FIELDS = tuple(f.name for f in fields(Paragraph)) == (
    "index", "text", "start", "end", "key", "tokens", "verdict")


def split_paragraphs(text: str, compiled: bool = True) -> list[Paragraph]:
    """Split ``text`` into paragraphs with character offsets; text is whitespace-trimmed.

    Blank lines are paragraphs too, already dropped with reason ``blank``. ``compiled``: the
    lines found by the kernel (``dedup._segment``) when it is built, the same paragraphs as
    the Python below.

    >>> [p.text for p in split_paragraphs("a\\r\\n  b \\rc")]
    ['a', 'b', 'c']
    """
    if compiled and _segment is not None and _KERNEL_FIELDS:
        return _segment.paragraphs(text, Paragraph, BLANK)  # type: ignore[no-any-return]
    if text.startswith(_BOM):
        text = text[1:]
        shift = 1
    else:
        shift = 0
    out: list[Paragraph] = []
    if "\r" not in text:  # the common case: one split, the same paragraphs as below
        parts = text.split("\n")
        if parts[-1] == "":
            parts.pop()  # a final newline ends the last line; it starts none
        pos = shift
        for i, body in enumerate(parts):
            para = Paragraph(index=i, text=body.strip(), start=pos, end=pos + len(body))
            if not para.text:
                para.verdict = BLANK
            out.append(para)
            pos += len(body) + 1
        return out
    pos = 0
    n = len(text)
    while pos < n:
        m = _LINE.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches the empty string
            break
        raw = m.group()
        end = m.end()
        body = raw.rstrip("\r\n")
        para = Paragraph(index=len(out), text=body.strip(), start=pos + shift,
                         end=pos + shift + len(body))
        if para.blank:
            para.verdict = BLANK
        out.append(para)
        if end == pos:  # pragma: no cover - cannot happen while pos < n
            break
        pos = end
    return out


def line_texts(text: str, compiled: bool = True) -> list[str]:
    """The trimmed texts of ``text``'s non-blank paragraphs, as :func:`split_paragraphs` gives
    them, without paragraph objects (for a caller that needs only the texts).

    >>> line_texts("a\\r\\n\\n  b ")
    ['a', 'b']
    """
    if compiled and _segment is not None:
        return [t for t in _segment.lines(text)[0] if t]
    return [p.text for p in split_paragraphs(text, compiled=False) if p.text]


def segment(docs: Iterable[Document]) -> Iterator[Document]:
    """Stage: fill ``doc.paragraphs`` from ``doc.text``."""
    for doc in docs:
        if not doc.paragraphs:
            doc.paragraphs = split_paragraphs(doc.text)
        yield doc
