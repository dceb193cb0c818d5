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
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .segment import BLANK
from .types import CorpusKeys, Document, Match, Paragraph, Verdict

FORMAT = 5  # the version of the record's encoding; bump on any change of its fields

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
    parent. When every record is whole (as :func:`~dedup.crossdoc.corpus_keys` makes them) they
    travel as :class:`KeyColumns` (a few arrays for the whole chunk, the band keys in 32 bits
    when they fit) and are decoded as such: a sequence of equal records, which the corpus stage
    reads as columns without making a record per document; a chunk encoded by another version
    of dedup is refused. Otherwise the chunk travels as a plain list of records, each through
    its own codec (read-only arrays too)."""

    def __reduce__(self) -> tuple[Any, ...]:
        columns = KeyColumns.of_records(self)
        if columns is None:
            return (list, (list(self),))
        return columns.__reduce__()


def _joined(arrays: list[np.ndarray], dtype: Any, ndim: int = 1) -> np.ndarray:
    if arrays:
        return np.concatenate(arrays)
    return np.empty((0,) * ndim, dtype=dtype)


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
    dropped line in order, the ``--removed`` records as JSON lines (``None`` when the run
    writes none), the UTF-8 lengths of the input and clean texts, and ``tally``, each distinct
    reason of ``dropped`` with its count, in first-seen order (made where the record is:
    the statistics add a few counts a document, not a reason a line, and encode nothing)."""

    text: str
    lines: int
    dropped: tuple[str, ...]
    removed: str | None
    bytes_in: int
    bytes_out: int
    tally: tuple[tuple[str, int], ...] | None = None  # None: counted from ``dropped``
    # the document's JSONL output record, when the worker that parsed its record renders it
    # (the parent then holds none of its fields; see parallel.parse_chunk)
    line: str | None = None

    def __post_init__(self) -> None:
        if self.tally is None:
            object.__setattr__(self, "tally", tuple(Counter(self.dropped).items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Finished, (self.text, self.lines, self.dropped, self.removed, self.bytes_in,
                           self.bytes_out, self.tally, self.line))


def _offsets(lengths: Any) -> np.ndarray:
    """Start offsets (one more than ``lengths``) of consecutive pieces of those lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


@dataclass(frozen=True, slots=True)
class KeyColumns:
    """The corpus keys of consecutive documents as flat columns: what the corpus stage reads of a
    window, and how a chunk's keys reach the parent of a parallel run when every record is
    whole (see :class:`KeysChunk`). Nothing here is per document in Python: the window takes
    slices of a chunk's columns, joined, instead of one :class:`~dedup.types.CorpusKeys` each.

    Document ``j``'s content positions are ``content_start[j]`` to ``content_start[j + 1]``
    of ``para`` and ``tokens``; its rows (its long paragraphs, in order) ``row_start[j]`` to
    ``row_start[j + 1]`` of ``long_pos`` (each row's content position in its document),
    ``keys`` (band keys, one row each) and ``groups``; row ``r``'s shingle set is ``values``
    from ``set_start[r]`` to ``set_start[r + 1]``; its short lines ``short_start[j]`` to
    ``short_start[j + 1]`` of ``short_pos`` and ``short_hash`` (in the order of
    :attr:`~dedup.types.CorpusKeys.short_hash`). ``present[j]``: the document has keys
    (``False``: none, as a ``None`` record)."""

    content_start: np.ndarray
    para: np.ndarray
    tokens: np.ndarray
    row_start: np.ndarray
    long_pos: np.ndarray
    set_start: np.ndarray
    values: np.ndarray
    keys: np.ndarray
    groups: np.ndarray
    short_start: np.ndarray
    short_pos: np.ndarray
    short_hash: np.ndarray
    present: np.ndarray

    def __len__(self) -> int:
        return len(self.present)

    def __iter__(self) -> Iterator[PreparedKeys | None]:
        return map(self.__getitem__, range(len(self)))

    def __getitem__(self, j: int) -> PreparedKeys | None:
        """Document ``j``'s keys as a record (equal to the one the columns were made of)."""
        if not self.present[j]:
            return None
        c0, c1 = int(self.content_start[j]), int(self.content_start[j + 1])
        r0, r1 = int(self.row_start[j]), int(self.row_start[j + 1])
        s0, s1 = int(self.short_start[j]), int(self.short_start[j + 1])
        v0, v1 = int(self.set_start[r0]), int(self.set_start[r1])
        longs = tuple(self.long_pos[r0:r1].tolist())
        return PreparedKeys(tuple(self.para[c0:c1].tolist()), tuple(self.tokens[c0:c1].tolist()),
                            longs, longs, _frozen(np.diff(self.set_start[r0:r1 + 1])),
                            _frozen(self.values[v0:v1]),
                            _frozen(self.keys[r0:r1]) if r1 > r0 else None,
                            tuple(self.short_pos[s0:s1].tolist()),
                            tuple(self.short_hash[s0:s1].tolist()),
                            _frozen(self.groups[r0:r1]) if r1 > r0 else None)

    def corpus_keys(self, j: int) -> CorpusKeys | None:
        """Document ``j``'s keys as the reference corpus stage takes them."""
        record = self[j]
        return None if record is None else record.corpus_keys()

    def slice(self, lo: int, hi: int) -> KeyColumns:
        """Documents ``lo`` to ``hi - 1`` (their columns are views of these)."""
        c0, c1 = int(self.content_start[lo]), int(self.content_start[hi])
        r0, r1 = int(self.row_start[lo]), int(self.row_start[hi])
        s0, s1 = int(self.short_start[lo]), int(self.short_start[hi])
        v0, v1 = int(self.set_start[r0]), int(self.set_start[r1])
        return KeyColumns(self.content_start[lo:hi + 1] - c0, self.para[c0:c1],
                          self.tokens[c0:c1], self.row_start[lo:hi + 1] - r0,
                          self.long_pos[r0:r1], self.set_start[r0:r1 + 1] - v0,
                          self.values[v0:v1], self.keys[r0:r1], self.groups[r0:r1],
                          self.short_start[lo:hi + 1] - s0, self.short_pos[s0:s1],
                          self.short_hash[s0:s1], self.present[lo:hi])

    @staticmethod
    def join(parts: Sequence[KeyColumns]) -> KeyColumns:
        """The documents of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]

        def starts(name: str) -> np.ndarray:
            pieces = [getattr(p, name) for p in parts]
            shift = np.cumsum([0] + [int(s[-1]) for s in pieces[:-1]])
            return np.concatenate([pieces[0][:1]] + [s[1:] + d for s, d in
                                                      zip(pieces, shift.tolist(), strict=True)])

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        # band keys: a part without rows may not know their width
        keys = [p.keys for p in parts if len(p.keys)] or [parts[0].keys]

        return KeyColumns(starts("content_start"), cat("para"), cat("tokens"),
                          starts("row_start"), cat("long_pos"), starts("set_start"),
                          cat("values"), np.concatenate(keys), cat("groups"),
                          starts("short_start"),
                          cat("short_pos"), cat("short_hash"), cat("present"))

    @classmethod
    def of_keys(cls, keys: Sequence[CorpusKeys | None]) -> KeyColumns:
        """Columns of documents' keys (``None``: a document without keys). A document's long
        paragraphs are its rows only with their band keys (as the corpus stage takes them: the
        keys are made so, see :func:`~dedup.crossdoc.corpus_keys`)."""
        from .crossdoc import group_keys

        present = [k is not None for k in keys]
        ks = [k for k in keys if k is not None]
        banded = [k for k in ks if k.longs and k.keys32 is not None]
        width = next((k.keys32.shape[1] for k in banded
                      if k.keys32 is not None and k.keys32.ndim == 2), 0)
        sets = [k.sets[p] for k in banded for p in k.longs]
        keys_rows = [np.asarray(k.keys32, dtype=np.uint64).reshape(len(k.longs), -1)
                     for k in banded]
        groups = [k.groups if k.groups is not None else group_keys([k.sets[p] for p in k.longs], r)
                  for k, r in zip(banded, keys_rows, strict=True)]
        chain = itertools.chain.from_iterable
        n_content = [len(k.content) if k is not None else 0 for k in keys]
        n_rows = [len(k.longs) if k is not None and k.longs and k.keys32 is not None else 0
                  for k in keys]
        n_short = [len(k.short_hash) if k is not None else 0 for k in keys]
        total = sum(n_content)
        return cls(
            _offsets(n_content), np.fromiter(chain(k.content for k in ks), np.int64, total),
            np.fromiter(chain(k.tokens for k in ks), np.int64, total),
            _offsets(n_rows), np.fromiter(chain(k.longs for k in banded), np.int64, len(sets)),
            _offsets([len(s) for s in sets]),
            np.concatenate(sets).astype(np.uint32, copy=False) if sets
            else np.empty(0, dtype=np.uint32),
            np.concatenate(keys_rows) if keys_rows else np.empty((0, width), dtype=np.uint64),
            np.concatenate(groups).astype(np.uint64, copy=False) if groups
            else np.empty(0, dtype=np.uint64),
            _offsets(n_short), np.fromiter(chain(k.short_hash for k in ks), np.int64, sum(n_short)),
            np.fromiter(chain(k.short_hash.values() for k in ks), np.uint64, sum(n_short)),
            np.asarray(present, dtype=bool))

    @classmethod
    def of_records(cls, records: Sequence[PreparedKeys | None]) -> KeyColumns | None:
        """Columns of whole records (each long paragraph's set in order, with its band keys and
        group, a hash per short line), equal record for record; ``None`` when one is not whole
        (it then travels as it is, see :class:`KeysChunk`)."""
        present = [r for r in records if r is not None]
        width = {r.keys32.shape[1] for r in present if r.keys32 is not None}
        if len(width) > 1 or not all(_whole(r) for r in present):
            return None
        banded = [r for r in present if r.longs]
        chain = itertools.chain.from_iterable
        n_content = [len(r.content) if r is not None else 0 for r in records]
        n_rows = [len(r.longs) if r is not None else 0 for r in records]
        n_short = [len(r.shorts) if r is not None else 0 for r in records]
        total, rows, shorts = sum(n_content), sum(n_rows), sum(n_short)
        return cls(
            _offsets(n_content), np.fromiter(chain(r.content for r in present), np.int64, total),
            np.fromiter(chain(r.tokens for r in present), np.int64, total),
            _offsets(n_rows), np.fromiter(chain(r.longs for r in banded), np.int64, rows),
            _offsets(_joined([r.sizes for r in banded], np.int64)),
            _joined([r.values for r in banded], np.uint32),
            (np.concatenate([r.keys32 for r in banded]) if banded
             else np.empty((0, next(iter(width), 0)), dtype=np.uint64)),
            _joined([r.groups for r in banded], np.uint64),  # type: ignore[misc]
            _offsets(n_short), np.fromiter(chain(r.shorts for r in present), np.int64, shorts),
            np.fromiter(chain(r.hashes for r in present), np.uint64, shorts),
            np.fromiter((r is not None for r in records), bool, len(records)))

    def __reduce__(self) -> tuple[Any, ...]:
        keys = self.keys
        if keys.size and int(keys.max()) <= _U32_MAX:  # 32-bit keys: half the bytes
            keys = keys.astype(np.uint32)
        return (_key_columns, (FORMAT, np.diff(self.content_start), self.para, self.tokens,
                               np.diff(self.row_start), self.long_pos, np.diff(self.set_start),
                               self.values, keys, self.groups, np.diff(self.short_start),
                               self.short_pos, self.short_hash, self.present))


def _whole(r: PreparedKeys) -> bool:
    """Whether a record goes into :class:`KeyColumns` as it is: its sets in the order of its
    long paragraphs, one row of band keys and one group per long paragraph (none without
    them), a hash per short line, and the dtypes the columns hold."""
    n = len(r.longs)
    return (r.order == r.longs and len(r.sizes) == n and len(r.content) == len(r.tokens)
            and len(r.shorts) == len(r.hashes)
            and r.sizes.dtype == np.int64 and r.sizes.ndim == 1
            and r.values.dtype == np.uint32 and r.values.ndim == 1
            and int(r.sizes.sum()) == len(r.values)
            and ((n == 0 and r.keys32 is None and r.groups is None)
                 or (n > 0 and r.keys32 is not None and r.keys32.dtype == np.uint64
                     and r.keys32.ndim == 2 and len(r.keys32) == n
                     and r.groups is not None and r.groups.dtype == np.uint64
                     and r.groups.shape == (n,))))


def _key_columns(version: int, n_content: np.ndarray, para: np.ndarray, tokens: np.ndarray,
                 n_rows: np.ndarray, long_pos: np.ndarray, sizes: np.ndarray,
                 values: np.ndarray, keys: np.ndarray, groups: np.ndarray,
                 n_short: np.ndarray, short_pos: np.ndarray, short_hash: np.ndarray,
                 present: np.ndarray) -> KeyColumns:
    if version != FORMAT:
        raise ConfigError(f"prepared keys of format {version}, this dedup reads {FORMAT}",
                          hint="run the same dedup version on the workers and the client")
    if keys.dtype != np.uint64:  # sent as 32 bits (see KeyColumns.__reduce__)
        keys = keys.astype(np.uint64)
    return KeyColumns(*(_frozen(a) for a in (
        _offsets(n_content), para, tokens, _offsets(n_rows), long_pos, _offsets(sizes), values,
        keys, groups, _offsets(n_short), short_pos, short_hash, present)))


@dataclass(frozen=True, slots=True)
class KeyRef:
    """Document ``j``'s keys among ``columns`` (a chunk's, as the parent of a parallel run
    receives them): what the corpus stage is given for that document instead of a
    :class:`~dedup.types.CorpusKeys` of its own."""

    columns: KeyColumns
    j: int

    def corpus_keys(self) -> CorpusKeys | None:
        return self.columns.corpus_keys(self.j)
