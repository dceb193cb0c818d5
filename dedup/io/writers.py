"""Writers: clean text mirroring the input layout (format and compression included), sharded
output, drop records, the run report.

Every file is written to a temporary file beside its target and renamed over it only when
complete (``os.replace``), so an interrupted run never leaves a half-written output. Compressed
and Parquet outputs are written as a stream (Parquet a row group at a time), so memory stays
bounded whatever the size of the output.

A write that fails (a full disk, a quota, a read-only file system, permissions, an I/O error,
a file size limit) raises :class:`~dedup.errors.OutputError` naming the file, with a hint, and
removes that file's temporary file; the writers' ``abort`` removes the others.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

import zstandard

from ..commit import crash_point, fsync_dir
from ..errors import ConfigError, OutputError
from ..parallel import Part
from ..pipeline import CleanResult
from ..types import DocCluster
from .readers import (
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    WARC_KINDS,
    Source,
    compression_of,
    is_glob,
    pyarrow_modules,
    strip_compression,
)
from .warc import mirrored_name

GZIP_LEVEL = 6  # gzip -6: the usual speed/size trade-off (9 is much slower for little gain)
ZSTD_LEVEL = 3  # zstd's default level
PARQUET_CODEC = "zstd"  # page compression inside Parquet outputs
ROW_GROUP_ROWS = 1000  # Parquet rows buffered before a row group is written
TEMP_SUFFIX = ".dedup.tmp"  # an output being written: .NAME.XXXXXXXX.dedup.tmp beside it


_WRITE_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space or write somewhere else",
    errno.EFBIG: "the file is larger than allowed here (ulimit -f, or the file system's "
                 "largest file): raise the limit or write somewhere else",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "no permission to write there: check the directory's permissions",
    errno.EPERM: "no permission to write there: check the directory's permissions",
    errno.EIO: "the device reported an I/O error: check the disk (dmesg) and try again",
}


# One encoder each, made once: json.dumps with options builds a new encoder on every call.
_RECORD_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_REMOVED_JSON = json.JSONEncoder(ensure_ascii=False)


def write_error(path: str | Path, exc: OSError, doing: str = "cannot write") -> OutputError:
    """An OSError while writing ``path`` as an OutputError naming the file, with a hint."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return OutputError(f"{path}: {doing} ({reason})", hint=_WRITE_HINTS.get(exc.errno or 0))


