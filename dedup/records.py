"""The prepared record: what the per-document work gives the corpus stage, as one immutable
value with a versioned codec.

A worker runs every per-document stage (segmentation, normalisation, the boilerplate
classifier, in-document dedup, the corpus keys) and makes a :class:`Prepared` record; that
record, not the worker's :class:`~dedup.types.Document`, is what crosses a process or machine
boundary. It carries only what the stages added: the paragraphs' offsets (their text is the
trimmed slice of the document's text), the verdicts as plain tuples and the corpus keys as
flat arrays. Tokens and matching keys stay on the worker: no later step reads them.

In a run of ``dedup clean`` only the keys (:class:`PreparedKeys`) go to the parent; the rest
of a chunk's records waits for the corpus stage's outcomes and is finished by a worker into
one :class:`Finished` record per document (see :mod:`dedup.parallel`). A library caller of
``Cleaner.clean_documents`` without ``finished`` gets the whole record applied to its own
document (:meth:`Prepared.apply`).

The codec is pickle's, through :meth:`Prepared.__reduce__`: the record travels as the format
version and a tuple of plain values and numpy arrays, which pickle in C (the slotted dataclasses
of :mod:`dedup.types` would pickle field by field in Python, which cost the parent more than the
corpus stage itself). Decoding checks the version, so a worker and a client of different
dedup versions refuse each other's records instead of misreading them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .segment import BLANK
from .types import CorpusKeys, Document, Match, Paragraph, Verdict

FORMAT = 2  # the version of the record's encoding; bump on any change of its fields

VerdictRow = tuple[int, str, str, float, "tuple[str, int] | None", str]


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the array itself stays as it was)."""
    view: np.ndarray = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, slots=True)
class PreparedKeys:
    """A document's :class:`~dedup.types.CorpusKeys` as flat values: the long paragraphs'
    32-bit shingle sets concatenated (``values``, cut by ``sizes`` in ``order``), the band keys,
    and the short lines' key hashes by position."""

    content: tuple[int, ...]
    tokens: tuple[int, ...]
    longs: tuple[int, ...]
    order: tuple[int, ...]
    sizes: np.ndarray
    values: np.ndarray
    keys32: np.ndarray | None
    shorts: tuple[int, ...]
    hashes: tuple[int, ...]
    groups: np.ndarray | None

    @classmethod
    def of(cls, keys: CorpusKeys) -> PreparedKeys:
        order = sorted(keys.sets)
        sizes = np.fromiter((len(keys.sets[k]) for k in order), dtype=np.int64,
                            count=len(order))
        values = (np.concatenate([keys.sets[k] for k in order]) if order
                  else np.empty(0, dtype=np.uint32))
        return cls(tuple(keys.content), tuple(keys.tokens), tuple(keys.longs), tuple(order),
                   _frozen(sizes), _frozen(values),
                   None if keys.keys32 is None else _frozen(keys.keys32),
                   tuple(keys.short_hash), tuple(keys.short_hash.values()),
                   None if keys.groups is None else _frozen(keys.groups))

    def corpus_keys(self) -> CorpusKeys:
        """The keys as the corpus stage takes them (read-only views of the record's arrays)."""
        sizes = self.sizes.tolist()  # a few numbers: no numpy call per document
        values = self.values
        sets = {k: values[e - n:e]
                for k, n, e in zip(self.order, sizes, itertools.accumulate(sizes), strict=True)}
        return CorpusKeys(list(self.content), list(self.tokens), list(self.longs), sets,
                          self.keys32, dict(zip(self.shorts, self.hashes, strict=True)),
                          self.groups)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_keys, (self.content, self.tokens, self.longs, self.order, self.sizes,
                        self.values, self.keys32, self.shorts, self.hashes, self.groups))


