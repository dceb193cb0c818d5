"""Readers: text files (one document each), JSONL files (one document per line), Parquet files
(one document per row), directories (walked recursively, sorted), glob patterns and stdin (``-``)
-> :class:`~dedup.types.Document`.

Text and JSONL files may be gzip (``.gz``) or zstd (``.zst``) compressed; they are decompressed
as a stream, and Parquet is read a batch of rows at a time, so memory stays bounded per file
whatever its size. A record that cannot be read does not stop the run: it becomes a document with
``error`` set, which the pipeline passes through untouched and the writer counts as a failure.
A compressed file that is truncated or corrupt ends with such a document, naming the file and the
last line read.

Bad input, by kind (``encoding_errors`` is ``strict``, ``replace`` or ``skip``):

- bytes that are not UTF-8 (and, in JSONL, ``\\ud800``-style escapes of lone surrogates, which no
  UTF-8 file can hold): a failure under ``strict``; U+FFFD under ``replace``; under ``skip`` the
  record (JSONL line, Parquet row, text file) is left out on purpose (``Document.skipped``);
- a text file with a NUL byte in its first ``BINARY_PROBE`` bytes: a failure, "binary file, not
  text", whatever ``encoding_errors`` says; a JSONL line with a raw NUL byte likewise (an escaped
  ``\\u0000`` is JSON text, and is read as such);
- a UTF-8 byte order mark starts a text file or a JSONL file: it is ignored.

Stdin (``-``) has no name to go by: unless ``--input-format`` says, its first non-blank line
tells (:func:`sniff_stdin`): a JSON object (or the start of one, ``{"``) makes it JSONL, anything
else plain text (one document). The bytes read to tell are read again as part of the input.
Compressed stdin is refused with a hint. A run that names a record field (``--id-field``, a
``--text-field`` other than ``text``) refuses stdin that reads as text
(:class:`OptionMismatch`): the field would be ignored.

``id_field`` (``--id-field``): the JSONL field or Parquet column whose value (a string or an
integer) is the document id, instead of ``file:line``; a record without it, or with another
kind of value, is a failure naming it. Ids are labels, not keys: two records may share one.

Size limits (:class:`Limits`, ``--max-line-bytes`` and ``--max-doc-bytes``): a line longer than
``line_bytes`` or a document larger than ``doc_bytes`` is refused, a failure naming it, and is
not read whole: a text file is read ``READ_CHUNK`` bytes at a time and left at the first line or
byte over a limit (the whole file is the failure: one document per file, none of it is cleaned);
a JSONL record over ``doc_bytes`` is skipped up to its newline without being held, and the next
records are read. Memory per input stays bounded whatever the input, a gzip bomb included.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import datetime
import fnmatch
import glob
import gzip
import importlib
import io
import json
import math
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import zstandard

from ..errors import ConfigError, DedupError, InputError
from ..progress import counted, source_size
from ..types import Document

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

TEXT_SUFFIXES = (".txt", ".text")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
WARC_KINDS = ("wet", "warc")  # read by dedup.io.warc: one document per text or HTML record
COMPRESSION_SUFFIXES = {".gz": "gz", ".zst": "zst", ".zstd": "zst"}
FORMATS = ("auto", "txt", "jsonl", "parquet", "wet", "warc")
ENCODING_ERRORS = ("strict", "replace", "skip")
BINARY_PROBE = 8192  # a text file with a NUL byte in its first 8 KB is binary (as git and grep say)
MAX_LINE_BYTES = 1 << 20  # 1 MiB: a hundred times the longest paragraph of real web text
MAX_DOC_BYTES = 1 << 26  # 64 MiB: a text file or JSONL record; a whole book is under 10 MiB
READ_CHUNK = 1 << 16  # decompressed bytes a text file is read by, a refused record skipped by
SUPPORTED = ".txt, .jsonl, .ndjson, .wet, .warc (each also .gz or .zst) and .parquet"
SNIFF_BYTES = 1 << 20  # stdin read to tell its format: up to its first non-blank line, at most
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
PARQUET_HINT = 'pip install "dedup[parquet]"'
PARQUET_BATCH_ROWS = 1024  # rows decoded at a time: bounds memory on huge row groups
ZSTD_CHUNK = 1 << 16  # compressed bytes decoded at a time
ZSTD_MAX_WINDOW = 1 << 31  # accept frames written with ``zstd --long`` (up to --long=31)
_GLOB_MAGIC = re.compile(r"[*?[]")
_NAMES = {"gz": "gzip", "zst": "zstd"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NEWLINE = b"\n"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON escape of a surrogate code point (\uD800-\uDFFF, either case): a necessary condition
# for a lone surrogate in a decoded JSONL record (the line itself is valid UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest line and document a run reads, in bytes as read (UTF-8): anything larger is
    refused, a failure naming it and the option that raises the limit, and is not read whole.

    ``line_bytes`` (``--max-line-bytes``): a line of a document's text, its newline not
    counted; it bounds the memory the cleaning stages take per line. ``doc_bytes``
    (``--max-doc-bytes``): a document: a text file (decompressed), a JSONL record (its whole
    line, every field), a Parquet row's text; it bounds the memory a reader takes.

    >>> Limits(line_bytes=4096).doc_bytes == MAX_DOC_BYTES
    True
    """

    line_bytes: int = MAX_LINE_BYTES
    doc_bytes: int = MAX_DOC_BYTES

    def __post_init__(self) -> None:
        for name, value in (("line_bytes", self.line_bytes), ("doc_bytes", self.doc_bytes)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} = {value!r} is out of range",
                                  hint="a size limit is a whole number of bytes, 1 or more")


_LINE_HINT = "raise --max-line-bytes to read it (memory per line grows with the limit)"
_DOC_HINT = "raise --max-doc-bytes to read it (memory per document grows with the limit)"


def _too_long_line(where: str, what: str, limits: Limits) -> str:
    return str(InputError(f"{where}: {what} is longer than --max-line-bytes "
                          f"({limits.line_bytes} bytes)", hint=_LINE_HINT))


def _first_long_line(text: str, limit: int) -> int:
    """The 1-based number of the first line of ``text`` (split at ``\\n``) longer than
    ``limit`` bytes in UTF-8, or 0 when none is."""
    if len(text) * 4 <= limit:  # no UTF-8 character takes more than 4 bytes
        return 0
    for n, line in enumerate(text.split("\n"), start=1):
        if len(line) > limit or (len(line) * 4 > limit
                                 and len(line.encode("utf-8", "surrogatepass")) > limit):
            return n
    return 0


