"""The corpus index: every paragraph kept so far, as compact numpy keys, saved and loaded.

What is held in memory, per indexed paragraph:

- a long paragraph (``shingle.min_words`` tokens or more): one packed ``uint64`` per band,
  ``(band key >> 32) << 32 | row`` (16 bands by default: 128 bytes), in a :class:`KeyTable`;
- a short line: one packed ``uint64`` of its exact-key hash, the same way (8 bytes);
- every row: the ``uint64`` offset of its record in the store and its ``uint32`` document
  ordinal (12 bytes).

So 140 bytes for a long paragraph and 20 for a short line, plus 16 bytes per document (content
tokens, cluster, offset of its id); 10 million long paragraphs fit in 1.4 GB.

What is on disk, read only for verified candidates (:class:`Store`): per row, its document,
line and its sorted unique 32-bit shingle hashes (a short line: its 64-bit key hash), which is
what the exact Jaccard verification needs; and the document ids, for provenance. Nothing is a
Python object per paragraph.

The table is a log-structured merge of sorted arrays: an insert adds a small sorted level and
levels of similar size are merged, so inserting ``n`` entries costs ``O(n log n)`` overall and a
lookup is one ``searchsorted`` per level (``O(log n)`` levels).
"""

from __future__ import annotations

import importlib
import mmap
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .commit import (
    DirLock,
    Entry,
    append_only,
    crash_point,
    read_manifest,
    sweep,
    verify,
    write_manifest,
    write_new,
)
from .config import Config
from .errors import ConfigError, OutputError

FORMAT = 3
MANIFEST = "manifest.json"
ROWS = "rows.u32"
IDS = "docids.txt"
_ARRAYS = ("bands", "exact", "row_offsets", "row_doc", "doc_tokens", "doc_cluster",
           "doc_id_offsets")
ROW_BITS = np.uint64(32)
ROW_MASK = np.uint64(0xFFFFFFFF)
_U32 = np.dtype("<u4")

_pairs: Any
try:  # the look-up kernel, built by the package's own build (see KeyTable.lookup)
    _pairs = importlib.import_module("dedup._pairs")
except ImportError:  # pragma: no cover - a source tree without the build: numpy
    _pairs = None


def _inconsistent(arrays: dict[str, np.ndarray], rows_bytes: int, ids_bytes: int) -> str:
    """What is wrong with loaded key arrays that passed their checksum ('' when nothing):
    types, lengths, and offsets that point past the store."""
    kinds = {"bands": np.uint64, "exact": np.uint64, "row_offsets": np.uint64,
             "row_doc": np.uint32, "doc_tokens": np.uint32, "doc_cluster": np.uint32,
             "doc_id_offsets": np.uint64}
    for name, kind in kinds.items():
        if arrays[name].dtype != kind or arrays[name].ndim != 1:
            return f"{name} is not a 1-d {np.dtype(kind).name} array"
    rows, docs = len(arrays["row_offsets"]), len(arrays["row_doc"])
    ndocs = len(arrays["doc_tokens"])
    if rows != docs or ndocs != len(arrays["doc_cluster"]) or \
            ndocs != len(arrays["doc_id_offsets"]):
        return "its arrays have different lengths"
    for name, size in (("row_offsets", rows_bytes), ("doc_id_offsets", ids_bytes)):
        off = arrays[name]
        if len(off) and (np.any(np.diff(off.astype(np.int64)) <= 0) or int(off[-1]) >= size
                         or int(off[0]) != 0):
            return f"{name} do not fit the store"
    for name in ("bands", "exact"):
        if len(arrays[name]) and int((arrays[name] & ROW_MASK).max()) >= rows:
            return f"{name} point at rows that are not there"
    if rows and int(arrays["row_doc"].max()) >= ndocs:
        return "rows point at documents that are not there"
    return ""


