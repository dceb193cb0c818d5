"""Segment a document into paragraphs: one block per input line, any line ending."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import regex

from .types import DROP, Document, Paragraph, Verdict

BLANK = Verdict(DROP, "blank", 1.0, detail="empty or whitespace-only line")

# \r\n, \r and \n end a line; Unicode separators (U+2028 ...) stay inside the paragraph.
_LINE = regex.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
_BOM = "\ufeff"


def split_paragraphs(text: str) -> list[Paragraph]:
    """Split ``text`` into paragraphs with character offsets; text is whitespace-trimmed.

    Blank lines are paragraphs too, already dropped with reason ``blank``.

    >>> [p.text for p in split_paragraphs("a\\r\\n  b \\rc")]
    ['a', 'b', 'c']
    """
    if text.startswith(_BOM):
        text = text[1:]
        shift = 1
    else:
        shift = 0
    out: list[Paragraph] = []
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


def segment(docs: Iterable[Document]) -> Iterator[Document]:
    """Stage: fill ``doc.paragraphs`` from ``doc.text``."""
    for doc in docs:
        if not doc.paragraphs:
            doc.paragraphs = split_paragraphs(doc.text)
        yield doc