@dataclass(frozen=True, slots=True)
class Source:
    """One input: its path (``-`` for stdin), its format and its name relative to its root.

    ``problem`` says why a file found by a directory walk or a glob cannot be read (a broken
    symbolic link, a FIFO, a socket, a device); reading it gives one failure saying so.
    """

    path: str
    kind: str
    rel: str
    problem: str = ""
    head: bytes = b""  # stdin's first bytes, read by sniff_stdin: read again before the rest

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    @property
    def compression(self) -> str:
        """``gz``, ``zst`` or ``""``, from the file name (stdin is never decompressed)."""
        return "" if self.is_stdin else compression_of(self.path)


def compression_of(path: str) -> str:
    """The compression a file name says: ``gz``, ``zst`` or ``""``.

    >>> compression_of("dump/part-1.jsonl.zst"), compression_of("a.txt")
    ('zst', '')
    """
    return COMPRESSION_SUFFIXES.get(os.path.splitext(path.lower())[1], "")


def strip_compression(name: str) -> str:
    """The file name without its compression suffix: ``a.jsonl.gz`` -> ``a.jsonl``."""
    return name[: -len(os.path.splitext(name)[1])] if compression_of(name) else name


def is_glob(given: str) -> bool:
    """Whether an input is a glob pattern (``*``, ``?`` or ``[``) rather than an existing path."""
    return given != "-" and bool(_GLOB_MAGIC.search(given)) and not os.path.exists(given)


def pyarrow_modules(error: type[DedupError] = InputError) -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or ``error`` saying how to install them.

    Imported on first use: pyarrow is an optional extra, and large.
    """
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise error("Parquet files need pyarrow, which is not installed",
                    hint=PARQUET_HINT) from exc


class OptionMismatch(ConfigError):
    """Options that cannot apply to the input as read (``--id-field`` for stdin that is plain
    text): a usage error."""


class _Replayed(io.RawIOBase):
    """``head`` (bytes already read from ``rest``), then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[:len(data)] = data
        return len(data)


def sniff_stdin(stream: BinaryIO) -> tuple[str, bytes]:
    r"""The format of a stream with no name (stdin) and the bytes read to tell it: its lines up
    to the first non-blank one (at most ``SNIFF_BYTES``). ``jsonl`` when that line is a JSON
    object, or starts like one (``{"``: a record too long to read whole here, or one with a
    bad value); else ``txt``. A gzip or zstd stream is refused, with a hint.

    >>> sniff_stdin(io.BytesIO(b'\n{"text": "a"}\n{"text": "b"}\n'))
    ('jsonl', b'\n{"text": "a"}\n')
    >>> sniff_stdin(io.BytesIO(b"Cookies help us.\n{}\n"))[0]
    'txt'
    """
    head = bytearray()
    line = b""
    while len(head) < SNIFF_BYTES:
        line = stream.readline(SNIFF_BYTES - len(head))
        head += line
        if not line or line.strip():
            break
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"stdin is {name}-compressed, and stdin is read as it comes (not "
                             f"decompressed)",
                             hint=f"decompress it on the way in ({name} -dc FILE | dedup clean "
                                  f"- ...), or pass the file's path (its suffix says how to "
                                  f"decompress it)")
    first = line.removeprefix(codecs.BOM_UTF8).strip()
    if first.startswith(b'{"'):
        return "jsonl", bytes(head)
    try:
        record = json.loads(first.decode("utf-8")) if first.startswith(b"{") else None
    except ValueError:  # not JSON, not UTF-8, a number beyond int's digits
        record = None
    return ("jsonl" if isinstance(record, dict) else "txt"), bytes(head)


def _stdin(fmt: str, fields: Sequence[str]) -> Source:
    """The source of ``-``: its format as ``fmt`` says, or told by its first line (auto)."""
    if fmt == "parquet":
        raise InputError("Parquet cannot be read from stdin",
                         hint="save it to a file and pass the file's path")
    if fmt != "auto":
        return Source("-", fmt, "stdin")
    kind, head = sniff_stdin(sys.stdin.buffer)
    if kind == "txt" and fields:
        raise OptionMismatch(
            f"stdin is not JSONL (its first line is not a JSON object), so "
            f"{' and '.join(fields)} cannot apply: it would be cleaned as one text document",
            hint="pass --input-format jsonl to read it as JSONL (one JSON object per line), or "
                 f"leave out {' and '.join(f.split()[0] for f in fields)} to clean it as text")
    return Source("-", kind, "stdin", head=head)


def _kind(path: str, fmt: str) -> str | None:
    if fmt != "auto":
        return fmt
    low = path.lower()
    base = strip_compression(low)
    if base.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if base.endswith(TEXT_SUFFIXES):
        return "txt"
    if base.endswith(".wet"):  # CC-MAIN-*.warc.wet.gz included
        return "wet"
    if base.endswith(".warc"):
        return "warc"
    if low.endswith(PARQUET_SUFFIXES):  # Parquet compresses its own pages: no outer .gz/.zst
        return "parquet"
    return None


_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _problem(path: Path) -> InputError | None:
    """Why a file found by a directory walk or a glob cannot be read as input (None: it can).

    Only regular files are read: a FIFO would block the run until something writes to it, a
    device might never end. A file named on the command line is read whatever it is (so
    ``<(zcat a.txt.gz)`` works); a found one is reported, not opened.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            why = "broken" if isinstance(exc, FileNotFoundError) else exc.strerror
            return InputError(f"{path}: {why} symbolic link (to {target})",
                              hint="fix or remove the link")
        return InputError(f"{path}: cannot read ({exc.strerror})")
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
    return InputError(f"{path}: {what}, not a regular file: not read",
                      hint="move it out of the input directory, or name it on the command "
                           "line to read it as a stream")


def _found(full: Path, kind: str, rel: str) -> Source:
    """A source found by a directory walk or a glob (see :func:`_problem`)."""
    problem = _problem(full)
    return Source(str(full), kind, rel, "" if problem is None else str(problem))


def _walk(directory: Path, base: Path, fmt: str) -> list[Source]:
    """Every file below ``directory`` with a readable name, sorted, hidden files and directories
    skipped; ``rel`` is relative to ``base``. Broken links and special files are kept, with
    their :attr:`Source.problem`."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = Path(root) / name
            kind = _kind(name, fmt)
            if kind is not None:
                found.append(_found(full, kind, full.relative_to(base).as_posix()))
    return found


def _glob_base(pattern: str) -> Path:
    """The directory part of a pattern before its first wildcard: ``dump/**/*.zst`` -> ``dump``."""
    parts = Path(pattern).parts
    prefix: list[str] = []
    for part in parts[:-1]:
        if _GLOB_MAGIC.search(part):
            break
        prefix.append(part)
    return Path(*prefix) if prefix else Path(".")


