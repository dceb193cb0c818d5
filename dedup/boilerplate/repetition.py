"""Corpus repetition: in how many documents a line occurs, in bounded memory.

A template line (a site's menu, footer, newsletter prompt) recurs on many pages with different
articles around it; an article paragraph recurs only together with the rest of its article. So
besides the document frequency of a line, the sketch counts its *diversity*: how many documents
brought it new company. A document's content is represented by its long lines (the
``FINGERPRINTS`` smallest hashes); a line meets new content when at most ``NEW_CONTENT`` of
those (line, content line) pairs were seen before. A syndicated article's paragraphs keep
meeting the same paragraphs, so their diversity stays near 1 however often they recur (a site's
template lines around them are a minority of the content lines); a menu line's diversity grows
with every page.

Counts live in a count-min sketch (``depth`` rows of ``width`` uint32 counters, numpy): memory is
fixed whatever the corpus size, look-ups are vectorised, and estimates only err upwards, by at
most ``e * N / width`` with high probability. Distinct (line, content) pairs are recognised with
a Bloom filter, whose rare false positives can only lower a diversity count. The update, serial
by nature (the Bloom filter's answers depend on document order), runs in a small C kernel
(``dedup._counts``) when it is built, else in numpy, which it equals bit for bit.
"""

from __future__ import annotations

import importlib
import mmap
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..allocator import small_pages
from ..batching import batches
from ..config import NormConfig
from ..normalize import line_keys
from ..segment import line_texts
from ..shingle import fmix64, token_hashes
from ..types import Document

_counts: Any
try:  # the compiled kernel, built by the package's own build
    _counts = importlib.import_module("dedup._counts")
except ImportError:  # pragma: no cover - a source tree used without building
    _counts = None

LONG_LINE = 12  # tokens: lines this long fingerprint a document's content
FINGERPRINTS = 8  # how many of them (the smallest hashes) stand for the content
APPLY_BATCH = 128  # documents counted per apply_many: its sorts cost less per document
NEW_CONTENT = 0.5  # at most this share of (line, content line) pairs seen before: new company
_SALTS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
          0x85EBCA77C2B2AE63, 0xFF51AFD7ED558CCD)


def line_hashes(keys: Sequence[str]) -> np.ndarray:
    """One 64-bit hash per normalised line key (empty keys hash alike)."""
    return token_hashes([k if k else "\x01" for k in keys], seed=0x5EED)


def _increment(table: np.ndarray, cells: np.ndarray) -> None:
    """``table[d, cells[d, i]] += 1`` for every row ``d`` and every ``i``, repeats included
    (``np.add.at``, with one sort for all rows instead)."""
    if cells.size:
        depth, width = table.shape
        flat = (cells + (np.arange(depth, dtype=np.int64) * width)[:, None]).ravel()
        unique, counts = np.unique(flat, return_counts=True)
        table.reshape(-1)[unique] += counts.astype(table.dtype)