class KeyTable:
    """A multiset of (32-bit key, 32-bit row) pairs packed in sorted ``uint64`` levels.

    >>> t = KeyTable()
    >>> t.add(np.array([7, 9, 7], dtype=np.uint64), np.array([0, 1, 2], dtype=np.uint64))
    >>> q, rows = t.lookup(np.array([7, 8], dtype=np.uint64))
    >>> q.tolist(), rows.tolist()
    ([0, 0], [0, 2])
    """

    def __init__(self, packed: np.ndarray | None = None) -> None:
        self.levels: list[np.ndarray] = []
        if packed is not None and len(packed):
            self.levels.append(np.sort(packed.astype(np.uint64, copy=False)))

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    @property
    def nbytes(self) -> int:
        return sum(level.nbytes for level in self.levels)

    def add(self, keys32: np.ndarray, rows: np.ndarray) -> None:
        """Insert pairs; ``keys32`` and ``rows`` are equal-length arrays of values < 2**32."""
        if not len(keys32):
            return
        packed = (keys32.astype(np.uint64) << ROW_BITS) | rows.astype(np.uint64)
        self.levels.append(np.sort(packed))
        # Merge while the newest level is at least a quarter of the size of the one before it:
        # level sizes grow at least fourfold, so a lookup visits few levels.
        while len(self.levels) >= 2 and 4 * len(self.levels[-1]) >= len(self.levels[-2]):
            top = self.levels.pop()
            merged = np.concatenate((self.levels.pop(), top))
            merged.sort(kind="stable")
            self.levels.append(merged)

    def lookup(self, keys32: np.ndarray, compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Every stored pair whose key is in ``keys32``: ``(query positions, rows)``, by level,
        then query position, then row. ``compiled``: each level searched by the C kernel
        (``dedup._pairs.level_lookup``: the sorted queries gallop through the level) when it is
        built, below 2**32 queries; else the numpy reference below."""
        q = keys32.astype(np.uint64) << ROW_BITS
        if compiled and _pairs is not None and len(q) <= int(ROW_MASK):
            queries = np.sort(q | np.arange(len(q), dtype=np.uint64))
            found: list[np.ndarray] = []
            for level in self.levels:
                raw = _pairs.level_lookup(level, queries)
                if raw:
                    found.append(np.sort(np.frombuffer(raw, dtype=np.uint64)))
            if not found:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
            packed = np.concatenate(found) if len(found) > 1 else found[0]
            return (packed >> ROW_BITS).astype(np.int64), packed & ROW_MASK
        # Binary searches for sorted keys are several times faster (each starts where the last
        # one ended, in memory already cached): search in key order, then put the answers back
        # in query order. The key order: a plain sort of each key with its position in the low
        # half (the stable argsort's order: ties by position; a plain sort is several times
        # faster than a stable argsort), below 2**32 queries.
        if len(q) <= int(ROW_MASK):
            packed = np.sort(q | np.arange(len(q), dtype=np.uint64))
            order = (packed & ROW_MASK).astype(np.intp)
            qs = packed & ~ROW_MASK
        else:  # pragma: no cover - more than 2**32 queries at once
            order = np.argsort(q, kind="stable")
            qs = q[order]
        found_q: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        for level in self.levels:
            left_s = np.searchsorted(level, qs, side="left")
            # Most keys are absent: test the entry at ``left`` first, range-search only hits.
            at = level[np.minimum(left_s, len(level) - 1)]
            hit_s = np.flatnonzero((left_s < len(level)) & ((at >> ROW_BITS) == (qs >> ROW_BITS)))
            if not len(hit_s):
                continue
            counts_s = np.zeros(len(q), dtype=np.int64)
            counts_s[hit_s] = (np.searchsorted(level, qs[hit_s] | ROW_MASK, side="right")
                               - left_s[hit_s])
            counts = np.empty_like(counts_s)
            counts[order] = counts_s
            left = np.empty_like(left_s)
            left[order] = left_s
            hit = np.flatnonzero(counts)
            c = counts[hit]
            owner = np.repeat(hit, c)
            pos = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c) + left[owner]
            found_q.append(owner)
            found_rows.append(level[pos] & ROW_MASK)
        if not found_q:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
        return np.concatenate(found_q), np.concatenate(found_rows)

    def compact(self) -> np.ndarray:
        """All pairs as one sorted array (what is saved)."""
        if not self.levels:
            return np.empty(0, dtype=np.uint64)
        if len(self.levels) > 1:
            merged = np.concatenate(self.levels)
            merged.sort(kind="stable")
            self.levels = [merged]
        return self.levels[0]


class Column:
    """A growable numpy column (amortised doubling), so per-row data stays one array."""

    def __init__(self, dtype: Any, data: np.ndarray | None = None) -> None:
        self.data = np.zeros(1024, dtype=dtype) if data is None else data.astype(dtype)
        self.size = 0 if data is None else len(data)

    def append(self, values: np.ndarray | list[int] | int) -> int:
        """Append values; returns the position of the first one."""
        start = self.size
        if isinstance(values, int):  # one value: the common case, without building an array
            if start == len(self.data):
                self._grow(start + 1)
            self.data[start] = values
            self.size = start + 1
            return start
        values = np.atleast_1d(np.asarray(values, dtype=self.data.dtype))
        need = start + len(values)
        if need > len(self.data):
            self._grow(need)
        self.data[start:need] = values
        self.size = need
        return start

    def _grow(self, need: int) -> None:
        grown = np.zeros(max(need, 2 * len(self.data)), dtype=self.data.dtype)
        grown[:self.size] = self.data[:self.size]
        self.data = grown

    def view(self) -> np.ndarray:
        return self.data[: self.size]

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return self.size * self.data.itemsize


SPILL_BYTES = 64 << 20  # a temporary store stays in memory up to this size, then spills


class _Stream:
    """One append-only byte stream: a file, or memory that spills to a temporary file."""

    def __init__(self, path: Path | None, size: int = 0) -> None:
        self.path = path
        self.end = size
        self.memory: bytearray | None = None
        self.fh: Any = None
        self._dirty = False
        if path is None:
            self.memory = bytearray()
        else:
            with open(path, "ab") as fh:
                fh.truncate(size)  # records a stopped run wrote after its last save: unreferenced
            self.fh = open(path, "r+b")  # noqa: SIM115 - closed in close()
            self.fh.seek(size)

    def append(self, data: bytes) -> int:
        offset = self.end
        if self.memory is not None:
            self.memory += data
            if len(self.memory) > SPILL_BYTES:
                self._spill()
        else:
            self.fh.write(data)
            self._dirty = True
        self.end += len(data)
        return offset

    def _spill(self) -> None:
        import tempfile

        assert self.memory is not None
        self.fh = tempfile.TemporaryFile(prefix="dedup-index-")  # noqa: SIM115
        self.fh.write(self.memory)
        self.memory = None
        self._dirty = True

    def read(self, start: int, end: int) -> bytes:
        if self.memory is not None:
            return bytes(self.memory[start:end])
        if self._dirty:
            self.fh.flush()
            self._dirty = False
        return os.pread(self.fh.fileno(), end - start, start)

    def gather(self, starts: np.ndarray, size: int) -> np.ndarray:
        """``size`` bytes at each of ``starts`` (each piece within the stream), as a copy of
        shape ``(len(starts), size)``: one gather over the memory or a read-only map of the
        file, instead of a read per piece."""
        at = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(size, dtype=np.int64)
        if not len(at) or not size:
            return np.zeros(at.shape, dtype=np.uint8)
        return self._take(at, np.uint8)

    def gather_u32(self, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The uint32 words ``starts[i]`` to ``starts[i] + counts[i]`` (word positions in a
        stream of whole words) of every range, concatenated: a copy, from one gather over the
        memory or a read-only map of the file (the same values :meth:`read` gives range by
        range)."""
        return self._ranges(starts, counts, np.uint32)

    def gather_bytes(self, starts: np.ndarray, ends: np.ndarray) -> bytes:
        """The bytes ``starts[i]`` to ``ends[i]`` of every range, concatenated: one gather
        (the same bytes :meth:`read` gives range by range)."""
        starts = np.asarray(starts, dtype=np.int64)
        return self._ranges(starts, np.asarray(ends, dtype=np.int64) - starts,
                            np.uint8).tobytes()

    def _ranges(self, starts: np.ndarray, counts: np.ndarray, dtype: Any) -> np.ndarray:
        """The items of ``dtype`` from ``starts[i]`` (item positions) to ``starts[i] +
        counts[i]`` of every range, concatenated."""
        starts = np.asarray(starts, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        total = int(counts.sum())
        if not total:
            return np.empty(0, dtype=dtype)
        return self._take(np.repeat(starts - (np.cumsum(counts) - counts), counts)
                          + np.arange(total), dtype)

    def _take(self, at: np.ndarray, dtype: Any) -> np.ndarray:
        """The stream's items of ``dtype`` at positions ``at``, as a copy (the memory may grow
        again, and the file's map closes, once the view is gone)."""
        count = self.end // np.dtype(dtype).itemsize
        if self.memory is not None:
            view = np.frombuffer(self.memory, dtype=dtype, count=count)
            out: np.ndarray = view[at]
            del view
            return out
        if self._dirty:
            self.fh.flush()
            self._dirty = False
        with mmap.mmap(self.fh.fileno(), self.end, access=mmap.ACCESS_READ) as mapped:
            view = np.frombuffer(mapped, dtype=dtype, count=count)
            out = view[at]
            del view  # the map closes only without views
        return out

    def sync(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            self._dirty = False
            os.fsync(self.fh.fileno())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _id_line(doc_id: str) -> bytes:
    """A document id as its line of the id store (a newline in it becomes a space)."""
    return doc_id.encode("utf-8", "surrogatepass").replace(b"\n", b" ") + b"\n"


class Store:
    """The row records and document ids, read back for verification and provenance only.

    With a root directory they are files there; without, memory that spills to a temporary
    file past :data:`SPILL_BYTES`.
    """

    def __init__(self, root: Path | None, rows_bytes: int = 0, ids_bytes: int = 0) -> None:
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.rows = _Stream(None if root is None else root / "rows.u32", rows_bytes)
        self.ids = _Stream(None if root is None else root / "docids.txt", ids_bytes)

    def append_row(self, values: np.ndarray) -> int:
        """Write one record (uint32 values); returns its byte offset."""
        return self.rows.append(values.astype(_U32, copy=False).tobytes())

    def append_id(self, doc_id: str) -> int:
        return self.ids.append(_id_line(doc_id))

    def append_ids(self, doc_ids: Sequence[str]) -> np.ndarray:
        """:meth:`append_id` of several ids in one write; returns their byte offsets."""
        text = "\n".join(doc_ids) + "\n"
        if text.isascii() and text.count("\n") == len(doc_ids):  # one byte a character
            sizes = np.fromiter(map(len, doc_ids), dtype=np.uint64, count=len(doc_ids)) + 1
            data = text.encode("ascii")
        else:
            lines = [_id_line(i) for i in doc_ids]
            sizes = np.fromiter(map(len, lines), dtype=np.uint64, count=len(lines))
            data = b"".join(lines)
        base = self.ids.append(data)
        offsets: np.ndarray = np.uint64(base) + np.cumsum(sizes) - sizes
        return offsets

    def read_row(self, start: int, end: int) -> np.ndarray:
        return np.frombuffer(self.rows.read(start, end), dtype=_U32)

    def read_id(self, start: int, end: int) -> str:
        return self.ids.read(start, end).rstrip(b"\n").decode("utf-8", "surrogatepass")

    def sync(self) -> None:
        self.rows.sync()
        self.ids.sync()

    def close(self) -> None:
        self.rows.close()
        self.ids.close()


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """Every setting the stored keys depend on; an index loads only under the same spec."""

    format: int
    num_perm: int
    bands: int
    rows: int
    shingle_size: int
    shingle_seed: int
    min_words: int
    casefold: bool
    strip_accents: bool

    @classmethod
    def of(cls, cfg: Config) -> IndexSpec:
        bands, rows = cfg.corpus_bands()
        return cls(FORMAT, cfg.lsh.num_perm, bands, rows, cfg.shingle.size,
                   cfg.shingle.seed, cfg.shingle.min_words, cfg.norm.casefold,
                   cfg.norm.strip_accents)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A committed state of an index that is not its own manifest: a run's checkpoint names
    the key arrays (``keys``, in ``keys_root``) and the committed lengths of the store."""

    keys_root: Path
    files: dict[str, Entry]
    runs: int


RECOVER = ("the index is not used as it is; restore the directory from a backup, or start a "
           "new index directory (its documents will not be matched)")
_GENERATION = re.compile(r"index-(\d{6,})\.npz")


def _ours(name: str) -> bool:
    return bool(_GENERATION.fullmatch(name)) or name == MANIFEST


class CorpusIndex:
    """Kept paragraphs and documents of a run (and of earlier runs, when loaded from a dir).

    A directory index is locked for as long as this object is open (a second run on it is
    refused) and saved crash-consistently (:mod:`dedup.commit`): :meth:`save` writes the key
    arrays as a new generation, then commits ``manifest.json`` naming them, the committed
    lengths of the append-only store and the checksums of everything. Loading verifies them
    all; records a stopped run appended after the last commit are cut off.
    """

    def __init__(self, cfg: Config, root: str | Path | None = None,
                 snapshot: Snapshot | None = None) -> None:
        self.spec = IndexSpec.of(cfg)
        self.root = Path(root) if root is not None else None
        self.bands = KeyTable()
        self.exact = KeyTable()
        # the exact-group key (low 32 bits) of every long row the corpus stage's windows added
        # in this process, a short cut to a paragraph's copy; not saved (see staged._copies)
        self.copies = KeyTable()
        self.row_offsets = Column(np.uint64)  # row -> start of its record; end = next start
        self.row_doc = Column(np.uint32)  # row -> document ordinal
        self.doc_tokens = Column(np.uint32)
        self.doc_cluster = Column(np.uint32)
        self.doc_id_offsets = Column(np.uint64)
        self.runs = 0
        self.generation = 0
        self.last_run = ""  # what the run that saved the index last says of itself
        self.lock: DirLock | None = None
        self.known: dict[str, list[tuple[int, str]]] = {ROWS: [], IDS: []}
        rows_bytes = ids_bytes = 0
        if self.root is not None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{self.root}: cannot make the index directory "
                                  f"({exc.strerror})") from exc
            self.lock = DirLock(self.root, "the corpus index")
            try:
                rows_bytes, ids_bytes = self._open(cfg, snapshot)
                self.store = Store(self.root, rows_bytes, ids_bytes)
            except OSError as exc:
                self.lock.release()
                raise OutputError(f"{self.root}: cannot open the index ({exc.strerror})"
                                  ) from exc
            except BaseException:
                self.lock.release()
                raise
        else:
            self.store = Store(None)

    # -- loading and saving -------------------------------------------------------------
    def _open(self, cfg: Config, snapshot: Snapshot | None) -> tuple[int, int]:
        """Load the committed state (or ``snapshot``) and remove leftovers of stopped runs."""
        assert self.root is not None
        manifest = read_manifest(self.root / MANIFEST, f"{self.root}: the index", RECOVER,
                                 ConfigError)
        if manifest is None and snapshot is None:
            others = [p.name for p in self.root.iterdir()]
            if "meta.json" in others:
                raise ConfigError(f"{self.root}: an index in an older format (meta.json, "
                                  "no manifest.json)",
                                  hint="rebuild it: run dedup clean --index NEWDIR over the "
                                  "corpus it holds")
            if [n for n in others if not (n.startswith(".") and n.endswith(".tmp"))
                    and n not in (ROWS, IDS)]:
                raise ConfigError(f"{self.root}: not a dedup index (no manifest.json, not "
                                  "empty)",
                                  hint="point --index at a directory dedup wrote, or an "
                                  "empty one")
        if manifest is not None:
            self._check_spec(manifest)
            self.generation = int(manifest.get("generation", 0))
            last = manifest.get("last_run", "")
            self.last_run = last if isinstance(last, str) else ""
        keep = {MANIFEST, ROWS, IDS}
        if manifest is not None:
            keep |= {e.name for e in manifest["files"].values()}
        # Leftovers: key arrays of generations no manifest names, and temporary files.
        sweep(self.root, keep, _ours)
        if snapshot is not None:
            return self._load(snapshot.keys_root, snapshot.files, snapshot.runs)
        if manifest is None:
            return 0, 0
        return self._load(self.root, manifest["files"], int(manifest.get("runs", 0)))

    def _check_spec(self, manifest: dict[str, Any]) -> None:
        assert self.root is not None
        if manifest.get("format") != FORMAT or manifest.get("kind") != "dedup-index":
            raise ConfigError(f"{self.root}: not a dedup index of format {FORMAT} "
                              f"(format {manifest.get('format')!r})",
                              hint="point --index at a directory this dedup wrote, or an "
                              "empty one")
        try:
            saved = IndexSpec(**manifest["spec"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{self.root}: the index manifest is damaged ({exc})",
                              hint=RECOVER) from exc
        if saved != self.spec:
            diff = [f"{k} {v} (index) vs {getattr(self.spec, k)} (this run)"
                    for k, v in asdict(saved).items() if getattr(self.spec, k) != v]
            raise ConfigError(
                f"{self.root}: the index was built with another configuration: "
                + "; ".join(diff),
                hint="run with the index's settings, or start a new index directory")

    def _load(self, keys_root: Path, files: dict[str, Entry], runs: int) -> tuple[int, int]:
        assert self.root is not None
        where = f"{self.root}: the index"
        if set(files) != {"keys", ROWS, IDS}:
            raise ConfigError(f"{where}: its manifest names {sorted(files)}", hint=RECOVER)
        verify(keys_root, files["keys"], where, RECOVER, ConfigError)
        for name in (ROWS, IDS):
            entry = files[name]
            if entry.name != name:
                raise ConfigError(f"{where}: its manifest names {entry.name} as {name}",
                                  hint=RECOVER)
            verify(self.root, entry, where, RECOVER, ConfigError)
            self.known[name] = list(entry.segments)
        try:
            with np.load(keys_root / files["keys"].name, allow_pickle=False) as z:
                arrays = {k: z[k] for k in _ARRAYS}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise ConfigError(f"{where} is damaged ({exc})", hint=RECOVER) from exc
        rows_bytes, ids_bytes = files[ROWS].size, files[IDS].size
        problem = _inconsistent(arrays, rows_bytes, ids_bytes)
        if problem:
            raise ConfigError(f"{where} is damaged ({problem})", hint=RECOVER)
        self.bands = KeyTable(arrays["bands"])
        self.exact = KeyTable(arrays["exact"])
        self.row_offsets = Column(np.uint64, arrays["row_offsets"])
        self.row_doc = Column(np.uint32, arrays["row_doc"])
        self.doc_tokens = Column(np.uint32, arrays["doc_tokens"])
        self.doc_cluster = Column(np.uint32, arrays["doc_cluster"])
        self.doc_id_offsets = Column(np.uint64, arrays["doc_id_offsets"])
        self.runs = runs
        return rows_bytes, ids_bytes

    def write_keys(self, into: Path, name: str, rows: int | None = None,
                   docs: int | None = None) -> dict[str, Entry]:
        """Write the key arrays as the new file ``into/name`` and return the entries that
        commit the index: the arrays and the store's lengths. ``rows`` and ``docs`` save the
        index as it was when it held that many paragraphs and documents (a checkpoint; the
        index in memory is unchanged)."""
        assert self.root is not None
        rows = self.paragraphs if rows is None else rows
        docs = self.documents if docs is None else docs
        self.store.sync()
        bands, exact = self.bands.compact(), self.exact.compact()
        if rows < self.paragraphs:  # rows are numbered in insertion order: drop the later ones
            bands = bands[(bands & ROW_MASK) < np.uint64(rows)]
            exact = exact[(exact & ROW_MASK) < np.uint64(rows)]
        keys = write_new(into, name, lambda fh: np.savez(
            fh, bands=bands, exact=exact,
            row_offsets=self.row_offsets.view()[:rows], row_doc=self.row_doc.view()[:rows],
            doc_tokens=self.doc_tokens.view()[:docs],
            doc_cluster=self.doc_cluster.view()[:docs],
            doc_id_offsets=self.doc_id_offsets.view()[:docs]))
        rows_bytes = (int(self.row_offsets.data[rows]) if rows < self.paragraphs
                      else self.store.rows.end)
        ids_bytes = (int(self.doc_id_offsets.data[docs]) if docs < self.documents
                     else self.store.ids.end)
        files = {"keys": keys}
        for name_, size in ((ROWS, rows_bytes), (IDS, ids_bytes)):
            entry = append_only(self.root, name_, size, self.known[name_])
            self.known[name_] = list(entry.segments)
            files[name_] = entry
        return files

    def save(self) -> None:
        """Commit the index to its directory (a crash at any point keeps the last commit)."""
        if self.root is None:
            return
        generation = self.generation + 1
        files = self.write_keys(self.root, f"index-{generation:06d}.npz")
        crash_point("index:keys-written")
        meta = {"format": FORMAT, "kind": "dedup-index", "spec": asdict(self.spec),
                "runs": self.runs + 1, "documents": self.documents,
                "paragraphs": self.paragraphs, "memory_bytes": self.nbytes,
                "generation": generation, "last_run": self.last_run}
        write_manifest(self.root / MANIFEST, meta, files)
        self.generation = generation
        self.runs += 1
        sweep(self.root, {e.name for e in files.values()} | {MANIFEST}, _ours)

    def close(self) -> None:
        self.store.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # -- contents ------------------------------------------------------------------------
    @property
    def documents(self) -> int:
        return len(self.doc_tokens)

    @property
    def paragraphs(self) -> int:
        return len(self.row_offsets)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory by the index's arrays."""
        # (not ``copies``: a cache of this process, which a resumed run starts without, and
        # the report says the same of a run whether or not it was resumed)
        return (self.bands.nbytes + self.exact.nbytes + self.row_offsets.nbytes
                + self.row_doc.nbytes
                + self.doc_tokens.nbytes + self.doc_cluster.nbytes + self.doc_id_offsets.nbytes)

    def add_document(self, doc_id: str, tokens: int, cluster: int | None) -> int:
        """Register a document; ``cluster`` is the ordinal of its cluster's first document."""
        ordinal = len(self.doc_tokens)
        self.doc_id_offsets.append(self.store.append_id(doc_id))
        self.doc_tokens.append(min(tokens, 0xFFFFFFFF))
        self.doc_cluster.append(ordinal if cluster is None else cluster)
        return ordinal

    def add_row(self, doc: int, line: int, payload: np.ndarray) -> int:
        """Store one paragraph's record (its sorted unique 32-bit hashes); returns its row."""
        row = len(self.row_offsets)
        if row > 0xFFFFFFFF:
            raise OutputError("the corpus index is full (2**32 paragraphs)",
                              hint="split the corpus into several index directories")
        record = np.concatenate((np.array([doc, line], dtype=_U32), payload.astype(_U32)))
        self.row_offsets.append(self.store.append_row(record))
        self.row_doc.append(doc)
        return row

    def add_documents(self, doc_ids: Sequence[str], tokens: Sequence[int],
                      clusters: Sequence[int]) -> int:
        """:meth:`add_document` of several documents at once (``clusters``: each one's
        cluster ordinal, its own for a new cluster): the same ids, offsets, tokens and
        clusters, one write to the store; returns the first one's ordinal."""
        first = len(self.doc_tokens)
        if not doc_ids:
            return first
        self.doc_id_offsets.append(self.store.append_ids(doc_ids))
        self.doc_tokens.append(np.minimum(np.asarray(tokens, dtype=np.int64), 0xFFFFFFFF))
        self.doc_cluster.append(np.asarray(clusters, dtype=np.int64))
        return first

    def add_rows(self, doc: int, lines: Sequence[int], payloads: Sequence[np.ndarray]
                 ) -> list[int]:
        """:meth:`add_row` for several paragraphs of document ``doc`` at once (one write to the
        store); returns their rows. The same records, offsets and rows."""
        if not payloads:
            return []
        sizes = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        first = self.add_rows_flat(np.full(len(payloads), doc, dtype=np.int64),
                                   np.asarray(lines, dtype=np.int64), sizes,
                                   np.concatenate(payloads))
        return list(range(first, first + len(payloads)))

    def add_rows_flat(self, docs: np.ndarray, lines: np.ndarray, sizes: np.ndarray,
                      flat: np.ndarray) -> int:
        """:meth:`add_row` for several rows at once, of any documents: row ``i`` is
        ``(docs[i], lines[i])`` with the next ``sizes[i]`` values of ``flat`` as its payload;
        one write to the store, the same records and offsets as row after row. Returns the
        first row."""
        first = len(self.row_offsets)
        n = len(docs)
        if not n:
            return first
        if first + n - 1 > 0xFFFFFFFF:
            raise OutputError("the corpus index is full (2**32 paragraphs)",
                              hint="split the corpus into several index directories")
        if len(flat) != int(sizes.sum()):
            raise ValueError(f"add_rows_flat: {len(flat)} payload values for sizes summing "
                             f"to {int(sizes.sum())}")
        ends = np.cumsum(sizes + 2)
        starts = ends - sizes - 2
        records = np.empty(int(ends[-1]), dtype=_U32)
        head = np.zeros(len(records), dtype=bool)
        head[starts] = True
        head[starts + 1] = True
        records[starts] = docs
        records[starts + 1] = lines
        records[~head] = flat
        base = self.store.append_row(records)
        self.row_offsets.append(base + 4 * starts)
        self.row_doc.append(np.asarray(docs, dtype=_U32))
        return first

    def records_of_size(self, rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The records of ``rows`` that hold exactly ``size`` values (document, line and a
        payload of ``size - 2``), as ``(values, whole)``: ``values`` uint32 of shape
        ``(len(rows), size)`` (zeros for the other rows), ``whole`` which rows they are. The
        same values :meth:`record` reads, for many rows at once."""
        starts, ends = self._spans(rows)
        whole = ends - starts == 4 * size
        values = np.zeros((len(rows), size), dtype=_U32)
        if whole.any():
            raw = self.store.rows.gather(starts[whole], 4 * size)
            values[whole] = raw.view(_U32).reshape(-1, size)
        return values, whole

    def _spans(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The byte range of each of ``rows``' records in the store: ``(starts, ends)``."""
        return _spans(self.row_offsets.view(), rows, self.store.rows.end)

    def heads(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The document ordinal and line of each of ``rows`` (int64 arrays): what
        :meth:`record` reads first, for many rows at once."""
        starts, _ = self._spans(rows)
        head = self.store.rows.gather_u32(starts // 4, np.full(len(starts), 2)).astype(np.int64)
        return head[0::2], head[1::2]

    def payloads(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets of ``rows`` as ``(bounds, values)``: row ``i``'s set is ``values``
        from ``bounds[i]`` to ``bounds[i + 1]`` (uint32), the sets :meth:`record` reads, for
        many rows at once."""
        starts, ends = self._spans(rows)
        sizes = (ends - starts) // 4 - 2
        bounds = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=bounds[1:])
        return bounds, self.store.rows.gather_u32(starts // 4 + 2, sizes)

    def record(self, row: int) -> tuple[int, int, np.ndarray]:
        """``(document ordinal, line, hashes)`` of a row, read from the store."""
        start = int(self.row_offsets.data[row])
        end = (int(self.row_offsets.data[row + 1]) if row + 1 < len(self.row_offsets)
               else self.store.rows.end)
        data = self.store.read_row(start, end)
        return int(data[0]), int(data[1]), data[2:]

    def doc_id(self, ordinal: int) -> str:
        start = int(self.doc_id_offsets.data[ordinal])
        end = (int(self.doc_id_offsets.data[ordinal + 1])
               if ordinal + 1 < len(self.doc_id_offsets) else self.store.ids.end)
        return self.store.read_id(start, end)

    def doc_ids(self, ordinals: np.ndarray) -> list[str]:
        """The ids of documents ``ordinals`` (:meth:`doc_id` of each), read in one gather
        and decoded at once: each is a whole line of the id store."""
        if not len(ordinals):
            return []
        starts, ends = _spans(self.doc_id_offsets.view(), ordinals, self.store.ids.end)
        text = self.store.ids.gather_bytes(starts, ends).decode("utf-8", "surrogatepass")
        return text.split("\n")[:-1]


def _spans(offsets: np.ndarray, items: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte range of each of ``items`` in a stream of ``end`` bytes where item ``i`` starts
    at ``offsets[i]`` and runs to the next item's start: ``(starts, ends)``, int64."""
    items = np.asarray(items, dtype=np.int64)
    starts = offsets[items].astype(np.int64)
    after = items + 1
    ends = np.full(len(items), end, dtype=np.int64)
    inside = after < len(offsets)
    ends[inside] = offsets[after[inside]].astype(np.int64)
    return starts, ends