def _expand(pattern: str, fmt: str) -> list[Source]:
    """A glob pattern's matches in sorted path order (``**`` spans directories). Matched files are
    taken as given, like files named on the command line; matched directories are walked. Names
    are relative to the pattern's directory part, so ``dump/**/*.parquet`` mirrors ``dump``.

    A match outside that directory part (``..`` after a wildcard: ``s*/../../*.txt``) is
    refused: its mirrored output would land outside the output directory."""
    base = _glob_base(pattern)
    found: dict[str, Source] = {}
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        if ".." in path.relative_to(base).parts:
            raise InputError(f"{pattern}: matches {match}, which is outside {base}/ (the "
                             f"pattern's directory part): its output would be written outside "
                             f"the output directory",
                             hint="put every .. before the first wildcard (../data/*.txt)")
        if path.is_dir():
            for s in _walk(path, base, fmt):
                found.setdefault(s.path, s)
        else:  # a file, or a broken link or special file: a failure saying so
            found.setdefault(str(path), _found(path, _kind(path.name, fmt) or "txt",
                                               path.relative_to(base).as_posix()))
    if not found:
        raise InputError(f"{pattern}: no file matches this pattern",
                         hint="check the pattern; ** matches any depth of directories")
    return [found[p] for p in sorted(found)]


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether the path ``parts`` match the glob ``pattern`` parts as :func:`glob.glob` does with
    ``recursive=True``: ``**`` spans any number of directories, wildcards skip hidden names."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        if _matches(rest, parts):
            return True
        return bool(parts) and not parts[0].startswith(".") and _matches(pattern, parts[1:])
    if not parts:
        return False
    name = parts[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, head) and _matches(rest, parts[1:])


def _walked(parts: Sequence[str], fmt: str) -> bool:
    """Whether a directory walk reads the file at ``parts`` below the walked directory."""
    return (bool(parts) and not any(p.startswith(".") for p in parts)
            and _kind(parts[-1], fmt) is not None)


def _below(path: str, root: str) -> list[str] | None:
    """The parts of ``path`` below ``root`` (both absolute and normalised, symlinks resolved),
    or None when it is not below it."""
    if path == root:
        return []
    prefix = root.rstrip(os.sep) + os.sep
    return path[len(prefix):].split(os.sep) if path.startswith(prefix) else None


def reads(given: str, path: str, fmt: str = "auto") -> bool:
    """Whether the input ``given`` (as on the command line) reads the file at ``path`` (a real
    path: symbolic links resolved), were a file there: it is that file, or a directory walk or
    a glob pattern would find it. So no output of a run is read as input by the next one.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     d = os.path.realpath(d)
    ...     [reads(os.path.join(d, p), os.path.join(d, f), "auto") for p, f in
    ...      (("", "a.txt"), ("", ".cache/a.txt"), ("*.jsonl", "a.txt"), ("**", "s/a.jsonl"))]
    [True, False, False, True]
    """
    return reader(given, fmt)(path)


def reader(given: str, fmt: str = "auto") -> Callable[[str], bool]:
    """:func:`reads` for one input, its paths resolved once, to ask about many paths."""
    if given == "-":
        return lambda path: False
    if is_glob(given):
        base = _glob_base(given)
        root = os.path.realpath(base)
        pattern = Path(given).parts[len(base.parts):]

        def globbed(path: str) -> bool:
            below = _below(path, root)
            # A matched file is read whatever its name; a matched directory is walked.
            return below is not None and any(
                _matches(pattern, below[:k]) and (k == len(below) or _walked(below[k:], fmt))
                for k in range(len(below) + 1))
        return globbed
    root = os.path.realpath(given)
    if os.path.isdir(root):
        def walked(path: str) -> bool:
            below = _below(path, root)
            return below is not None and _walked(below, fmt)
        return walked
    return lambda path: path == root


def discover(inputs: Sequence[str], fmt: str = "auto", *,
             fields: Sequence[str] = ()) -> list[Source]:
    """Expand the command-line inputs into sources, in a stable order.

    Files are taken as given (unknown suffixes as text; a FIFO is read as a stream); directories
    contribute every file with a known suffix below them (see ``SUPPORTED``), sorted, hidden
    files skipped; glob patterns (``dump/*.jsonl.zst``, ``dump/**/*.parquet``) their matches,
    sorted. A broken link or special file found that way is a source with a ``problem``: one
    failure when read. Raises InputError for a missing path or broken link given, a pattern
    that matches nothing or reaches outside its directory part, and Parquet inputs without
    pyarrow.

    Stdin (``-``) is read up to its first non-blank line to tell its format (see
    :func:`sniff_stdin`); ``fields`` are the record fields the run names (``--id-field ID``),
    for the error when stdin is plain text (:class:`OptionMismatch`).
    """
    sources: list[Source] = []
    for given in inputs:
        if given == "-":
            if any(s.is_stdin for s in sources):
                raise InputError("stdin (-) is given as an input twice: it is read once",
                                 hint="give - once")
            sources.append(_stdin(fmt, fields))
            continue
        path = Path(given)
        if path.is_dir():
            found = _walk(path, path, fmt)
            if not found:
                raise InputError(f"{given}: directory has no {SUPPORTED} files",
                                 hint="point at the files, or use --input-format to read others")
            sources.extend(found)
        elif path.exists():
            sources.append(Source(str(path), _kind(path.name, fmt) or "txt", path.name))
        elif is_glob(given):
            sources.extend(_expand(given, fmt))
        elif path.is_symlink():
            raise _problem(path) or InputError(f"{given}: cannot read")
        else:
            raise InputError(f"{given}: no such file or directory")
    if any(s.kind == "parquet" for s in sources):
        pyarrow_modules(InputError)
    if any(s.kind in WARC_KINDS for s in sources):
        from .warc import warc_modules  # imports this module: imported when needed

        warc_modules(InputError)
    return sources


_ENCODING_HINT = "re-encode the file as UTF-8, or pass --encoding-errors replace (or skip)"
_SURROGATE_HINT = ("half of a UTF-16 pair was escaped alone; pass --encoding-errors replace "
                   "(or skip)")


def _decode(data: bytes | bytearray, where: str, errors: str, lines: bool = True) -> str:
    """``data`` as UTF-8, bad bytes handled as ``errors`` says (``skip`` raises, like ``strict``:
    the caller leaves the record out). The error names the byte, its offset and (``lines``: the
    data holds several lines) its line."""
    try:
        return data.decode("utf-8", errors="replace" if errors == "replace" else "strict")
    except UnicodeDecodeError as exc:
        line = f", line {data.count(_NEWLINE, 0, exc.start) + 1}" if lines else ""
        raise InputError(
            f"{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}"
            f"{line})",
            hint=None if errors == "skip" else _ENCODING_HINT,
        ) from exc


