"""Input progress: the bytes of its inputs a run has read and cleaned, told as the run goes,
so a caller can draw a progress bar. The library counts and never draws; ``dedup clean``
draws (:mod:`dedup.cli.progress`).

Bytes are counted as stored: a compressed input by the compressed bytes its decoder has
consumed, which is what its file size measures; so one big ``.jsonl.zst`` file shows progress
as smoothly as many small files, and the total of a run is the sum of its input file sizes.
The readers count them once per read of the file (up to ``READ_CHUNK`` bytes), never per
line, and at the end of each input add the rest of its size (a truncated or refused file is
not read to its end), so the counts add up to the total exactly. They are told to the caller
as the documents that hold them are written (:class:`InputCounter`).

A caller passes a :class:`ReadProgress` to :func:`dedup.batch.run_clean`::

    class Printer:
        def start(self, total, done): print("reading", total, "bytes")
        def read(self, nbytes): print("+", nbytes)

    run_clean(["dump/"], "clean/", read_progress=Printer())
"""

from __future__ import annotations

import io
import os
import stat
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from .io.readers import Source

READ_CHUNK = 1 << 16  # bytes of an input read (and reported) at a time


class ReadProgress(Protocol):
    """What a run tells about its reading (every call from the thread that runs it)."""

    def start(self, total: int | None, done: int) -> None:
        """Reading starts: ``total`` bytes in all the run's inputs (``None`` when one is stdin
        or a stream, whose size is not known), ``done`` of them finished before (the inputs a
        ``--resume`` picks up after)."""

    def read(self, nbytes: int) -> None:
        """``nbytes`` (> 0) more bytes of the inputs were read and their documents cleaned
        and written."""


class InputCounter:
    """The bytes of input a run read (``bytes``), and the share of them done, told to its
    :class:`ReadProgress` as each document's result is written.

    Reading runs ahead of cleaning (the repetition sample takes the first 10,000 documents
    before the first is cleaned; parallel runs keep chunks in flight), so bytes are told when
    the documents they hold are done, not when they are read: the reader marks the bytes
    consumed when it hands over each document (:meth:`mark`), the writer says which document
    it wrote (:meth:`done`). So one big file moves the bar as its documents are cleaned, and
    the time left is estimated from the work done.

    >>> seen = []
    >>> class Seen:
    ...     def start(self, total, done): seen.append(("start", total, done))
    ...     def read(self, nbytes): seen.append(nbytes)
    >>> counter = InputCounter(Seen(), total=10)
    >>> counter.start(); counter(4); counter.mark(0); counter(6); counter.mark(1)
    >>> counter.done(0); counter.done(1); counter.finish(); seen, counter.bytes
    ([('start', 10, 0), 4, 6], 10)
    """

    def __init__(self, progress: ReadProgress | None, total: int | None, done: int = 0) -> None:
        self.progress = progress
        self.total = total
        self.done_before = done
        self.bytes = 0  # read so far
        self._told = 0  # told to the progress so far
        self._marks: deque[tuple[int, int]] = deque()  # (document ordinal, bytes read then)
        self._started = False

    def start(self) -> None:
        """Tell the progress that reading starts (once; later calls do nothing)."""
        if not self._started and self.progress is not None:
            self.progress.start(self.total, self.done_before)
        self._started = True

    def __call__(self, nbytes: int) -> None:
        """``nbytes`` more bytes were read (the ``on_read`` of the readers)."""
        self.bytes += nbytes

    def mark(self, ordinal: int) -> None:
        """The reader hands over the document ``ordinal``: the bytes read so far hold it."""
        if self.progress is not None:
            self._marks.append((ordinal, self.bytes))

    def done(self, ordinal: int) -> None:
        """The document ``ordinal``, and every one before it, is done."""
        marks = self._marks
        if not marks or marks[0][0] > ordinal:
            return
        upto = self._told
        while marks and marks[0][0] <= ordinal:
            upto = marks.popleft()[1]
        self._tell(upto)

    def finish(self) -> None:
        """Every document is done: the rest of the bytes read (the inputs' ends) too."""
        self._marks.clear()
        self._tell(self.bytes)

    def _tell(self, upto: int) -> None:
        if upto > self._told and self.progress is not None:
            self.progress.read(upto - self._told)
            self._told = upto


class _Counting(io.RawIOBase):
    """``raw`` as a raw stream that reports the bytes read from it to ``on_read`` (one call per
    read, at most ``READ_CHUNK`` bytes when buffered by :func:`counted`)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None], owns: bool) -> None:
        super().__init__()
        self._raw = raw
        self._on_read = on_read
        self._owns = owns
        # one read of what is there (a pipe's next bytes as they come), not a wait for more
        self._readinto = getattr(raw, "readinto1", None) or getattr(raw, "readinto", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._readinto is not None:
            n = int(self._readinto(buffer) or 0)
        else:  # a stream with read() only
            view = memoryview(buffer).cast("B")
            data = self._raw.read(len(view))
            n = len(data)
            view[:n] = data
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        if not self.closed and self._owns:
            self._raw.close()
        super().close()


def counted(raw: BinaryIO, on_read: Callable[[int], None], owns: bool = True) -> BinaryIO:
    """``raw`` read through a buffer of ``READ_CHUNK`` bytes, each fill reported to ``on_read``:
    a line-by-line reader above it costs one call per chunk, not per line. Closing it closes
    ``raw`` when it ``owns`` it (not stdin).

    >>> seen = []
    >>> fh = counted(io.BytesIO(b"a\\nbb\\n"), seen.append)
    >>> fh.readline(), fh.readline(), fh.readline(), seen
    (b'a\\n', b'bb\\n', b'', [5])
    """
    return io.BufferedReader(_Counting(raw, on_read, owns), buffer_size=READ_CHUNK)


def source_size(source: Source) -> int | None:
    """The bytes :func:`dedup.io.readers.read_source` consumes from ``source``: its file size;
    0 for a file that is not read (a broken link, a special file found by a walk); ``None``
    for stdin and a stream named on the command line (a FIFO), whose size is not known."""
    if source.is_stdin:
        return None
    if source.problem:
        return 0
    try:
        st = os.stat(source.path)
    except OSError:
        return 0  # read_source reports it as a failure; nothing of it is read
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def input_bytes(sources: Sequence[Source]) -> int | None:
    """The total of :func:`source_size` over ``sources`` (``None`` when one is not known)."""
    total = 0
    for source in sources:
        size = source_size(source)
        if size is None:
            return None
        total += size
    return total