class AtomicBinaryFile:
    """A binary file that appears at ``path`` only on :meth:`commit`; :meth:`abort` removes it.

    :meth:`finish` closes the temporary file without publishing it (a complete file that waits
    for :meth:`commit`, as :class:`ShardedWriter` does with its shards); after it, :meth:`commit`
    only renames. A write error raises OutputError and removes the temporary file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # The directories this file makes (deepest first): an aborted run removes them again
        # when they are still empty, so it leaves no empty tree behind.
        self.made = [d for d in (self.path.parent, *self.path.parent.parents) if not d.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=TEMP_SUFFIX,
                                       dir=self.path.parent)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self.tmp = Path(tmp)
        self.raw: BinaryIO = os.fdopen(fd, "wb")
        self.finished = False

    def failed(self, exc: OSError) -> OutputError:
        """Remove the temporary file after ``exc``; the error to raise."""
        self.abort()
        return write_error(self.path, exc)

    def _close(self) -> None:
        self.raw.close()

    def finish(self) -> None:
        """Close the temporary file (complete, not yet at ``path``), with the usual mode."""
        if self.finished:
            return
        try:
            self._close()
            fd = os.open(self.tmp, os.O_RDONLY)  # on disk before it can be renamed into place
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual mode
        except OSError as exc:
            raise self.failed(exc) from exc
        self.finished = True

    def commit(self) -> None:
        self.finish()
        _publish_file(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # the write that failed may fail again on close
            self.raw.close()
        self.tmp.unlink(missing_ok=True)
        for made in self.made:
            try:
                made.rmdir()  # only when empty: another output may live there
            except OSError:
                break


class AtomicFile(AtomicBinaryFile):
    """A UTF-8 text file that appears at ``path`` only on :meth:`commit`; :meth:`abort` removes
    it. Compressed as a stream when ``compression`` (by default: the name, ``.gz`` or ``.zst``)
    says so."""

    def __init__(self, path: str | Path, compression: str | None = None) -> None:
        super().__init__(path)
        comp = compression_of(self.path.name) if compression is None else compression
        stream: Any = self.raw
        if comp == "gz":
            # mtime=0 and no file name in the header: the same text gives the same bytes.
            stream = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=GZIP_LEVEL,
                                   mtime=0, filename="")
        elif comp == "zst":
            stream = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True) \
                .stream_writer(self.raw, closefd=False)
        self.fh: TextIO = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        try:
            self.fh.write(text)
        except OSError as exc:
            raise self.failed(exc) from exc

    def _close(self) -> None:
        self.fh.close()  # ends the compressed stream; the temporary file stays open
        self.raw.close()

    def abort(self) -> None:
        # The write that failed may fail again on close; the file goes anyway.
        with contextlib.suppress(OSError, ValueError, zstandard.ZstdError):
            self.fh.close()
        super().abort()


class _Stdout:
    def write(self, text: str) -> None:
        try:
            sys.stdout.write(text)
        except OSError as exc:
            raise write_error("stdout", exc) from exc

    def commit(self) -> None:
        try:
            sys.stdout.flush()
        except OSError as exc:
            raise write_error("stdout", exc) from exc

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            sys.stdout.flush()


def output_format(kind: str, dest: str) -> str:
    """How a source of ``kind`` is written to ``dest``: ``txt``, ``jsonl`` or ``parquet``.

    Text stays text; records (JSONL, Parquet) are written as Parquet when the output name ends
    in ``.parquet``, else as JSONL (so ``-o -`` prints a Parquet input as JSONL). Compression
    follows the output name (``.gz``, ``.zst``).

    >>> output_format("parquet", "out/a.parquet"), output_format("parquet", "a.jsonl.zst")
    ('parquet', 'jsonl')
    """
    if kind == "txt":
        return "txt"
    parquet = dest != "-" and strip_compression(dest.lower()).endswith(".parquet")
    return "parquet" if parquet else "jsonl"


def _check_parquet(dest: str) -> None:
    if compression_of(dest):
        raise OutputError(f"{dest}: Parquet output cannot be .gz/.zst compressed",
                          hint="name it .parquet: Parquet compresses its pages itself")
    pyarrow_modules(OutputError)


def _check_formats(plan: dict[str, str], sources: Sequence[Source]) -> None:
    """Refuse outputs that cannot be written, before anything is."""
    for s in sources:
        if output_format(s.kind, plan[s.rel]) == "parquet":
            _check_parquet(plan[s.rel])


def output_is_dir(inputs: Sequence[str], out: str) -> bool:
    """Whether the outputs go into the directory ``out``, mirroring the inputs: true unless
    ``out`` is stdout (``-``), or one file (or stdin) is given and ``out`` is not an existing
    directory."""
    if out == "-":
        return False
    return not (len(inputs) == 1 and (inputs[0] == "-" or (not Path(inputs[0]).is_dir()
                                                           and not is_glob(inputs[0])))
                and not Path(out).is_dir())


def combined_output(inputs: Sequence[str], out: str) -> bool:
    """Whether every document of several inputs (a directory, a glob pattern, more than one
    input) goes into the one file ``out``: ``out`` is named as a file of records, JSONL
    (``.jsonl``, ``.ndjson``, also ``.gz``/``.zst``) or Parquet, and is not a directory (see
    :class:`CombinedWriter`). A text file cannot hold several documents, so a ``.txt`` name
    stays an error (:func:`dedup.io.paths.check_plan`).

    >>> combined_output(["a.jsonl", "b.jsonl"], "all.jsonl.zst")
    True
    >>> combined_output(["a.jsonl"], "o.jsonl"), combined_output(["a.txt", "b.txt"], "o.txt")
    (False, False)
    """
    if out == "-" or not output_is_dir(inputs, out) or os.path.isdir(out) or out.endswith(os.sep):
        return False
    name = strip_compression(os.path.basename(out).lower())
    return name.endswith((*JSONL_SUFFIXES, *PARQUET_SUFFIXES))


def plan_outputs(sources: Sequence[Source], out: str, inputs: Sequence[str]) -> dict[str, str]:
    """Map each source's relative name to its output path (``-`` for stdout).

    One file given in ``inputs`` and ``out`` not an existing directory: ``out`` is the output
    file. Otherwise (directories, glob patterns, several inputs) ``out`` is a directory that
    mirrors the inputs' relative names. Refuses to write inside an input directory, and two
    inputs with the same output name; :func:`dedup.io.paths.check_write_paths` then checks
    every path of the run against the inputs and each other.
    """
    if out == "-":
        return {s.rel: "-" for s in sources}
    if combined_output(inputs, out):
        return {s.rel: out for s in sources}
    target = Path(out)
    single = not output_is_dir(inputs, out)
    if not single and target.exists() and not target.is_dir():
        raise OutputError(f"{out} is a file, but the outputs of these inputs go into a "
                          f"directory that mirrors them",
                          hint="give -o a directory (it is created when missing)")
    plan: dict[str, str] = {}
    for s in sources:
        dest = target if single else target / _mirrored(s)
        if s.rel in plan and plan[s.rel] != str(dest):
            raise OutputError(f"two inputs would both be written to {dest}",
                              hint="clean them in separate runs or rename one")
        plan[s.rel] = str(dest)
    if not single:
        # A glob pattern stands for the files it matches (as if listed), not for a directory.
        outdir = target.resolve()
        roots = [Path(i).resolve() for i in inputs if i != "-" and Path(i).is_dir()]
        for root in roots:
            if outdir == root or root in outdir.parents:
                raise OutputError(f"refusing to write into the input directory {out}",
                                  hint="choose an -o directory outside the inputs")
    _check_formats(plan, sources)
    return plan


def _mirrored(source: Source) -> str:
    """A source's name in a mirrored output directory: its own, but a WET or WARC file's output
    is JSONL (``a.warc.wet.gz`` -> ``a.warc.wet.jsonl.gz``)."""
    return mirrored_name(source.rel) if source.kind in WARC_KINDS else source.rel


CLUSTER_FIELD = "dedup_cluster"  # added to a record that near-duplicates an earlier one


def output_record(result: CleanResult, text_field: str = "text") -> dict[str, Any]:
    """The record written for a cleaned document: its input record with the clean text swapped
    in (a text file's record is ``{"id": ..., text_field: ...}``), plus ``dedup_cluster`` when
    it near-duplicates an earlier document."""
    doc = result.doc
    record = dict(doc.meta) if doc.meta else {"id": doc.id}
    record[text_field] = result.text
    if doc.cluster is not None and doc.cluster.duplicate:
        record[CLUSTER_FIELD] = doc.cluster.id
    return record


class _Sink(Protocol):
    """Where one output's documents go: a text, JSONL or Parquet file (or stdout)."""

    def add(self, result: CleanResult) -> None: ...
    def finish(self) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class _TextSink:
    """Clean text as is: a text file's output."""

    def __init__(self, fh: AtomicFile | _Stdout) -> None:
        self.fh = fh

    def add(self, result: CleanResult) -> None:
        self.fh.write(result.text)

    def finish(self) -> None:
        if isinstance(self.fh, AtomicFile):
            self.fh.finish()

    def commit(self) -> None:
        self.fh.commit()

    def abort(self) -> None:
        self.fh.abort()


class _JsonlSink(_TextSink):
    """One JSON record per line; unreadable and dropped documents are left out."""

    def __init__(self, fh: AtomicFile | _Stdout, text_field: str) -> None:
        super().__init__(fh)
        self.text_field = text_field

    def add(self, result: CleanResult) -> None:
        if result.doc.error or result.dropped_document:
            return
        fin = result.finished
        if fin is not None and fin.line is not None:  # rendered where its record was parsed
            self.fh.write(fin.line)
            return
        self.fh.write(record_json(output_record(result, self.text_field)) + "\n")

    def add_records(self, records: str) -> None:
        """Output records rendered as :meth:`add` renders them (a part's, see
        :class:`~dedup.parallel.Part`), one JSONL line each."""
        if records:
            self.fh.write(records)


def record_json(record: dict[str, Any]) -> str:
    """An output record as its JSONL line (without the newline)."""
    try:
        return _RECORD_JSON.encode(record)
    except ValueError:  # a NaN or infinite float (a Parquet cell): JSON has no such number
        return _RECORD_JSON.encode(_finite(record))


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON's ``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class ParquetSink:
    """Records into a Parquet file, ``ROW_GROUP_ROWS`` rows per row group.

    Parquet fixes a file's columns before its first row, so the schema is ``schema`` when given
    (a Parquet input's, to mirror it) or inferred from the first row group, and a
    ``dedup_cluster`` string column is always added (null for rows that are not near-duplicates)
    since which rows are duplicates is only known as they stream by. Values that JSON carried
    (dates as ISO strings, ...) are converted back to their column's type.
    """

    def __init__(self, path: str | Path, text_field: str = "text", schema: Any = None) -> None:
        self.pa, self.pq = pyarrow_modules(OutputError)
        self.file = AtomicBinaryFile(path)
        self.text_field = text_field
        self.schema: Any = self._complete(schema) if schema is not None else None
        self.rows: list[dict[str, Any]] = []
        self.writer: Any = None

    def _complete(self, schema: Any) -> Any:
        """``schema`` with a string text column (kept when already a string type) and the
        ``dedup_cluster`` column, without pandas metadata (its column list would be stale)."""
        pa = self.pa
        fields = []
        for f in schema:
            if f.name == self.text_field and not (pa.types.is_string(f.type)
                                                  or pa.types.is_large_string(f.type)):
                f = pa.field(f.name, pa.string())
            elif pa.types.is_null(f.type):
                f = pa.field(f.name, pa.string())  # no value seen yet: text is the best guess
            fields.append(f)
        names = {f.name for f in fields}
        for extra in (self.text_field, CLUSTER_FIELD):
            if extra not in names:
                fields.append(self.pa.field(extra, self.pa.string()))
        return pa.schema(fields)

    def add(self, result: CleanResult) -> None:
        if result.doc.error or result.dropped_document:
            return
        self.rows.append(output_record(result, self.text_field))
        if len(self.rows) >= ROW_GROUP_ROWS:
            self._written(self._flush)

    def _written(self, write: Any) -> None:
        """``write()``, a write error raised as OutputError with the file removed."""
        try:
            write()
        except OSError as exc:  # pyarrow passes the file object's OSError on
            self.abort()
            raise write_error(self.file.path, exc) from exc

    def _problems(self) -> tuple[type[BaseException], ...]:
        return (self.pa.ArrowException, TypeError, ValueError, OverflowError)

    def _mixed(self, name: str, what: str, exc: BaseException) -> OutputError:
        return OutputError(f"{self.file.path}: column {name!r} holds {what} ({exc})",
                           hint="Parquet needs one type per column; write JSONL (.jsonl, "
                                ".jsonl.zst) instead")

    def _infer(self) -> Any:
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row))
        fields = []
        for name in names:
            try:
                fields.append((name, self.pa.array([r.get(name) for r in self.rows]).type))
            except self._problems() as exc:
                raise self._mixed(name, "values of different types", exc) from exc
        return self._complete(self.pa.schema(fields))

    def _column(self, name: str, kind: Any) -> Any:
        pa = self.pa
        values = [row.get(name) for row in self.rows]
        if pa.types.is_map(kind):  # JSON carried each map as [key, value] pairs
            values = [None if v is None else [tuple(p) for p in v] for v in values]
        try:
            return pa.array(values, type=kind)
        except self._problems():
            pass
        try:
            return pa.array(values).cast(kind)  # ISO strings -> timestamps, "1.25" -> decimal
        except self._problems() as exc:
            raise self._mixed(name, f"values that are not {kind}", exc) from exc

    def _flush(self) -> None:
        if self.schema is None:
            if not self.rows:
                self.schema = self._complete(self.pa.schema([]))
            else:
                self.schema = self._infer()
        table = self.pa.Table.from_arrays(
            [self._column(f.name, f.type) for f in self.schema], schema=self.schema)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.file.raw, self.schema,
                                                compression=PARQUET_CODEC)
        if self.rows:
            self.writer.write_table(table, row_group_size=len(self.rows))
        self.rows = []

    def finish(self) -> None:
        if self.file.finished:
            return

        def close() -> None:
            self._flush()
            self.writer.close()

        self._written(close)
        self.file.finish()

    def commit(self) -> None:
        self.finish()
        self.file.commit()

    def abort(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(self.pa.ArrowException, OSError, ValueError):
                self.writer.close()  # the file goes anyway
            self.writer = None
        self.file.abort()


def open_sink(dest: str, fmt: str, text_field: str = "text", schema: Any = None) -> _Sink:
    """A sink writing ``fmt`` (``txt``, ``jsonl``, ``parquet``) to ``dest`` (``-``: stdout)."""
    if fmt == "parquet":
        _check_parquet(dest)
        return ParquetSink(dest, text_field, schema)
    fh: AtomicFile | _Stdout = _Stdout() if dest == "-" else AtomicFile(dest)
    return _JsonlSink(fh, text_field) if fmt == "jsonl" else _TextSink(fh)


class StagedOutput:
    """A finished output of an interrupted run, waiting under its temporary name: published by
    :meth:`commit` (already published when only the target is there)."""

    def __init__(self, temp: str | Path, target: str | Path) -> None:
        self.tmp = Path(temp)
        self.path = Path(target)

    def add(self, result: CleanResult) -> None:
        raise OutputError(f"{self.path}: this output is already complete")

    def finish(self) -> None:
        pass

    def commit(self) -> None:
        if self.tmp.exists() or not self.path.exists():
            _publish_file(self.tmp, self.path)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _publish_file(tmp: Path, path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc, "cannot publish the output") from exc


def temp_of(sink: _Sink) -> Path | None:
    """The temporary file a finished output waits in (``None``: stdout)."""
    if isinstance(sink, StagedOutput):
        return sink.tmp
    if isinstance(sink, ParquetSink):
        return sink.file.tmp
    if isinstance(sink, _TextSink) and isinstance(sink.fh, AtomicFile):
        return sink.fh.tmp
    return None


class _PublishedAtEnd:
    """Outputs finished under temporary names and renamed into place together at the end of a
    run (:meth:`_publish`), or all removed (:meth:`abort`): the shared part of the writers.

    Every byte is written before the first rename, so a full disk or any other write error
    stops the run with no output published; publishing is renames only.
    """

    def __init__(self) -> None:
        self.sink: _Sink | None = None  # the output being written
        self.done: list[tuple[str, _Sink]] = []  # finished outputs, not yet renamed into place
        self.written: list[str] = []

    @property
    def pending(self) -> list[str]:
        """The finished outputs that :meth:`_publish` will rename into place."""
        return [path for path, _ in self.done]

    def _publish(self) -> None:
        renamed = 0
        try:
            for path, sink in self.done:
                sink.commit()
                self.written.append(path)
                renamed += 1
                crash_point("publish:output")
        except OutputError as exc:  # the caller aborts the rest (keeping a checkpoint's)
            self.done = self.done[renamed:]
            if self.written:  # a rename failed after others succeeded: say which are there
                exc.message += (f"; {len(self.written)} output(s) were already renamed into "
                                f"place ({self.written[0]}, ...)")
            raise
        for parent in sorted({Path(path).parent for path, _ in self.done if path != "-"}):
            with contextlib.suppress(OSError):  # the renames on disk (not on every filesystem)
                fsync_dir(parent)
        self.done = []

    def staged(self) -> list[tuple[str, Path]]:
        """``(target, temporary file)`` of every finished output not yet published."""
        out = []
        for path, sink in self.done:
            temp = temp_of(sink)
            if temp is not None:
                out.append((path, temp))
        return out

    def adopt(self, staged: Sequence[tuple[str, str]]) -> None:
        """Take the finished outputs ``(target, temporary file)`` of an interrupted run: they
        are published with this run's."""
        self.done.extend((target, StagedOutput(temp, target)) for target, temp in staged)

    def abort(self, keep: Collection[str] = ()) -> None:
        """Remove every output of the run (none has been renamed into place before close),
        except the finished ones whose temporary files are in ``keep`` (a checkpoint names
        them, for ``--resume``)."""
        if self.sink is not None:
            self.sink.abort()
        for _, sink in reversed(self.done):  # the newest first: it may sit in a directory an
            temp = temp_of(sink)              # older one made, which then goes too
            if temp is None or str(temp) not in keep:
                sink.abort()
        self.sink = None
        self.done = []


class OutputWriter(_PublishedAtEnd):
    """Writes clean results source by source, one output per source.

    Each output mirrors its input's format (see :func:`output_format`); a Parquet input's
    output keeps its columns and their types. An output is finished (closed, still under its
    temporary name) when its source ends; :meth:`close` renames them all into place at the end
    of the run, :meth:`abort` removes them all. So a run that stops part way (an error,
    ``--strict`` at a bad record, Ctrl-C) leaves no output and replaces no older file at an
    output path, as :class:`ShardedWriter` does; the cost is that the finished outputs wait as
    temporary files until the run ends. Output to stdout (``-``) cannot be taken back.

    A file of records (JSONL, Parquet) with no record in it gets an empty output, as an empty
    text file does; an unreadable or dropped text file gets none.
    """

    def __init__(self, plan: dict[str, str], sources: Sequence[Source],
                 text_field: str = "text") -> None:
        super().__init__()
        self.plan = plan
        self.kinds = {s.rel: s.kind for s in sources}
        self.paths = {s.rel: s.path for s in sources if not s.problem}  # never opened
        self.text_field = text_field
        self.current: str | None = None
        self.opened: set[str] = set()

    def records_as_jsonl(self) -> bool:
        """Whether every record of a records input (JSONL, Parquet) is written as a JSONL line,
        none into a Parquet file (whose columns are made from the record's fields)."""
        return all(output_format(kind, self.plan[rel]) != "parquet"
                   for rel, kind in self.kinds.items())

    def _switch(self, rel: str) -> _Sink:
        if self.current == rel and self.sink is not None:
            return self.sink
        self._finish()
        self.opened.add(rel)
        dest = self.plan[rel]
        kind = self.kinds[rel]
        fmt = output_format(kind, dest)
        schema = None
        if fmt == "parquet" and kind == "parquet" and rel in self.paths:
            pa, pq = pyarrow_modules(OutputError)
            with contextlib.suppress(pa.ArrowException, OSError, ValueError):
                schema = pq.read_schema(self.paths[rel])  # unreadable: the reader said so
        self.sink = open_sink(dest, fmt, self.text_field, schema)
        self.current = rel
        return self.sink

    def _finish(self) -> None:
        if self.sink is not None and self.current is not None:
            self.sink.finish()
            self.done.append((self.plan[self.current], self.sink))
        self.sink = None
        self.current = None

    def write(self, result: CleanResult) -> None:
        doc = result.doc
        if (doc.error or result.dropped_document) and self.kinds.get(doc.source) == "txt":
            return  # an unreadable or dropped text file gets no output file
        self._switch(doc.source).add(result)

    def write_part(self, part: Part) -> None:
        """A part's documents (of a JSONL input written as JSONL), as :meth:`write` of each."""
        sink = self._switch(part.source)
        assert isinstance(sink, _JsonlSink), "parts are of JSONL inputs written as JSONL"
        sink.add_records(part.records)

    def finish_sources(self, finished: Sequence[str] = ()) -> None:
        """Finish the outputs of the inputs ``finished`` (a checkpoint of a resumable run): a
        file of records that had none gets its empty output now."""
        self._finish()
        for rel in finished:
            if self.kinds.get(rel, "txt") != "txt" and rel not in self.opened:
                self._switch(rel)
                self._finish()

    def finish(self) -> None:
        """Finish the last output and the empty ones: every output is complete, under its
        temporary name."""
        self._finish()
        for rel, kind in self.kinds.items():
            if kind != "txt" and rel not in self.opened:  # no record in it: an empty output
                self._switch(rel)
                self._finish()

    def publish(self) -> None:
        """Rename every finished output into place."""
        self._publish()

    def close(self) -> None:
        """Finish the last output, then rename every output into place."""
        self.finish()
        self._publish()

    def abort(self, keep: Collection[str] = ()) -> None:
        super().abort(keep)
        self.current = None


SHARD_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")


class ShardedWriter(_PublishedAtEnd):
    """Every document into ``out_dir/part-00000<suffix>``, ``part-00001<suffix>``, ...: a new
    shard every ``shard_docs`` written documents, in input order.

    Same interface as :class:`OutputWriter`. Unreadable and dropped documents are not written;
    a text file's document is written as ``{"id": ..., text_field: ...}``. Each shard is
    written to a temporary file; :meth:`close` renames them all into place, :meth:`abort`
    removes them all, so a failed run leaves no shards. Refuses a directory that already holds
    ``part-*`` files (a smaller run would leave stale shards among the new ones). Parquet shards
    share the first shard's schema.

    >>> import tempfile
    >>> from dedup import Cleaner, Document
    >>> docs = [Document(id=f"d{i}", text=f"document number {i}") for i in range(3)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     writer = ShardedWriter(out, ".jsonl.zst", shard_docs=2)
    ...     for result in Cleaner().clean_documents(docs):
    ...         writer.write(result)
    ...     writer.close()
    ...     [Path(p).name for p in writer.written]
    ['part-00000.jsonl.zst', 'part-00001.jsonl.zst']
    """

    def __init__(self, out_dir: str, suffix: str = ".jsonl.zst", shard_docs: int = 100_000,
                 text_field: str = "text") -> None:
        if suffix not in SHARD_SUFFIXES:
            raise ConfigError(f"shard suffix {suffix!r} is not one of "
                              f"{', '.join(SHARD_SUFFIXES)}")
        if shard_docs < 1:
            raise ConfigError(f"documents per shard must be at least 1, not {shard_docs}")
        if suffix == ".parquet":
            pyarrow_modules(OutputError)
        super().__init__()
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise OutputError(f"{out_dir}: not a directory",
                              hint="sharded output goes into a directory; choose another path")
        old = sorted(self.out_dir.glob("part-*")) if self.out_dir.is_dir() else []
        if old:
            raise OutputError(f"{out_dir} already holds shards ({old[0].name}, ...)",
                              hint="choose an empty directory, or remove the old part-* files")
        self.suffix = suffix
        self.shard_docs = shard_docs
        self.text_field = text_field
        self.fmt = "parquet" if suffix == ".parquet" else "jsonl"
        self.count = 0  # documents in the open shard

    def records_as_jsonl(self) -> bool:
        """Whether every record is written as a JSONL line (see OutputWriter's)."""
        return self.fmt == "jsonl"

    def shard_path(self, n: int) -> str:
        return str(self.out_dir / f"part-{n:05d}{self.suffix}")

    def write(self, result: CleanResult) -> None:
        if result.doc.error or result.dropped_document:
            return
        if self.sink is None:
            schema = None
            if self.done and isinstance(self.done[0][1], ParquetSink):
                schema = self.done[0][1].schema
            self.sink = open_sink(self.shard_path(len(self.done)), self.fmt, self.text_field,
                                  schema)
        self.sink.add(result)
        self.count += 1
        if self.count >= self.shard_docs:
            self._finish()

    def write_part(self, part: Part) -> None:
        """A part's documents, as :meth:`write` of each: its records cut where a shard fills."""
        records, left = part.records, part.written
        while left:
            if self.sink is None:
                self.sink = open_sink(self.shard_path(len(self.done)), self.fmt,
                                      self.text_field)
            sink = self.sink
            assert isinstance(sink, _JsonlSink), "parts are written as JSONL"
            room = self.shard_docs - self.count
            if left <= room:
                sink.add_records(records)
                self.count += left
                left = 0
            else:
                cut = -1
                for _ in range(room):  # past the room-th record's newline
                    cut = records.index("\n", cut + 1)
                sink.add_records(records[:cut + 1])
                records = records[cut + 1:]
                self.count += room
                left -= room
            if self.count >= self.shard_docs:
                self._finish()

    def _finish(self) -> None:
        if self.sink is not None:
            self.sink.finish()
            self.done.append((self.shard_path(len(self.done)), self.sink))
        self.sink = None
        self.count = 0

    def finish(self) -> None:
        """Finish the last shard: every shard is complete, under its temporary name."""
        self._finish()

    def publish(self) -> None:
        """Rename every finished shard into place."""
        self._publish()

    def close(self) -> None:
        self.finish()
        self._publish()


class CombinedWriter(ShardedWriter):
    """Every document of every input into the one file ``out``, in input order: JSONL (its
    compression from the name) or Parquet (``.parquet``). Same rules as
    :class:`ShardedWriter` (it is one shard without a size limit, at a path of the user's):
    unreadable and dropped documents are not written, a text file's document is written as
    ``{"id": ..., text_field: ...}``, and the file appears, renamed from its temporary name,
    only when the run ends.

    >>> import tempfile
    >>> from dedup import Cleaner, Document
    >>> docs = [Document(id=f"d{i}", text=f"document number {i}") for i in range(3)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     writer = CombinedWriter(str(Path(out) / "all.jsonl"))
    ...     for result in Cleaner().clean_documents(docs):
    ...         writer.write(result)
    ...     writer.close()
    ...     lines = (Path(out) / "all.jsonl").read_text().splitlines()
    ...     [Path(p).name for p in writer.written], len(lines)
    (['all.jsonl'], 3)
    """

    def __init__(self, out: str, text_field: str = "text") -> None:
        fmt = output_format("jsonl", out)
        if fmt == "parquet":
            _check_parquet(out)
        _PublishedAtEnd.__init__(self)
        self.path = out
        self.out_dir = Path(out).parent
        self.suffix = ""
        self.shard_docs = sys.maxsize
        self.text_field = text_field
        self.fmt = fmt
        self.count = 0

    def shard_path(self, n: int) -> str:
        return self.path


RemovedRow = tuple[int, str, float, "tuple[str, int] | None", str, str]


def removed_records(result: CleanResult) -> list[dict[str, Any]]:
    """One JSON-ready record per dropped line: where, what, why, which line it copies."""
    doc = result.doc
    return removed_rows(doc.id, doc.cluster, result.dropped_document, [
        (para.line, v.reason, v.score, None if v.match is None else (v.match.doc, v.match.line),
         v.detail, para.text) for para, v in result.removed])


def removed_rows(doc_id: str, cluster: DocCluster | None, dropped_document: bool,
                 rows: Iterable[RemovedRow]) -> list[dict[str, Any]]:
    """:func:`removed_records` from plain values: each dropped line's ``(line, reason, score,
    (matched document, matched line) or None, detail, text)``, in line order."""
    name = cluster.id if cluster is not None else None
    out: list[dict[str, Any]] = []
    if cluster is not None and cluster.duplicate and not dropped_document:
        # a tagged near-duplicate document: one record for the document itself
        out.append({"doc": doc_id, "line": None, "reason": "duplicate:document",
                    "score": cluster.similarity, "match": {"doc": name, "line": None},
                    "cluster": name, "detail": "tagged, not dropped", "text": None})
    for line, reason, score, match, detail, text in rows:
        out.append({
            "doc": doc_id,
            "line": line,
            "reason": reason,
            "score": score,
            "match": None if match is None else {"doc": match[0], "line": match[1] or None},
            "cluster": name,
            "detail": detail,
            "text": text,
        })
    return out


def removed_json(records: list[dict[str, Any]]) -> str:
    """Records as the ``--removed`` file's JSON lines (empty when none)."""
    return "".join([_REMOVED_JSON.encode(rec) + "\n" for rec in records])


def removed_lines(result: CleanResult) -> str:
    """:func:`removed_records` as the ``--removed`` file's JSON lines (empty when none)."""
    return removed_json(removed_records(result))


class RemovedWriter:
    """The ``--removed`` JSONL file, written atomically: :meth:`finish` completes it under a
    temporary name, :meth:`commit` renames it into place (:meth:`close`: both).

    With a ``journal`` (a resumable run), records go straight to that file, which survives an
    interruption; ``keep`` bytes of an earlier journal are kept (the rest is cut off) and the
    target is written from the journal on :meth:`finish`.
    """

    def __init__(self, path: str, journal: Path | None = None, keep: int = 0) -> None:
        self.path = path
        self.journal: Any = None
        self.journal_path = journal
        self.fh: AtomicFile | _Stdout | None = None
        if journal is not None:
            try:
                journal.parent.mkdir(parents=True, exist_ok=True)
                with open(journal, "ab") as fh:
                    fh.truncate(keep)
                self.journal = open(journal, "r+b")  # noqa: SIM115 - closed in close()/abort()
                self.journal.seek(keep)
            except OSError as exc:
                raise write_error(journal, exc) from exc
        else:
            self.fh = _Stdout() if path == "-" else AtomicFile(path)

    def write(self, result: CleanResult) -> None:
        if result.finished is None:
            lines = removed_lines(result)
        elif result.finished.removed is None:
            raise ValueError("a result finished without its removed records")
        else:
            lines = result.finished.removed
        self.write_lines(lines)

    def write_part(self, part: Part) -> None:
        """A part's ``--removed`` records, as :meth:`write` of each of its documents."""
        if part.removed is None:
            raise ValueError("a part finished without its removed records")
        self.write_lines(part.removed)

    def write_lines(self, lines: str) -> None:
        """``--removed`` records as their JSON lines."""
        if not lines:
            return
        if self.journal is not None:
            try:
                self.journal.write(lines.encode("utf-8", "surrogatepass"))
            except OSError as exc:
                raise write_error(self.journal_path or self.path, exc) from exc
        elif self.fh is not None:
            self.fh.write(lines)

    def tell(self) -> int:
        """Bytes in the journal so far (after a flush, so a checkpoint can record them)."""
        if self.journal is None:
            return 0
        try:
            self.journal.flush()
            os.fsync(self.journal.fileno())
        except OSError as exc:
            raise write_error(self.journal_path or self.path, exc) from exc
        return int(self.journal.tell())

    def finish(self) -> None:
        """Every record written, under a temporary name (stdout: as they came)."""
        if self.journal is not None:
            try:
                self.journal.flush()
                self.journal.seek(0)
            except OSError as exc:
                raise write_error(self.journal_path or self.path, exc) from exc
            fh: AtomicFile | _Stdout = _Stdout() if self.path == "-" else AtomicFile(self.path)
            self.fh = fh
            for raw in self.journal:
                fh.write(raw.decode("utf-8", "surrogatepass"))
            self.journal.close()
            self.journal = None
        if isinstance(self.fh, AtomicFile):
            self.fh.finish()

    def commit(self) -> None:
        if self.fh is not None:
            self.fh.commit()

    def close(self) -> None:
        self.finish()
        self.commit()

    def abort(self) -> None:
        if self.journal is not None:
            with contextlib.suppress(OSError):
                self.journal.close()  # the journal stays for --resume
        if self.fh is not None:
            self.fh.abort()


class JsonFile:
    """A JSON document (the ``--report``) written now to a temporary file, so a write error
    shows before anything is published, and renamed into place by :meth:`commit`. For stdout
    (``-``) it is printed by :meth:`commit`."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        self.fh: AtomicFile | None = None
        if path != "-":
            self.fh = AtomicFile(path)
            self.fh.write(self.text)
            self.fh.finish()

    def commit(self) -> None:
        if self.fh is None:
            out = _Stdout()
            out.write(self.text)
            out.commit()
        else:
            self.fh.commit()

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.abort()


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write a JSON document atomically (``-`` for stdout)."""
    JsonFile(path, data).commit()