def _unreadable(doc_id: str, source: Source, exc: InputError, encoding_errors: str) -> Document:
    """The document of a record whose text is not valid Unicode: skipped on purpose under
    ``--encoding-errors skip``, else a failure."""
    skip = encoding_errors == "skip"
    return Document(id=doc_id, text="", source=source.rel,
                    error=exc.message if skip else str(exc), skipped=skip)


def _binary(data: bytes, where: str) -> str | None:
    """Why ``data`` is not text (a NUL byte in its first ``BINARY_PROBE`` bytes), or None."""
    nul = data.find(b"\x00", 0, BINARY_PROBE)
    if nul < 0:
        return None
    error = f"{where}: binary file, not text (NUL byte at offset {nul})"
    if data.startswith(_UTF16_BOMS):
        return str(InputError(error, hint="it starts with a UTF-16 byte order mark: re-encode "
                                          "it as UTF-8 (iconv -f UTF-16 -t UTF-8)"))
    return error


class ZstdReader(io.RawIOBase):
    """A zstd stream decoded frame by frame, ``ZSTD_CHUNK`` compressed bytes at a time.

    Unlike ``ZstdDecompressor.stream_reader``, it raises EOFError when the input ends inside a
    frame (a truncated file), instead of returning the part it could decode as if complete.
    Concatenated frames (``pzstd``, appended files) are read one after the other.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._frame = self._dctx.decompressobj()
        self._in_frame = False  # bytes were fed to a frame that has not ended yet
        self._out = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._out:
            if self._done:
                return 0
            self._fill()
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> None:
        chunk = self._raw.read(ZSTD_CHUNK)
        if not chunk:
            if self._in_frame:
                raise EOFError("the file ends inside a zstd frame; zstd decodes whole blocks, "
                               "of up to 128 KiB, so the lines of a cut block are lost")
            self._done = True
            return
        out = []
        while chunk:
            out.append(self._frame.decompress(chunk))
            self._in_frame = True
            if not self._frame.eof:
                break
            chunk = self._frame.unused_data  # the next frame starts in this chunk
            self._frame = self._dctx.decompressobj()
            self._in_frame = False
        self._out = memoryview(b"".join(out))


# What a broken compressed stream raises: truncated gzip (EOFError), bad gzip header
# (gzip.BadGzipFile, an OSError), corrupt deflate data (zlib.error), bad zstd data (ZstdError).
_STREAM_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def _open(source: Source) -> BinaryIO:
    if source.is_stdin:
        if source.head:
            return io.BufferedReader(_Replayed(source.head, sys.stdin.buffer))
        return sys.stdin.buffer
    if source.problem:  # a broken link or a special file: never opened (a FIFO would block)
        raise InputError(source.problem)
    try:
        return open(source.path, "rb")
    except OSError as exc:
        raise InputError(f"{source.path}: cannot read ({exc.strerror})") from exc


def _decompressed(source: Source, raw: BinaryIO) -> contextlib.AbstractContextManager[BinaryIO]:
    """``raw`` decoded as a stream when the source's name says it is compressed (closing the
    decoder leaves ``raw`` open)."""
    if source.compression == "gz":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if source.compression == "zst":
        return io.BufferedReader(ZstdReader(raw))
    return contextlib.nullcontext(raw)


def _broken(source: Source, exc: BaseException, where: str) -> str:
    """The error of a stream that failed part way, naming the file and what was read."""
    detail = str(exc) or type(exc).__name__
    if source.compression:
        return (f"{source.path}: {_NAMES[source.compression]} data is truncated or corrupt "
                f"{where} ({detail})")
    return f"{source.path}: read failed {where} ({detail})"


@dataclass(frozen=True)
class RawReading:
    """What parsing a JSONL record needs where its bytes are sent (:func:`parse_raw`): the
    path of each source by its name, and the reading options."""

    paths: dict[str, str]
    text_field: str = "text"
    encoding_errors: str = "strict"
    limits: Limits = Limits()
    id_field: str | None = None


def parse_raw(doc: Document, reading: RawReading) -> None:
    """Parse ``doc``'s JSONL record (``doc.raw``, see :func:`read_source`) in place: the id,
    text, record fields and error :func:`read_source` gives when it parses the line itself.
    Nothing happens to a document that is not raw."""
    raw = doc.raw
    if raw is None:
        return
    rel = doc.source
    parsed = _jsonl_record(Source(reading.paths[rel], "jsonl", rel), raw,
                           int(doc.id.rpartition(":")[2]), reading.text_field,
                           reading.encoding_errors, reading.limits, reading.id_field)
    doc.id, doc.text, doc.meta = parsed.id, parsed.text, parsed.meta
    doc.error, doc.skipped, doc.raw = parsed.error, parsed.skipped, None


def read_source(source: Source, text_field: str = "text", encoding_errors: str = "strict",
                limits: Limits = Limits(), *, id_field: str | None = None,
                on_read: Callable[[int], None] | None = None,
                raw_jsonl: bool = False) -> Iterator[Document]:
    """Documents of one source; unreadable records come back with ``error`` set, and so do
    records over ``limits`` (see :class:`Limits`) and, with ``id_field``, records without a
    usable id. ``on_read`` is told the bytes of the file consumed, a chunk at a time (see
    :mod:`dedup.progress`). ``raw_jsonl``: a JSONL record that passes the checks of its line
    (its size, binary data) comes as its bytes (``Document.raw``), to be parsed by
    :func:`parse_raw` where it is prepared (a parallel run's workers)."""
    # (without blocks every item is a document)
    return cast(Iterator[Document], _source_items(source, text_field, encoding_errors, limits,
                                                  id_field, on_read, raw_jsonl, 0))


def _source_items(source: Source, text_field: str, encoding_errors: str, limits: Limits,
                  id_field: str | None, on_read: Callable[[int], None] | None,
                  raw_jsonl: bool, blocks: int) -> Iterator[Document | RawBlock]:
    """:func:`read_source`; with ``blocks`` (bytes, and ``raw_jsonl``) an uncompressed JSONL
    file comes as :class:`RawBlock` s (see :func:`read_blocks`)."""
    if source.kind == "parquet" and not source.problem:
        yield from _read_parquet(source, text_field, encoding_errors, limits, id_field, on_read)
        return
    try:
        raw = _open(source)
    except InputError as exc:
        yield Document(id=source.rel, text="", source=source.rel, error=str(exc))
        return
    if on_read is not None:
        raw = counted(raw, on_read, owns=not source.is_stdin)
    if source.kind in WARC_KINDS:
        from .warc import read_warc  # imports this module: imported when needed

        yield from read_warc(source, raw, encoding_errors, limits)
        return
    with contextlib.nullcontext(raw) if source.is_stdin else raw, \
            _decompressed(source, raw) as fh:
        if source.kind == "txt":
            yield _read_text(source, fh, encoding_errors, limits)
            return
        if blocks and raw_jsonl and source.kind == "jsonl" and not source.compression \
                and not source.is_stdin:
            yield from _read_blocks(source, fh, limits, blocks)
            return
        yield from _jsonl_documents(source, _bounded_lines(fh, limits.doc_bytes, source.path),
                                    0, text_field, encoding_errors, limits, id_field,
                                    raw_jsonl)


def _jsonl_documents(source: Source, lines: Iterator[bytes | _Oversized | _Binary],
                     lineno: int, text_field: str, encoding_errors: str, limits: Limits,
                     id_field: str | None, raw_jsonl: bool
                     ) -> Generator[Document, None, bool]:
    """The documents of a JSONL file's ``lines`` (from :func:`_bounded_lines`), the first of
    them line ``lineno + 1``: blank lines left out, a record over the size limit or binary data
    a document with its error. Returns whether the file ends there though lines may follow
    (binary data: the rest is not read)."""
    while True:
        try:
            line = next(lines, None)
        except _STREAM_ERRORS as exc:
            where = f"after line {lineno} (the lines before it were read)" if lineno \
                else "at the start"
            yield Document(id=f"{source.rel}:{lineno + 1}", text="", source=source.rel,
                           error=_broken(source, exc, where))
            return True
        if line is None:
            return False
        lineno += 1
        if isinstance(line, _Binary):
            yield Document(id=source.rel, text="", source=source.rel, error=line.error)
            return True
        if isinstance(line, _Oversized):
            yield _oversized_record(source, line, lineno, limits)
            if line.binary:
                return True
        elif not line.strip():
            continue
        elif raw_jsonl:
            yield Document(id=f"{source.rel}:{lineno}", text="", source=source.rel, raw=line)
        else:
            yield _jsonl_record(source, line, lineno, text_field, encoding_errors, limits,
                                id_field)


@dataclass(slots=True)
class RawBlock:
    """Whole lines of an uncompressed JSONL file as read (:func:`read_source` with
    ``blocks``), every one within the size limit: ``lineno`` lines of the file come before
    them, ``first`` says they start it; ``records`` is how many documents they hold (their
    lines that are not blank) and ``ordinal`` the run's number of the first (set by the
    caller, as a document's). Made into documents where they are prepared
    (:func:`block_documents`): the same documents :func:`read_source` reads from those lines."""

    source: str  # the source's name (its ``rel``)
    path: str
    lineno: int
    data: bytes
    records: int
    first: bool = False
    ordinal: int = -1
    offset: int = -1  # where ``data`` is in the file (-1: not known)
    lines: int = 0  # its lines, blank ones too


_BLANK_START = frozenset(b" \t\r\x0b\x0c\n")  # bytes.strip()'s whitespace


def _records(data: bytes) -> tuple[int, int]:
    """The lines of ``data`` (whole lines, the last may lack its newline) that are not blank
    (``bytes.strip`` keeps some), and all its lines."""
    n = lines = 0
    at = 0
    end = len(data)
    find = data.find
    blank_start = _BLANK_START
    while at < end:
        nl = find(b"\n", at)
        stop = end if nl < 0 else nl
        lines += 1
        if stop > at and (data[at] not in blank_start or data[at:stop].strip()):
            n += 1
        at = stop + 1
    return n, lines


def _read_blocks(source: Source, fh: BinaryIO, limits: Limits, size: int
                 ) -> Iterator[RawBlock | Document]:
    """An uncompressed JSONL file as :class:`RawBlock` s of about ``size`` bytes, read here
    only as far as finding line ends: what :func:`_bounded_lines` says of a line over the
    limit (read no further than the limit, then skipped to its newline) and of binary data at
    the start or in an oversized line (the rest of the file is not read) comes as the same
    documents :func:`read_source` gives. Every byte is copied once into its block."""
    limit = limits.doc_bytes
    probe_bytes = min(limit + 1, BINARY_PROBE)  # of an oversized line, looked at for a NUL
    lineno = 0
    first = True
    parts: list[bytes] = []  # the start of a line whose newline is not read yet
    held = 0  # their length
    pos = 0  # the file offset of ``parts``
    pending = b""  # bytes read, not looked at yet (what followed a skipped line)
    start = True

    def broken(exc: BaseException) -> Document:
        where = f"after line {lineno} (the lines before it were read)" if lineno \
            else "at the start"
        return Document(id=f"{source.rel}:{lineno + 1}", text="", source=source.rel,
                        error=_broken(source, exc, where))

    while True:
        if pending:
            data, pending = pending, b""
        else:
            try:
                data = fh.read(max(size, probe_bytes) if start else size)
            except _STREAM_ERRORS as exc:  # (an uncompressed file: an I/O error)
                yield broken(exc)
                return
        if start:
            start = False
            probe = data[:probe_bytes]
            if len(probe) == BINARY_PROBE <= limit and _NEWLINE not in probe:
                binary = _binary(probe, source.path)
                if binary is not None:  # as _bounded_lines: the file is not read further
                    yield Document(id=source.rel, text="", source=source.rel, error=binary)
                    return
        if not data:  # the end: the last line, without its newline
            if held:
                yield _block(source, lineno, b"".join(parts), first, pos)
            return
        cut = data.rfind(_NEWLINE) + 1  # after the last newline read (0: none)
        if cut:
            whole = (b"".join([*parts, memoryview(data)[:cut]]) if parts
                     else data if cut == len(data) else data[:cut])
            at_file = pos  # the file offset of ``whole``
            pos += held + cut
            parts = [data[cut:]] if cut < len(data) else []
            held = len(data) - cut
            oversized = _first_oversized(whole, limit)
            while oversized is not None:  # a line over the limit within the block
                at, stop = oversized
                if at:
                    block = _block(source, lineno, whole[:at], first, at_file)
                    yield block
                    lineno += block.lines
                    first = False
                lineno += 1
                line = whole[at:stop]
                nul = b"\x00" in line[:probe_bytes]  # what _bounded_lines has read of it
                yield _oversized_record(source, _Oversized(
                    limit + 1 if nul else len(line) - line.endswith(_NEWLINE), nul),
                    lineno, limits)
                if nul:
                    return
                first = False
                whole = whole[stop:]
                at_file += stop
                oversized = _first_oversized(whole, limit)
            if whole:
                block = _block(source, lineno, whole, first, at_file)
                yield block
                lineno += block.lines
                first = False
        else:
            parts.append(data)
            held += len(data)
        if held > limit:  # a line over the limit, its newline not read yet
            lineno += 1
            head = b"".join(parts)[:probe_bytes]
            if b"\x00" in head:
                yield _oversized_record(source, _Oversized(limit + 1, True), lineno, limits)
                return
            skipped, pos = held, pos + held
            parts, held = [], 0
            while True:  # skip to its newline, holding no more of it
                try:
                    data = fh.read(size)
                except _STREAM_ERRORS as exc:
                    lineno -= 1
                    yield broken(exc)
                    return
                nl = data.find(_NEWLINE)
                if nl >= 0 or not data:
                    skipped += nl if nl >= 0 else 0
                    pending = data[nl + 1:] if nl >= 0 else b""
                    pos += nl + 1 if nl >= 0 else 0
                    break
                skipped += len(data)
                pos += len(data)
            yield _oversized_record(source, _Oversized(skipped, False), lineno, limits)
            first = False
            if not data:
                return


def _first_oversized(whole: bytes, limit: int) -> tuple[int, int] | None:
    """Where the first line over ``limit`` bytes (newline not counted) of ``whole`` (whole
    lines) starts and ends (after its newline), or None."""
    if len(whole) <= limit + 1:
        return None
    at = 0
    end = len(whole)
    while at < end:
        nl = whole.find(_NEWLINE, at)
        stop = end if nl < 0 else nl + 1
        if (nl if nl >= 0 else end) - at > limit:
            return at, stop
        at = stop
    return None


def _block(source: Source, lineno: int, data: bytes, first: bool, offset: int) -> RawBlock:
    records, lines = _records(data)
    return RawBlock(source.rel, source.path, lineno, data, records, first, -1, offset, lines)


def block_documents(block: RawBlock, reading: RawReading) -> list[Document]:
    """The documents of ``block`` (see :class:`RawBlock`), parsed: the same ids, texts,
    fields and errors :func:`read_source` gives for its lines, numbered from
    ``block.ordinal``."""
    source = Source(block.path, "jsonl", block.source)
    limits = reading.limits
    docs = list(_jsonl_documents(
        source, _bounded_lines(io.BytesIO(block.data), limits.doc_bytes, block.path,
                               first=block.first),
        block.lineno, reading.text_field, reading.encoding_errors, limits, reading.id_field,
        False))
    if len(docs) != block.records:
        raise ValueError(f"{block.path}: a block of {block.records} records read as "
                         f"{len(docs)} documents")
    for j, doc in enumerate(docs):
        doc.ordinal = block.ordinal + j
    return docs


@dataclass(frozen=True, slots=True)
class _Oversized:
    """A line longer than the limit, skipped: its size, and whether its first
    ``BINARY_PROBE`` bytes hold a NUL byte (binary data, not a line at all: the file ends
    there)."""

    size: int
    binary: bool


@dataclass(frozen=True, slots=True)
class _Binary:
    """A JSONL file whose first ``BINARY_PROBE`` bytes hold a NUL byte and no newline: why it
    is not text (the file is not read further)."""

    error: str


def _bounded_lines(fh: BinaryIO, limit: int, where: str, first: bool = True
                   ) -> Iterator[bytes | _Oversized | _Binary]:
    """The lines of ``fh`` (newline included), a line longer than ``limit`` bytes (newline
    not counted) as :class:`_Oversized`: read ``READ_CHUNK`` bytes at a time up to its newline
    and let go, so no more than ``limit`` bytes are ever held. A file that starts with binary
    data (a NUL byte and no newline in its first ``BINARY_PROBE`` bytes) is :class:`_Binary`
    and read no further, and so is an oversized line that starts with binary data.
    ``first``: ``fh`` is at the file's start (the check for binary data at the start)."""
    while True:
        line = fh.readline(min(limit + 1, BINARY_PROBE))
        if not line:
            return
        if not line.endswith(_NEWLINE) and len(line) == BINARY_PROBE <= limit:
            binary = _binary(line, where) if first else None
            if binary is not None:
                yield _Binary(binary)
                return
            line += fh.readline(limit + 1 - len(line))  # the rest of a long line
        first = False
        if len(line) <= limit or line.endswith(_NEWLINE):
            yield line
            continue
        size = len(line)
        nul = b"\x00" in line[:BINARY_PROBE]
        del line
        if nul:
            yield _Oversized(size, nul)
            return
        while True:
            part = fh.readline(READ_CHUNK)
            size += len(part)
            if not part or part.endswith(_NEWLINE):
                break
        yield _Oversized(size - (1 if part else 0), nul)


def _oversized_record(source: Source, line: _Oversized, lineno: int,
                      limits: Limits) -> Document:
    where = f"{source.path}:{lineno}"
    if line.binary:
        error = (f"{where}: binary data, not JSON text (a NUL byte in a line longer than "
                 f"--max-doc-bytes, {limits.doc_bytes} bytes); the rest of the file is not read")
    else:
        error = str(InputError(f"{where}: record is {line.size} bytes, over --max-doc-bytes "
                               f"({limits.doc_bytes} bytes); it was skipped", hint=_DOC_HINT))
    return Document(id=f"{source.rel}:{lineno}", text="", source=source.rel, error=error)


class _TextLimit(Exception):
    """A text file over a limit, with the failure's message (internal to :func:`_read_text`)."""


def _read_chunks(source: Source, fh: BinaryIO, limits: Limits) -> bytearray:
    """A text file's bytes, read ``READ_CHUNK`` at a time; raises :class:`_TextLimit` at the
    first sign of binary data (a NUL byte in the first ``BINARY_PROBE`` bytes), of a line over
    ``limits.line_bytes`` or of more than ``limits.doc_bytes`` bytes, reading no further."""
    data = bytearray()
    probed = False
    line = 1  # the line the current run of bytes belongs to
    run = 0  # bytes of that line read so far (newline not counted)
    longest = limits.line_bytes
    while True:
        chunk = fh.read(READ_CHUNK)
        if not probed and (len(data) + len(chunk) >= BINARY_PROBE or not chunk):
            probed = True
            binary = _binary(bytes(data[:BINARY_PROBE]) + chunk[:BINARY_PROBE], source.path)
            if binary is not None:
                raise _TextLimit(binary)
        if not chunk:
            return data
        if len(data) + len(chunk) > limits.doc_bytes:
            raise _TextLimit(str(InputError(
                f"{source.path}: larger than --max-doc-bytes ({limits.doc_bytes} bytes; a text "
                f"file is one document); not read further", hint=_DOC_HINT)))
        first = chunk.find(_NEWLINE)
        if first < 0:
            run += len(chunk)
        else:
            if run + first > longest:
                raise _TextLimit(_too_long_line(source.path, f"line {line}", limits))
            last = chunk.rfind(_NEWLINE)
            if last - first - 1 > longest:  # a whole line inside this chunk may be too long
                for n, part in enumerate(chunk[first + 1:last].split(_NEWLINE), start=1):
                    if len(part) > longest:
                        raise _TextLimit(_too_long_line(source.path, f"line {line + n}", limits))
            line += chunk.count(_NEWLINE)
            run = len(chunk) - last - 1
        if run > longest:
            raise _TextLimit(_too_long_line(source.path, f"line {line}", limits))
        data += chunk


def _read_text(source: Source, fh: BinaryIO, encoding_errors: str,
               limits: Limits = Limits()) -> Document:
    """A text file is one document, read in chunks up to ``limits`` (see :func:`_read_chunks`):
    a file over a limit, or binary, is a failure as a whole."""
    try:
        data = _read_chunks(source, fh, limits)
    except _TextLimit as exc:
        return Document(id=source.rel, text="", source=source.rel, error=str(exc))
    except _STREAM_ERRORS as exc:
        return Document(id=source.rel, text="", source=source.rel,
                        error=_broken(source, exc, "while reading"))
    try:
        text = _decode(data, source.path, encoding_errors)
    except InputError as exc:
        return _unreadable(source.rel, source, exc, encoding_errors)
    return Document(id=source.rel, text=text, source=source.rel)


def _jsonl_record(source: Source, raw: bytes, lineno: int, text_field: str,
                  encoding_errors: str, limits: Limits = Limits(),
                  id_field: str | None = None) -> Document:
    doc_id = f"{source.rel}:{lineno}"
    where = f"{source.path}:{lineno}"
    if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    if b"\x00" in raw:
        return Document(id=doc_id, text="", source=source.rel,
                        error=f"{where}: raw NUL byte in the line (binary data, not JSON text)")
    try:
        record = json.loads(_decode(raw, where, encoding_errors, lines=False),
                            parse_constant=_no_constant, parse_float=_finite)
        if _SURROGATE_ESCAPE.search(raw):  # only an escape can put a surrogate in the record
            record = _no_surrogates(record, where, encoding_errors)
    except InputError as exc:
        return _unreadable(doc_id, source, exc, encoding_errors)
    except _NotFinite as exc:
        return Document(id=doc_id, text="", source=source.rel,
                        error=str(InputError(f"{where}: {exc}", hint=_NOT_FINITE_HINT)))
    except json.JSONDecodeError as exc:
        return Document(id=doc_id, text="", source=source.rel,
                        error=f"{where}: not valid JSON ({exc.msg})")
    except (ValueError, RecursionError) as exc:  # a 5000-digit number; [[[[... nested too deep
        detail = "nested too deeply" if isinstance(exc, RecursionError) \
            else str(exc).split(";")[0]  # not Python's advice on sys.set_int_max_str_digits
        return Document(id=doc_id, text="", source=source.rel,
                        error=f"{where}: not valid JSON ({detail})")
    if not isinstance(record, dict):
        return Document(id=doc_id, text="", source=source.rel,
                        error=f"{source.path}:{lineno}: a JSONL record must be an object")
    value = record.get(text_field)
    if not isinstance(value, str):
        what = "missing" if text_field not in record else "not a string"
        return Document(id=doc_id, text="", source=source.rel, meta=record,
                        error=f"{source.path}:{lineno}: field {text_field!r} is {what} "
                              f"(use --text-field to name the text field)")
    long = _first_long_line(value, limits.line_bytes)
    if long:
        return Document(id=doc_id, text="", source=source.rel, error=_too_long_line(
            where, f"line {long} of field {text_field!r}", limits))
    if id_field is not None:
        given, bad = _record_id(record, id_field, where, "field")
        if bad:
            return Document(id=doc_id, text="", source=source.rel, meta=record, error=bad)
        doc_id = given
    # meta keeps the whole record (field order included); the writer swaps the text in.
    return Document(id=doc_id, text=value, meta=record, source=source.rel)


_ID_HINT = ("every record needs its id as a string or an integer; leave out --id-field to name "
            "documents by file:line")


def _record_id(record: dict[str, Any], id_field: str, where: str,
               what: str) -> tuple[str, str]:
    """``(id, "")``: the document id in ``record[id_field]`` (a non-empty string, or an
    integer as its digits); or ``("", error)`` when there is none to use."""
    value = record.get(id_field)
    if isinstance(value, str) and value:
        return value, ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), ""
    problem = ("missing" if id_field not in record else "null" if value is None
               else "empty" if value == "" else f"not a string or an integer ({_json_kind(value)})")
    return "", str(InputError(f"{where}: {what} {id_field!r} (--id-field) is {problem}",
                              hint=_ID_HINT))


