"""Documents in batches: the stages that do numpy work over many documents at once (the
classifier, in-document dedup, the corpus look-ups, the line counts, parallel chunks) take them
``BATCH`` at a time. Every stage gives the same verdicts whatever the batch size."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

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


def bounded_batches(items: Iterable[T], size: int, chars: int,
                    length: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` as consecutive lists of at most ``size``, each closed as soon as its items'
    ``length`` reaches ``chars`` (so a list holds at least one item).

    >>> list(bounded_batches(["ab", "c", "defg", "h", "i"], 3, 4, len))
    [['ab', 'c', 'defg'], ['h', 'i']]
    >>> list(bounded_batches(["abcdef", "g"], 3, 4, len))
    [['abcdef'], ['g']]
    """
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += length(item)
        if len(batch) >= size or total >= chars:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def apart(items: Iterable[Any], alone: type, group: Callable[[Iterable[Any]], Iterator[Any]]
          ) -> Iterator[Any]:
    """``items`` with every run of items that are not ``alone`` put through ``group`` (as it
    streams: a run is not held), and each ``alone`` item by itself, in order.

    >>> list(apart([1, 2, "a", 3, 4, 5, "b"], str, lambda run: batches(run, 2)))
    [[1, 2], 'a', [3, 4], [5], 'b']
    """
    it = iter(items)
    ended: list[Any] = []  # the alone item that ended a run

    def run() -> Iterator[Any]:
        for item in it:
            if isinstance(item, alone):
                ended.append(item)
                return
            yield item

    while True:
        yield from group(run())
        if not ended:
            return
        yield ended.pop()
