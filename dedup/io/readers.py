"""Readers: ``.txt`` files (one document each), ``.jsonl`` files (one document per line),
directories (walked recursively, sorted) and stdin (``-``) -> :class:`~dedup.types.Document`.

A record that cannot be read does not stop the run: it becomes a document with ``error`` set,
which the pipeline passes through untouched and the writer counts as a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..types import Document

TEXT_SUFFIXES = (".txt", ".text")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
FORMATS = ("auto", "txt", "jsonl")
ENCODING_ERRORS = ("strict", "replace")


@dataclass(frozen=True, slots=True)
class Source:
    """One input: its path (``-`` for stdin), its format and its name relative to its root."""

    path: str
    kind: str
    rel: str

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"


def _kind(path: str, fmt: str) -> str | None:
    if fmt != "auto":
        return fmt
    low = path.lower()
    if low.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(TEXT_SUFFIXES):
        return "txt"
    return None


def discover(inputs: Sequence[str], fmt: str = "auto") -> list[Source]:
    """Expand the command-line inputs into sources, in a stable order.

    Files are taken as given (unknown suffixes as text); directories contribute every ``.txt``
    and ``.jsonl`` file below them, sorted, hidden files skipped.
    """
    sources: list[Source] = []
    for given in inputs:
        if given == "-":
            sources.append(Source("-", "jsonl" if fmt == "jsonl" else "txt", "stdin"))
            continue
        path = Path(given)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    full = Path(root) / name
                    kind = _kind(name, fmt)
                    if kind is not None:
                        found.append(Source(str(full), kind, full.relative_to(path).as_posix()))
            if not found:
                raise InputError(f"{given}: directory has no .txt or .jsonl files",
                                 hint="point at the files, or use --input-format to read others")
            sources.extend(found)
        elif path.exists():
            sources.append(Source(str(path), _kind(path.name, fmt) or "txt", path.name))
        else:
            raise InputError(f"{given}: no such file or directory")
    return sources


def _decode(data: bytes, where: str, errors: str) -> str:
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, "
            f"line {line})",
            hint="re-encode the file as UTF-8, or pass --encoding-errors replace",
        ) from exc


def _open(source: Source) -> BinaryIO:
    if source.is_stdin:
        return sys.stdin.buffer
    try:
        return open(source.path, "rb")
    except OSError as exc:
        raise InputError(f"{source.path}: cannot read ({exc.strerror})") from exc


def read_source(source: Source, text_field: str = "text",
                encoding_errors: str = "strict") -> Iterator[Document]:
    """Documents of one source; unreadable records come back with ``error`` set."""
    try:
        fh = _open(source)
    except InputError as exc:
        yield Document(id=source.rel, text="", source=source.rel, error=str(exc))
        return
    with contextlib.nullcontext(fh) if source.is_stdin else fh:
        if source.kind == "txt":
            try:
                text = _decode(fh.read(), source.path, encoding_errors)
            except InputError as exc:
                yield Document(id=source.rel, text="", source=source.rel, error=str(exc))
                return
            if "\x00" in text:
                yield Document(id=source.rel, text="", source=source.rel,
                               error=f"{source.path}: looks binary (contains NUL bytes)")
                return
            yield Document(id=source.rel, text=text, source=source.rel)
            return
        for lineno, raw in enumerate(fh, start=1):
            doc_id = f"{source.rel}:{lineno}"
            if not raw.strip():
                continue
            try:
                record = json.loads(_decode(raw, f"{source.path}:{lineno}", encoding_errors))
            except InputError as exc:
                yield Document(id=doc_id, text="", source=source.rel, error=str(exc))
                continue
            except json.JSONDecodeError as exc:
                yield Document(id=doc_id, text="", source=source.rel,
                               error=f"{source.path}:{lineno}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                yield Document(id=doc_id, text="", source=source.rel,
                               error=f"{source.path}:{lineno}: a JSONL record must be an object")
                continue
            value = record.get(text_field)
            if not isinstance(value, str):
                what = "missing" if text_field not in record else "not a string"
                yield Document(id=doc_id, text="", source=source.rel, meta=record,
                               error=f"{source.path}:{lineno}: field {text_field!r} is {what} "
                                     f"(use --text-field to name the text field)")
                continue
            # meta keeps the whole record (field order included); the writer swaps the text in.
            yield Document(id=doc_id, text=value, meta=record, source=source.rel)


def read_all(sources: Sequence[Source], text_field: str = "text",
             encoding_errors: str = "strict") -> Iterator[Document]:
    """Documents of every source, in order."""
    for source in sources:
        yield from read_source(source, text_field, encoding_errors)