def _json_kind(value: object) -> str:
    kinds = ((bool, "a boolean"), (float, "a number with a fraction"), (list, "an array"),
             (dict, "an object"))
    return next((name for t, name in kinds if isinstance(value, t)), type(value).__name__)


_NOT_FINITE_HINT = "write null (or a string) where a number is missing or not finite"


class _NotFinite(ValueError):
    """A number JSON cannot hold: ``NaN``, ``Infinity`` (which Python's json module reads) or
    one beyond a double's range (``1e400``), which would be written back as ``Infinity``."""


def _no_constant(name: str) -> float:
    raise _NotFinite(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise _NotFinite(f"the number {text[:40]} is beyond the range of a double (about "
                         f"1.8e308): it would be written back as {'-' if value < 0 else ''}"
                         f"Infinity, which is not JSON")
    return value


def _no_surrogates(value: Any, where: str, errors: str) -> Any:
    """``value`` (a decoded JSON value) with no lone surrogate left: JSON may escape one
    (``"\\ud800"``), but no UTF-8 output can hold it. Under ``replace`` each becomes U+FFFD;
    otherwise the record is refused."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        if found is None:
            return value
        if errors != "replace":
            bad = ord(found.group())
            raise InputError(f"{where}: not valid Unicode (lone surrogate \\u{bad:04x} in a "
                             f"JSON string)", hint=None if errors == "skip" else _SURROGATE_HINT)
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_no_surrogates(k, where, errors): _no_surrogates(v, where, errors)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_no_surrogates(v, where, errors) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """A Parquet cell as a JSON value, so ``Document.meta`` can always be written as JSONL.

    Dates and times become ISO 8601 strings, durations seconds, decimals strings, maps lists of
    ``[key, value]`` pairs, bytes UTF-8 text (base64 when they are not UTF-8).

    >>> jsonable({"when": datetime.date(2024, 5, 1), "raw": b"ok", "tags": ("a",)})
    {'when': '2024-05-01', 'raw': 'ok', 'tags': ['a']}
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    return str(value)


def _read_parquet(source: Source, text_field: str, encoding_errors: str,
                  limits: Limits = Limits(), id_field: str | None = None,
                  on_read: Callable[[int], None] | None = None) -> Iterator[Document]:
    """One document per row, ``PARQUET_BATCH_ROWS`` rows decoded at a time; ids are
    ``rel:row`` with 1-based rows. ``meta`` holds every column (the text one included).
    ``on_read`` is told the file's bytes in proportion to the rows decoded."""
    pa, pq = pyarrow_modules(InputError)
    errors = (pa.ArrowException, OSError, ValueError)
    try:
        pf = pq.ParquetFile(source.path)
    except errors as exc:
        yield Document(id=source.rel, text="", source=source.rel,
                       error=f"{source.path}: not a readable Parquet file ({exc})")
        return
    try:
        names = list(pf.schema_arrow.names)
        if text_field not in names:
            yield Document(id=source.rel, text="", source=source.rel,
                           error=f"{source.path}: no column {text_field!r} (columns: "
                                 f"{', '.join(names)}; use --text-field to name the text "
                                 f"column)")
            return
        if id_field is not None and id_field not in names:
            yield Document(id=source.rel, text="", source=source.rel,
                           error=f"{source.path}: no column {id_field!r} for --id-field "
                                 f"(columns: {', '.join(names)})")
            return
        batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS)
        rowno = 0
        while True:
            try:
                batch = next(batches, None)
                rows = batch.to_pylist() if batch is not None else None
            except errors as exc:
                where = f"after row {rowno}" if rowno else "at the first row"
                yield Document(id=f"{source.rel}:{rowno + 1}", text="", source=source.rel,
                               error=f"{source.path}: corrupt Parquet data {where} ({exc})")
                return
            if rows is None:
                return
            if on_read is not None:
                share = (_parquet_share(source, pf, rowno + len(rows))
                         - _parquet_share(source, pf, rowno))
                if share > 0:
                    on_read(share)
            for row in rows:
                rowno += 1
                yield _parquet_row(source, row, rowno, text_field, encoding_errors, limits,
                                   id_field)
    finally:
        pf.close()