def _keys(content: Any, tokens: Any, longs: Any, order: Any, sizes: np.ndarray,
          values: np.ndarray, keys32: np.ndarray | None, shorts: Any, hashes: Any,
          groups: np.ndarray | None) -> PreparedKeys:
    return PreparedKeys(content, tokens, longs, order, _frozen(sizes), _frozen(values),
                        None if keys32 is None else _frozen(keys32), shorts, hashes,
                        None if groups is None else _frozen(groups))


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the per-document stages decided about one document (see the module's docstring).

    ``bounds``: start and end of every paragraph in the document's text; ``texts``: the
    paragraphs' texts only when they are not cut from it (a caller's own paragraphs);
    ``verdicts``: ``(paragraph, label, reason, score, match, detail)`` per decided paragraph,
    or the paragraph's number alone for a blank line.
    """

    bounds: np.ndarray
    texts: tuple[str, ...] | None
    verdicts: tuple[VerdictRow | int, ...]
    keys: PreparedKeys | None
    normalized: bool
    error: str | None
    skipped: bool

    @classmethod
    def of(cls, doc: Document) -> Prepared:
        """The record of a document the per-document stages have prepared."""
        paras = doc.paragraphs
        bounds = np.fromiter(itertools.chain.from_iterable((p.start, p.end) for p in paras),
                             dtype=np.int64, count=2 * len(paras))
        text = doc.text
        texts = (None if all(text[p.start:p.end].strip() == p.text for p in paras)
                 else tuple(p.text for p in paras))
        verdicts: list[VerdictRow | int] = []
        for i, p in enumerate(paras):
            v = p.verdict
            if v is BLANK:
                verdicts.append(i)
            elif v is not None:
                verdicts.append((i, v.label, v.reason, v.score,
                                 None if v.match is None else (v.match.doc, v.match.line),
                                 v.detail))
        keys = None if doc.corpus_keys is None else PreparedKeys.of(doc.corpus_keys)
        return cls(_frozen(bounds), texts, tuple(verdicts), keys, doc.normalized, doc.error,
                   doc.skipped)

    def line_texts(self, text: str) -> list[str] | tuple[str, ...]:
        """Every paragraph's text: ``texts``, or the trimmed slices of the document's ``text``."""
        if self.texts is not None:
            return self.texts
        return [text[s:e].strip() for s, e in zip(self.bounds[0::2].tolist(),
                                                  self.bounds[1::2].tolist(), strict=True)]

    def apply(self, doc: Document) -> Document:
        """Fill the parent's copy of the document (the one whose text the record was made of)
        with the record's paragraphs, verdicts and keys."""
        starts, ends = self.bounds[0::2].tolist(), self.bounds[1::2].tolist()
        texts = self.line_texts(doc.text)
        if len(texts) != len(starts):
            raise ValueError(f"a prepared record with {len(starts)} paragraphs and "
                             f"{len(texts)} texts")
        # map over the columns: about 2.5x faster than building each paragraph in a loop
        paras = list(map(Paragraph, range(len(starts)), texts, starts, ends))
        for v in self.verdicts:
            if isinstance(v, int):
                paras[v].verdict = BLANK
            else:
                i, label, reason, score, match, detail = v
                paras[i].verdict = Verdict(label, reason, score,
                                           None if match is None else Match(*match), detail)
        doc.paragraphs = paras
        doc.normalized, doc.error, doc.skipped = self.normalized, self.error, self.skipped
        doc.sketch = None
        doc.corpus_keys = None if self.keys is None else self.keys.corpus_keys()
        return doc

    def __reduce__(self) -> tuple[Any, ...]:
        return (decode, (FORMAT, self.bounds, self.texts, self.verdicts, self.keys,
                         self.normalized, self.error, self.skipped))


def decode(version: int, *fields: Any) -> Prepared:
    """A record from its encoded fields; refused when another version of dedup encoded it."""
    if version != FORMAT:
        raise ConfigError(f"a prepared record of format {version}, this dedup reads {FORMAT}",
                          hint="run the same dedup version on the workers and the client")
    bounds, *rest = fields
    return Prepared(_frozen(bounds), *rest)


@dataclass(frozen=True, slots=True)
class Finished:
    """A document finished where its paragraphs are (a worker of a parallel run), so they never
    travel to the parent: the clean text, the number of input lines, the reason of every
    dropped line in order (for the statistics), and the ``--removed`` records as JSON lines
    (``None`` when the run writes none)."""

    text: str
    lines: int
    dropped: tuple[str, ...]
    removed: str | None

    def __reduce__(self) -> tuple[Any, ...]:
        return (Finished, (self.text, self.lines, self.dropped, self.removed))