@dataclass(frozen=True, slots=True)
class PackedCounts:
    """The hashing half of counting several documents (:meth:`LineCounts.prepare_packed`):
    their counter cells (``depth`` rows, each document's distinct lines one after the
    other), the Bloom bits of their (line, context) pairs (3 rows, line-major per document),
    and per document its number of distinct lines and of contexts (0 and 0: no line)."""

    cells: np.ndarray
    bits: np.ndarray
    lines: np.ndarray
    contexts: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def head(self, n: int) -> PackedCounts:
        """The first ``n`` documents' counts."""
        lines, contexts = self.lines[:n], self.contexts[:n]
        u = int(lines.sum())
        p = int((lines * contexts).sum())
        return PackedCounts(np.ascontiguousarray(self.cells[:, :u]),
                            np.ascontiguousarray(self.bits[:, :p]), lines, contexts)

    def items(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Each document's ``(cells, bits)`` as :meth:`LineCounts.prepare` gives them (views),
        ``None`` for a document without lines."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        u_at = p_at = 0
        for n, k in zip(self.lines.tolist(), self.contexts.tolist(), strict=True):
            if not n:
                out.append(None)
                continue
            out.append((self.cells[:, u_at:u_at + n],
                        self.bits[:, p_at:p_at + n * k].reshape(3, n, k)))
            u_at += n
            p_at += n * k
        return out


class LineCounts:
    """Document frequency of lines (by normalised key) in a count-min sketch.

    >>> counts = LineCounts(width=1 << 10, bloom_bits=1 << 12)
    >>> counts.add_keys(["home news sport", "an article"], [False, True])
    >>> counts.add_keys(["home news sport", "another article"], [False, True])
    >>> counts.add_keys(["home news sport", "an article"], [False, True])
    >>> counts.lookup(["home news sport", "an article", "never seen"]).tolist()
    [3, 2, 0]
    >>> counts.diversity(["home news sport", "an article"]).tolist()
    [2, 1]
    """

    def __init__(self, width: int = 1 << 22, depth: int = 4, bloom_bits: int = 1 << 27) -> None:
        if width & (width - 1) or bloom_bits & (bloom_bits - 1) or not 1 <= depth <= len(_SALTS):
            raise ValueError("width and bloom_bits must be powers of two, depth in 1..6")
        self.width = width
        self.depth = depth
        with small_pages():  # touched at random, first in one go (see dedup.allocator)
            self.table: np.ndarray = np.zeros((depth, width), dtype=np.uint32)
            self.pairs: np.ndarray = np.zeros((depth, width), dtype=np.uint32)
            self.bloom: np.ndarray = np.zeros(bloom_bits // 8, dtype=np.uint8)
        self.documents = 0

    def dump_arrays(self, path: str) -> None:
        """Write the sketch (``table``, ``pairs``, ``bloom``, raw, in that order) to ``path``,
        for :meth:`map_arrays` of counts of the same shape in another process."""
        with open(path, "wb") as fh:
            for a in (self.table, self.pairs, self.bloom):
                fh.write(np.ascontiguousarray(a).data)

    def map_arrays(self, path: str) -> None:
        """Take the sketch :meth:`dump_arrays` wrote to ``path`` (counts of the same shape) as
        a private map of the file: nothing is copied or read until touched, writes stay in
        this process, and the file may be removed once mapped."""
        cells = self.depth * self.width
        size = 2 * 4 * cells + len(self.bloom)
        if os.path.getsize(path) != size:
            raise ValueError(f"{path} holds {os.path.getsize(path)} bytes, not the {size} of "
                             "these counts' sketch")
        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
        shape = (self.depth, self.width)
        self.table = np.frombuffer(mapped, np.uint32, cells).reshape(shape)
        self.pairs = np.frombuffer(mapped, np.uint32, cells, 4 * cells).reshape(shape)
        self.bloom = np.frombuffer(mapped, np.uint8, len(self.bloom), 8 * cells)

    def _cells(self, hashes: np.ndarray) -> np.ndarray:
        mask = np.uint64(self.width - 1)
        with np.errstate(over="ignore"):
            return np.stack([(fmix64(hashes ^ np.uint64(s)) & mask).astype(np.int64)
                             for s in _SALTS[: self.depth]])

    def add_keys(self, keys: Sequence[str], long_lines: Sequence[bool] | None = None) -> None:
        """Count one document: each distinct line key once, and each new (line, content) pair.

        ``long_lines`` marks the lines that fingerprint the document's content (default: all).
        """
        self.apply(self.prepare(keys, long_lines))

    def prepare(self, keys: Sequence[str], long_lines: Sequence[bool] | None = None
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """The hashing half of :meth:`add_keys`, which reads no counter: the document's counter
        cells and the Bloom bits of its (line, content) pairs. Parallel workers compute this;
        :meth:`apply` then updates the sketch in document order, so the counts do not depend
        on how the work was split."""
        flags = [True] * len(keys) if long_lines is None else long_lines
        return self.prepare_many([(keys, flags)])[0]

    def prepare_many(self, documents: Sequence[tuple[Sequence[str], Sequence[bool]]]
                     ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """:meth:`prepare` for many documents (``(keys, long_lines)`` each), with numpy calls
        per batch instead of per document: each document's distinct line hashes (sorted), their
        counter cells, and the Bloom bits of every (line, context) pair, where the context is
        the document's ``FINGERPRINTS`` smallest distinct long-line hashes (all lines' when it
        has no long line). A document without lines gives ``None``. The bits are uint32 when
        the Bloom filter has at most 2**32 bits (half the bytes to send from a worker), else
        int64."""
        return self.prepare_packed(documents).items()

    def prepare_packed(self, documents: Sequence[tuple[Sequence[str], Sequence[bool]]]
                       ) -> PackedCounts:
        """:meth:`prepare_many` as one :class:`PackedCounts` (a parallel run's workers send
        this: a few arrays per chunk instead of two per document)."""
        sizes = np.fromiter((len(k) for k, _ in documents), dtype=np.int64,
                            count=len(documents))
        if not sizes.sum():
            none = np.zeros(len(documents), dtype=np.int64)
            return PackedCounts(np.zeros((self.depth, 0), dtype=np.int64),
                                np.zeros((3, 0), dtype=np.uint32), none, none)
        keys = [k for ks, _ in documents for k in ks]
        long = np.fromiter((bool(f) for _, fs in documents for f in fs), dtype=bool,
                           count=len(keys))
        doc = np.repeat(np.arange(len(documents), dtype=np.int64), sizes)
        all_hashes = line_hashes(keys)
        # Each document's distinct hashes, sorted (as np.unique gives them), documents in order.
        order = np.lexsort((all_hashes, doc))
        d_sorted, h_sorted = doc[order], all_hashes[order]
        first = np.r_[True, (d_sorted[1:] != d_sorted[:-1]) | (h_sorted[1:] != h_sorted[:-1])]
        u_doc, u_hash = d_sorted[first], h_sorted[first]
        n_u = np.bincount(u_doc, minlength=len(documents))
        cells = self._cells(u_hash)
        # The content basis: a document's long lines if it has any, else all its lines; the
        # context is its FINGERPRINTS smallest distinct basis hashes.
        has_long = np.bincount(doc, weights=long, minlength=len(documents)) > 0
        basis = long[order] | ~has_long[d_sorted]
        run = np.cumsum(first) - 1  # each sorted entry's distinct (doc, hash) index
        in_basis = np.zeros(len(u_hash), dtype=bool)
        in_basis[run[basis]] = True
        c_doc, c_hash = u_doc[in_basis], u_hash[in_basis]
        c_start = np.searchsorted(c_doc, np.arange(len(documents)))
        rank = np.arange(len(c_doc)) - c_start[c_doc]
        keep = rank < FINGERPRINTS
        c_doc, c_hash = c_doc[keep], c_hash[keep]
        k = np.bincount(c_doc, minlength=len(documents))
        ctx_start = np.searchsorted(c_doc, np.arange(len(documents)))
        # Every (distinct line hash, context hash) pair of each document, line-major.
        reps = k[u_doc]
        rows = np.repeat(np.arange(len(u_hash)), reps)
        within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        ctx = c_hash[ctx_start[u_doc[rows]] + within]
        with np.errstate(over="ignore"):
            pair = fmix64((u_hash[rows] * np.uint64(0x9E3779B97F4A7C15)) ^ ctx)
        bloom_bits = len(self.bloom) * 8
        bit_type = np.uint32 if bloom_bits <= 1 << 32 else np.int64
        bits = np.stack([(fmix64(pair ^ np.uint64(s)) & np.uint64(bloom_bits - 1)
                          ).astype(bit_type) for s in _SALTS[:3]])
        return PackedCounts(cells, bits, n_u.astype(np.int64), k.astype(np.int64))

    def apply(self, prepared: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Count one document from :meth:`prepare`'s output (``None``: a document without
        lines)."""
        self.apply_many([prepared])

    def apply_many(self, prepared: Sequence[tuple[np.ndarray, np.ndarray] | None],
                   compiled: bool = True) -> None:
        """Count several documents, in order, from :meth:`prepare`'s outputs: the same counts
        as one :meth:`apply` after the other. ``compiled``: with the kernel
        (``dedup._counts``, one document after the other) when it is built, which gives the
        same counts as :meth:`_apply_numpy` (numpy calls per batch, not per document)."""
        items = [p for p in prepared if p is not None]
        if items and compiled and _counts is not None:
            cells = np.concatenate([c for c, _ in items], axis=1).astype(np.int64, copy=False)
            bits = np.concatenate([b.reshape(b.shape[0], -1) for _, b in items], axis=1)
            if bits.dtype != np.uint32:  # the kernel reads uint32 or int64 bits
                bits = bits.astype(np.int64, copy=False)
            _counts.apply_counts(
                self.table, self.pairs, self.bloom, cells, bits,
                np.fromiter((c.shape[1] for c, _ in items), dtype=np.int64, count=len(items)),
                np.fromiter((b.shape[2] for _, b in items), dtype=np.int64, count=len(items)))
        elif items:
            self._apply_numpy(items)
        self.documents += len(prepared)

    def _apply_numpy(self, items: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """:meth:`apply_many` in numpy, for documents with lines: the reference of the kernel.

        Counter increments commute; the Bloom filter does not, so a (line, content) pair of
        document ``k`` counts as seen when its bits were set before the batch or by an earlier
        document of the batch (the earliest setter of every bit is found with one sort).
        """
        cells = np.concatenate([c for c, _ in items], axis=1)
        _increment(self.table, cells)
        sizes = [b.shape[1] * b.shape[2] for _, b in items]
        # int64: the (bit, document) keys below do not fit uint32 bits.
        flat = np.concatenate([b.reshape(b.shape[0], -1) for _, b in items],
                              axis=1).astype(np.int64, copy=False)
        if not flat.size:  # no (line, context) pair: no bit to set, no line meets new content
            return
        before = ((self.bloom[flat >> 3] >> (flat & 7).astype(np.uint8)) & 1) == 1
        positions = flat.ravel()
        owners = np.tile(np.repeat(np.arange(len(items)), sizes), flat.shape[0])
        # Sorted by (bit, document): a bit's first entry names the earliest document setting it.
        shift = len(items).bit_length()  # (bit, document) as one integer: one plain sort
        order = np.argsort((positions << shift) | owners)
        pos_sorted, own_sorted = positions[order], owners[order]
        first = np.r_[True, pos_sorted[1:] != pos_sorted[:-1]]
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1
        earlier = np.empty(len(positions), dtype=bool)
        earlier[order] = own_sorted[starts][group] < own_sorted
        seen = (before | earlier.reshape(flat.shape)).all(axis=0)
        # Set every bit: OR the masks of the distinct bits byte by byte.
        bits = pos_sorted[starts]
        byte = bits >> 3
        first_of_byte = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        masks = np.bitwise_or.reduceat((1 << (bits & 7)).astype(np.uint8), first_of_byte)
        self.bloom[byte[first_of_byte]] |= masks
        # A line meets new content when nearly all of the document's content lines are new to
        # it (edited copies and a site's own long lines are a minority of a page's content).
        # A document without contexts has no new line (the mean of no flags, NaN, is not below).
        new: list[np.ndarray] = []
        at = 0
        for (c, b), size in zip(items, sizes, strict=True):
            if b.shape[2]:
                doc_seen = seen[at:at + size].reshape(b.shape[1], b.shape[2])
                new.append(c[:, doc_seen.mean(axis=1) < NEW_CONTENT])
            at += size
        fresh = np.concatenate(new, axis=1)
        _increment(self.pairs, fresh)

    @staticmethod
    def document_keys(doc: Document) -> tuple[list[str], list[bool]]:
        """A segmented, normalised document's line keys and long-line flags, as counted."""
        paras = [p for p in doc.paragraphs if p.text]  # not blank
        return [p.key for p in paras], [len(p.tokens) >= LONG_LINE for p in paras]

    @staticmethod
    def text_keys(text: str, cfg: NormConfig = NormConfig()) -> tuple[list[str], list[bool]]:
        """:meth:`document_keys` of the document ``text`` once segmented and normalised under
        ``cfg``, from its line texts straight to their keys: no paragraph objects, no tokens."""
        keys, counts = line_keys(line_texts(text), cfg)
        return keys, [c >= LONG_LINE for c in counts]

    def add_documents(self, docs: Iterable[Document]) -> None:
        """Count segmented and normalised documents (their non-blank paragraphs)."""
        self.apply_all(self.prepare_many([self.document_keys(doc) for doc in batch])
                       for batch in batches(docs))

    def add_texts(self, texts: Iterable[str], cfg: NormConfig = NormConfig()) -> None:
        """Count documents given as raw text: the same counts as :meth:`add_documents` of the
        documents segmented and normalised under ``cfg``, at a fraction of the cost."""
        self.apply_all(self.prepare_many([self.text_keys(text, cfg) for text in batch])
                       for batch in batches(texts))

    def apply_packed(self, packed: PackedCounts, compiled: bool = True) -> None:
        """Count the documents of a :meth:`prepare_packed` output, in order: the same counts
        as :meth:`apply_many` of its :meth:`PackedCounts.items`, which is the reference (and
        the path without the kernel)."""
        if compiled and _counts is not None:
            bits = packed.bits
            if bits.dtype != np.uint32:  # the kernel reads uint32 or int64 bits
                bits = bits.astype(np.int64, copy=False)
            _counts.apply_counts(self.table, self.pairs, self.bloom,
                                 packed.cells.astype(np.int64, copy=False), bits,
                                 packed.lines, packed.contexts)
            self.documents += len(packed)
        else:
            self.apply_many(packed.items(), compiled=False)

    def apply_all(self, prepared: Iterable[Sequence[tuple[np.ndarray, np.ndarray] | None]]
                  ) -> None:
        """Count the documents of every :meth:`prepare_many` output, in order,
        ``APPLY_BATCH`` at a time (the same counts as one :meth:`apply` after the other)."""
        pending: list[tuple[np.ndarray, np.ndarray] | None] = []
        for outputs in prepared:
            pending += outputs
            if len(pending) >= APPLY_BATCH:
                self.apply_many(pending)
                pending = []
        self.apply_many(pending)

    def _estimate(self, table: np.ndarray, cells: np.ndarray) -> np.ndarray:
        est: np.ndarray = np.min(np.stack([table[d][cells[d]] for d in range(self.depth)]),
                                 axis=0).astype(np.int64)
        return est

    def estimates(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Document frequency and diversity of each key, hashing the keys once."""
        if not keys:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        cells = self._cells(line_hashes(keys))
        return self._estimate(self.table, cells), self._estimate(self.pairs, cells)

    def lookup(self, keys: Sequence[str]) -> np.ndarray:
        """Estimated number of documents holding each key."""
        return self.estimates(keys)[0]

    def diversity(self, keys: Sequence[str]) -> np.ndarray:
        """Estimated number of distinct document contents each key appears with."""
        return self.estimates(keys)[1]

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes + self.pairs.nbytes + self.bloom.nbytes)