def _parquet_share(source: Source, pf: Any, rows: int) -> int:
    """The bytes of a Parquet file that its first ``rows`` rows stand for (by row count)."""
    size = source_size(source) or 0
    return int(size * rows // max(pf.metadata.num_rows, 1))


def _parquet_row(source: Source, row: dict[str, Any], rowno: int, text_field: str,
                 encoding_errors: str, limits: Limits = Limits(),
                 id_field: str | None = None) -> Document:
    doc_id = f"{source.rel}:{rowno}"
    value = row[text_field]
    if isinstance(value, bytes):  # a binary text column: decoded like a JSONL line
        try:
            value = _decode(value, f"{source.path}: row {rowno}", encoding_errors)
        except InputError as exc:
            return _unreadable(doc_id, source, exc, encoding_errors)
    meta = {name: jsonable(cell) for name, cell in row.items()}
    meta[text_field] = jsonable(value)
    if not isinstance(value, str):
        what = "null" if value is None else "not a string"
        return Document(id=doc_id, text="", source=source.rel, meta=meta,
                        error=f"{source.path}: row {rowno}: column {text_field!r} is {what}")
    where = f"{source.path}: row {rowno}"
    if len(value) > limits.doc_bytes or (len(value) * 4 > limits.doc_bytes and len(
            value.encode("utf-8", "surrogatepass")) > limits.doc_bytes):
        return Document(id=doc_id, text="", source=source.rel, error=str(InputError(
            f"{where}: column {text_field!r} is larger than --max-doc-bytes "
            f"({limits.doc_bytes} bytes)", hint=_DOC_HINT)))
    long = _first_long_line(value, limits.line_bytes)
    if long:
        return Document(id=doc_id, text="", source=source.rel, error=_too_long_line(
            where, f"line {long} of column {text_field!r}", limits))
    if id_field is not None:
        given, bad = _record_id(meta, id_field, where, "column")
        if bad:
            return Document(id=doc_id, text="", source=source.rel, meta=meta, error=bad)
        doc_id = given
    return Document(id=doc_id, text=value, meta=meta, source=source.rel)


def read_all(sources: Sequence[Source], text_field: str = "text",
             encoding_errors: str = "strict", limits: Limits = Limits(), *,
             id_field: str | None = None,
             on_read: Callable[[int], None] | None = None,
             raw_jsonl: bool = False) -> Iterator[Document]:
    """Documents of every source, in order (see :func:`read_source`, and ``raw_jsonl``
    there). ``on_read`` is told the bytes consumed, and at the end of each input the rest of
    its size, so its counts add up to the inputs' sizes (:func:`dedup.progress.input_bytes`)."""
    # (without blocks every item is a document)
    return cast(Iterator[Document], read_blocks(
        sources, text_field, encoding_errors, limits, id_field=id_field, on_read=on_read,
        raw_jsonl=raw_jsonl, blocks=0))


def read_blocks(sources: Sequence[Source], text_field: str = "text",
                encoding_errors: str = "strict", limits: Limits = Limits(), *,
                id_field: str | None = None, on_read: Callable[[int], None] | None = None,
                raw_jsonl: bool = True, blocks: int = 1 << 19
                ) -> Iterator[Document | RawBlock]:
    """:func:`read_all`, an uncompressed JSONL file (not stdin) as :class:`RawBlock` s of
    about ``blocks`` bytes of whole lines (with ``raw_jsonl``; 0: none), made into documents
    where they are prepared (:func:`block_documents`, a parallel run's workers). What the
    reader says of a line over ``limits.doc_bytes`` and of a file that starts with binary
    data comes as the documents :func:`read_source` gives, read here. Lines are found here
    and not blank ones counted (``RawBlock.records``), so a run numbers its documents as it
    reads; nothing else of a record is read here."""
    for source in sources:
        if on_read is None:
            yield from _source_items(source, text_field, encoding_errors, limits, id_field,
                                     None, raw_jsonl, blocks)
            continue
        seen = 0

        def tally(nbytes: int) -> None:
            nonlocal seen
            seen += nbytes
            on_read(nbytes)

        yield from _source_items(source, text_field, encoding_errors, limits, id_field,
                                 tally, raw_jsonl, blocks)
        size = source_size(source)
        if size is not None and size > seen:
            on_read(size - seen)
