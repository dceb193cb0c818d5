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

FORMAT = 4  # the version of the record's encoding; bump on any change of its fields

_U32_MAX = 0xFFFFFFFF

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


class KeysChunk(list[PreparedKeys | None]):
    """A chunk's keys (one :class:`PreparedKeys` or None per document) on their way to the
    parent: pickled as one set of columns for the whole chunk (each array concatenated over the
    documents, the short tuples as they are; the band keys in 32 bits when they fit, as they do
    when made by :func:`~dedup.crossdoc.corpus_keys`) instead of four numpy arrays per document,
    which cost the parent more to unpickle than the arrays' bytes. Decoded into equal records whose
    arrays are read-only views of the chunk's columns; refused when another version of dedup
    encoded it. A chunk whose arrays are not all of one kind travels as a plain list."""

    def __reduce__(self) -> tuple[Any, ...]:
        present = [k for k in self if k is not None]
        if not _uniform(present):
            return (list, (list(self),))
        kinds = bytes(0 if k is None else 1 + 2 * (k.keys32 is None) + 4 * (k.groups is None)
                      for k in self)
        small = [(k.content, k.tokens, k.longs, k.order, k.shorts, k.hashes) for k in present]
        sizes = [k.sizes for k in present]
        values = [k.values for k in present]
        keys32 = [k.keys32 for k in present if k.keys32 is not None]
        groups = [k.groups for k in present if k.groups is not None]
        bands = _joined(keys32, np.uint64, 2)
        if bands.size and int(bands.max()) <= _U32_MAX:  # 32-bit keys: half the bytes
            bands = bands.astype(np.uint32)
        return (_keys_chunk, (FORMAT, kinds, small,
                              _lengths(sizes), _joined(sizes, np.int64),
                              _lengths(values), _joined(values, np.uint32),
                              _lengths(keys32), bands,
                              _lengths(groups), _joined(groups, np.uint64)))


def _uniform(keys: list[PreparedKeys]) -> bool:
    """Whether every record's arrays have the dtypes and shapes :class:`KeysChunk` joins."""
    width = {k.keys32.shape[1] for k in keys if k.keys32 is not None and k.keys32.ndim == 2}
    return len(width) <= 1 and all(
        k.sizes.dtype == np.int64 and k.sizes.ndim == 1
        and k.values.dtype == np.uint32 and k.values.ndim == 1
        and (k.keys32 is None or (k.keys32.dtype == np.uint64 and k.keys32.ndim == 2))
        and (k.groups is None or (k.groups.dtype == np.uint64 and k.groups.ndim == 1))
        for k in keys)


def _lengths(arrays: list[np.ndarray]) -> np.ndarray:
    return np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))


def _joined(arrays: list[np.ndarray], dtype: Any, ndim: int = 1) -> np.ndarray:
    if arrays:
        return np.concatenate(arrays)
    return np.empty((0,) * ndim, dtype=dtype)


def _cuts(array: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """``array`` cut into consecutive read-only pieces of ``lengths`` (along its first axis)."""
    frozen = _frozen(array)
    ends = np.cumsum(lengths).tolist()
    return [frozen[e - n:e] for n, e in zip(lengths.tolist(), ends, strict=True)]


def _keys_chunk(version: int, kinds: bytes, small: list[tuple[Any, ...]],
                size_lengths: np.ndarray, sizes: np.ndarray,
                value_lengths: np.ndarray, values: np.ndarray,
                key_lengths: np.ndarray, keys32: np.ndarray,
                group_lengths: np.ndarray, groups: np.ndarray) -> list[PreparedKeys | None]:
    if version != FORMAT:
        raise ConfigError(f"prepared keys of format {version}, this dedup reads {FORMAT}",
                          hint="run the same dedup version on the workers and the client")
    if keys32.dtype != np.uint64:  # sent as 32 bits (see KeysChunk.__reduce__)
        keys32 = keys32.astype(np.uint64)
    size_cuts = iter(_cuts(sizes, size_lengths))
    value_cuts = iter(_cuts(values, value_lengths))
    key_cuts = iter(_cuts(keys32, key_lengths))
    group_cuts = iter(_cuts(groups, group_lengths))
    fields = iter(small)
    out: list[PreparedKeys | None] = []
    for kind in kinds:
        if kind == 0:
            out.append(None)
            continue
        content, tokens, longs, order, shorts, hashes = next(fields)
        out.append(PreparedKeys(content, tokens, longs, order, next(size_cuts), next(value_cuts),
                                None if kind & 2 else next(key_cuts), shorts, hashes,
                                None if kind & 4 else next(group_cuts)))
    return out


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
    dropped line in order (for the statistics), the ``--removed`` records as JSON lines
    (``None`` when the run writes none), and the UTF-8 lengths of the input and clean texts
    (for the statistics, so the parent encodes neither)."""

    text: str
    lines: int
    dropped: tuple[str, ...]
    removed: str | None
    bytes_in: int
    bytes_out: int

    def __reduce__(self) -> tuple[Any, ...]:
        return (Finished, (self.text, self.lines, self.dropped, self.removed, self.bytes_in,
                           self.bytes_out))
