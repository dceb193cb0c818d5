"""What ``dedup clean`` shows on stderr while and after it runs: a progress bar driven by the
bytes of the inputs read (:mod:`dedup.progress`), and the closing line.

The bar shows the share of the input bytes read, the bytes, the documents written, the time so
far, the time left and the rate, and goes when the run ends::

    cleaning  41%|##############2        | 5.00MB/12.3MB, 2,000 docs [00:01<00:02, 3.10MB/s]

It is drawn only on a terminal (never into a log or a pipe) and never while stdout, holding
the output, is that terminal too. The closing line::

    dedup: 5,000 documents, 12.3 MB in 4.1 s (3.0 MB/s); 182,344 lines in, 120,001 kept;
    removed: duplicate:exact 40,211, boilerplate:nav 9,876, duplicate:near 4,100 (+5 more reasons)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import lru_cache
from typing import IO, Any

from ..batch import RunReport
from ..parallel import Part
from ..pipeline import CleanResult

TOP_REASONS = 3  # removal reasons named in the closing line; the rest are counted
REFRESH_SECONDS = 0.25  # the bar's fastest redraw
_KNOWN = ("{desc}{percentage:3.0f}%|{bar}| {n_fmt}B/{total_fmt}B, {docs} docs "
          "[{elapsed}<{remaining}, {rate_fmt}]")
_UNKNOWN = "{desc}{n_fmt}B, {docs} docs [{elapsed}, {rate_fmt}]"  # stdin: no total, no ETA


@lru_cache(maxsize=1)
def _bar_class() -> type[Any]:
    """A tqdm bar of bytes that also shows the documents written (``{docs}``). tqdm is
    imported here, when a bar is drawn (on a terminal only), not by every ``dedup`` process."""
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[type-arg]  # tqdm[T] is generic over what it iterates
        docs = 0

        @property
        def format_dict(self) -> dict[str, Any]:
            values = dict(super().format_dict)
            values["docs"] = f"{self.docs:,}"
            return values

    return _Bar


class ProgressBar:
    """The ``dedup clean`` progress bar: a :class:`dedup.progress.ReadProgress` (bytes read)
    and a wrapper of the stream of results (documents written), drawn on ``file``. Nothing is
    drawn until the run starts reading, and nothing at all when not ``enabled``."""

    def __init__(self, file: IO[str], enabled: bool = True,
                 refresh: float = REFRESH_SECONDS) -> None:
        self.file = file
        self.enabled = enabled
        self.refresh = refresh
        self._bar: Any = None  # a _bar_class() instance while drawn
        self._docs = 0

    def start(self, total: int | None, done: int) -> None:
        if not self.enabled or self._bar is not None:
            return
        bar = _bar_class()
        self._bar = bar(total=total, initial=done if total else 0, unit="B", unit_scale=True,
                        unit_divisor=1000, file=self.file, desc="cleaning ",
                        bar_format=_KNOWN if total else _UNKNOWN, mininterval=self.refresh,
                        dynamic_ncols=True, leave=False, disable=False)
        self._bar.docs = self._docs

    def read(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def documents(self, results: Iterator[CleanResult | Part], _inputs: int
                  ) -> Iterator[CleanResult | Part]:
        """``results`` as they come, counted (the ``progress`` hook of
        :func:`dedup.batch.run_clean`); the count is redrawn at most every ``refresh`` seconds
        when no bytes are read (a parallel run's last chunks)."""
        if not self.enabled:
            yield from results
            return
        last = time.monotonic()
        for result in results:
            self._docs += result.documents if isinstance(result, Part) else 1
            bar = self._bar
            if bar is not None:
                bar.docs = self._docs
                now = time.monotonic()
                if now - last >= self.refresh:
                    bar.refresh()
                    last = now
            yield result

    def close(self) -> None:
        """Draw the final state once (so every run shows its last count, however short), then
        remove the bar (before the closing line or an error is written)."""
        if self._bar is not None:
            self._bar.docs = self._docs
            self._bar.refresh()
            self._bar.close()
            self._bar = None


def count(n: int) -> str:
    """A count with thousands separators: ``count(182344) == '182,344'``."""
    return f"{n:,}"


def size(nbytes: int) -> str:
    """Bytes in decimal units (as the bar shows them).

    >>> size(999), size(12_345), size(12_345_678), size(3_210_000_000)
    ('999 B', '12.3 kB', '12.3 MB', '3.2 GB')
    """
    if nbytes < 1000:
        return f"{nbytes} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6)):
        if nbytes < scale * 1000:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes / 1e9:.1f} GB"


def decimal(x: float) -> str:
    """A time or a rate: one decimal, two below 1 (``decimal(4.13) == '4.1'``,
    ``decimal(0.234) == '0.23'``)."""
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def top_reasons(removed: dict[str, int], top: int = TOP_REASONS) -> str:
    """The ``top`` removal reasons by count (then by name), and how many more there are.

    >>> top_reasons({"blank": 7, "duplicate:exact": 40211, "boilerplate:nav": 9876,
    ...              "duplicate:near": 9876})
    'duplicate:exact 40,211, boilerplate:nav 9,876, duplicate:near 9,876 (+1 more reason)'
    """
    ranked = sorted(((r, n) for r, n in removed.items() if n > 0), key=lambda rn: (-rn[1], rn[0]))
    shown = ", ".join(f"{reason} {count(n)}" for reason, n in ranked[:top])
    more = len(ranked) - top
    if more > 0:
        shown += f" (+{more} more reason{'s' if more > 1 else ''})"
    return shown


def closing_line(outcome: RunReport) -> str:
    """The line ``dedup clean`` ends with on stderr: documents, input bytes, seconds and rate,
    lines in and kept, the top removal reasons, skipped and failed records."""
    st = outcome.stats
    seconds = outcome.seconds
    rate = outcome.input_bytes / 1e6 / seconds if seconds > 0 else 0.0
    line = (f"dedup: {count(st['documents'])} documents, {size(outcome.input_bytes)} in "
            f"{decimal(seconds)} s ({decimal(rate)} MB/s); {count(st['lines_in'])} lines in, "
            f"{count(st['lines_out'])} kept")
    reasons = top_reasons(st.get("removed", {}))
    if reasons:
        line += f"; removed: {reasons}"
    if outcome.skipped:
        line += f"; {count(len(outcome.skipped))} skipped"
    if outcome.failures:
        line += f"; {count(len(outcome.failures))} failed"
    return line
