"""Crash-consistent state on disk: a set of files committed by one manifest, and locks.

Every piece of state dedup reads back (the corpus index, a run's checkpoint) is saved the same
way, so a kill at any instant leaves either the old state or the new one, never a mix:

1. new files are written under names no committed manifest uses (a generation number), each
   flushed and ``fsync``-ed, its size and XXH3 checksum recorded;
2. the manifest, a JSON document naming every file with its size and checksum, is written to a
   temporary name, ``fsync``-ed, and renamed over the old manifest (one atomic rename), and the
   directory is ``fsync``-ed;
3. files of older generations are removed.

A reader takes only what a committed manifest names and verifies sizes and checksums before it
trusts them (:func:`verify`); anything else in the directory is a leftover of a stopped writer
and is removed by the next writer (:func:`sweep`). Append-only files (the index's record store)
are named with the length that is committed and the checksums of the segments written since
earlier commits, so a commit hashes only what is new.

:class:`DirLock` is an exclusive ``flock`` on a directory: a second run on the same index or
output directory is refused with a message instead of corrupting it.

Tests stop a real process at named points of this protocol (:func:`crash_point`, through the
``DEDUP_CRASH_AT`` environment variable that only tests set).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import xxhash

from .errors import DedupError, InputError, OutputError

HASH_CHUNK = 1 << 22  # bytes read at a time when verifying
MAX_SEGMENTS = 256  # an append-only file's checksums are folded into one past this many
CRASH_ENV = "DEDUP_CRASH_AT"
_crash_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Kill this process (SIGKILL, as a power cut would) when ``DEDUP_CRASH_AT`` names this
    point: ``name`` or ``name:N`` (its N-th pass, from 1). Only tests set the variable."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    target, _, nth = spec.rpartition(":")
    if not nth.isdigit():
        target, nth = spec, "1"
    if target != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= int(nth):
        os.kill(os.getpid(), signal.SIGKILL)


def file_hash(path: Path, start: int = 0, end: int | None = None) -> str:
    """XXH3-64 of the bytes ``[start, end)`` of a file, as 16 hex digits."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        fh.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            chunk = fh.read(HASH_CHUNK if left is None else min(HASH_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Entry:
    """One file a manifest names: its name in the directory, size and checksum.

    An append-only file has ``segments`` instead of one checksum: ``(end, hash)`` of the bytes
    from the previous segment's end to ``end``; its committed length is ``size``.
    """

    name: str
    size: int
    xxh3: str = ""
    segments: tuple[tuple[int, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "size": self.size}
        if self.segments or not self.xxh3:
            out["segments"] = [list(s) for s in self.segments]
        else:
            out["xxh3"] = self.xxh3
        return out

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
                or not isinstance(data.get("size"), int) or data["size"] < 0 \
                or "/" in data["name"] or data["name"] in ("", ".", ".."):
            raise ValueError(f"bad file entry {data!r}")
        segments = data.get("segments", [])
        if not isinstance(segments, list) or not all(
                isinstance(s, list) and len(s) == 2 and isinstance(s[0], int)
                and isinstance(s[1], str) for s in segments):
            raise ValueError(f"bad segments in {data['name']!r}")
        ends = [s[0] for s in segments]
        if segments and (ends != sorted(set(ends)) or ends[-1] != data["size"]):
            raise ValueError(f"the segments of {data['name']!r} do not end at its size")
        xxh3 = data.get("xxh3", "")
        if not isinstance(xxh3, str):
            raise ValueError(f"bad checksum of {data['name']!r}")
        return cls(data["name"], data["size"], xxh3, tuple((s[0], s[1]) for s in segments))


def append_only(root: Path, name: str, size: int,
                known: Iterable[tuple[int, str]] = ()) -> Entry:
    """The entry of an append-only file committed at ``size`` bytes (already ``fsync``-ed by
    its writer): the ``known`` segments that end at or before ``size``, plus one for the rest."""
    segments = [s for s in sorted(known) if s[0] <= size]
    start = segments[-1][0] if segments else 0
    if start < size or not segments:
        segments.append((size, file_hash(root / name, start, size)))
    if len(segments) > MAX_SEGMENTS:
        segments = [(size, _prefix_hash(root / name, size))]
    return Entry(name, size, segments=tuple(segments))


def _prefix_hash(path: Path, size: int) -> str:
    return "all:" + file_hash(path, 0, size)


def verify(root: Path, entry: Entry, what: str, hint: str,
           error: type[DedupError] = InputError) -> None:
    """Check that ``entry``'s file is there with its committed bytes; raise ``error`` saying
    what is wrong and how to recover otherwise."""
    path = root / entry.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise error(f"{what}: {path} is missing ({exc.strerror})", hint=hint) from exc
    if entry.segments:
        if size < entry.size:
            raise error(f"{what}: {path} is truncated ({size} bytes, {entry.size} "
                             "committed)", hint=hint)
        start = 0
        for end, digest in entry.segments:
            if digest.startswith("all:"):
                got = _prefix_hash(path, end)
            else:
                got = file_hash(path, start, end)
            if got != digest:
                raise error(f"{what}: {path} is damaged (bytes {start}-{end} differ from "
                                 "what was committed)", hint=hint)
            start = end
        return
    if size != entry.size:
        raise error(f"{what}: {path} is damaged (it has {size} bytes, {entry.size} were "
                    "committed)",
                         hint=hint)
    if file_hash(path) != entry.xxh3:
        raise error(f"{what}: {path} is damaged (its checksum differs from the "
                         "committed one)", hint=hint)


def read_manifest(path: Path, what: str, hint: str,
                  error: type[DedupError] = InputError) -> dict[str, Any] | None:
    """The committed manifest at ``path`` (``None`` when there is none); ``error`` when it
    cannot be parsed. Its ``files`` come back as :class:`Entry` values."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"{what}: cannot read {path} ({exc.strerror})", hint=hint) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
            raise ValueError("not a manifest")
        data["files"] = {k: Entry.from_json(v) for k, v in data.get("files", {}).items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{what}: {path} is damaged ({exc})", hint=hint) from exc
    return data


def write_manifest(path: Path, data: dict[str, Any], files: dict[str, Entry]) -> None:
    """Commit: write the manifest naming ``files`` under a temporary name, flush it, rename it
    over ``path`` and flush the directory. Before the rename the old state stands."""
    body = dict(data)
    body["files"] = {k: e.to_json() for k, e in sorted(files.items())}
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write((json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    crash_point("commit:manifest-written")
    os.replace(tmp, path)
    fsync_dir(path.parent)
    crash_point("commit:renamed")


def write_new(root: Path, name: str, write: Callable[[IO[bytes]], Any]) -> Entry:
    """Write a new file ``name`` in ``root`` (through a temporary name, so no reader sees a
    half file under ``name``) and return its entry."""
    tmp = root / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / name)
    crash_point("commit:file-written")
    return Entry(name, (root / name).stat().st_size, file_hash(root / name))


def sweep(root: Path, keep: Iterable[str], owned: Callable[[str], bool]) -> None:
    """Remove the files in ``root`` that ``owned`` claims as ours but no manifest names in
    ``keep`` (leftovers of a writer that stopped), and every ``.*.tmp`` of ours."""
    names = set(keep)
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name in names or not path.is_file():
            continue
        if owned(path.name) or (path.name.startswith(".") and path.name.endswith(".tmp")
                                and owned(path.name[1:-4])):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class DirLock:
    """An exclusive lock on a directory (``flock`` on the directory itself, so no lock file is
    left behind), held until :meth:`release` or the process ends (a killed process releases it).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     first = DirLock(d, "the index")
    ...     try:
    ...         DirLock(d, "the index")
    ...     except OutputError as exc:
    ...         print(exc.message.split(":")[1].strip())
    ...     first.release()
    another dedup run is using this directory as the index
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        try:
            self.fd: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot open {what} ({exc.strerror})") from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            self.fd = None
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(
                    f"{self.path}: another dedup run is using this directory as {what}",
                    hint="wait for that run to finish, or give this run another directory"
                ) from exc
            raise OutputError(f"{self.path}: cannot lock {what} ({exc.strerror})") from exc

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None
