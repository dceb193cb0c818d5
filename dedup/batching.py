"""Documents in batches: the stages that do numpy work over many documents at once (the
classifier, in-document dedup, the corpus look-ups, the line counts, parallel chunks) take them
``BATCH`` at a time. Every stage gives the same verdicts whatever the batch size."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

BATCH = 32  # large enough to amortise numpy and pickling overhead, small enough to stream

T = TypeVar("T")


def batches(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """``items`` as consecutive lists of ``size`` (the last one shorter).

    >>> list(batches(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch
