"""Bounded caches of values that are pure functions of their keys (see
:class:`.signature.SketchCache` and :class:`.boilerplate.model.LineCache`).

A cached value is exactly what computing it gives, so a cache changes speed, never output. Each
table holds at most ``capacity`` entries of keys up to ``MAX_KEY_CHARS`` characters and starts
afresh when a batch would overflow it (no eviction order to keep); a cache pickles empty,
because it is not state: a copy sent to a worker fills its own.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

MAX_KEY_CHARS = 1000  # longer lines are computed each time: they rarely recur, and the bound
# on entries is then also a bound on memory (a cache holds its keys' text)


class BoundedCache:
    """The shared part of the caches: the capacity, the overflow rule and pickling."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        """Empty every table (subclasses hold the tables)."""
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        return {"capacity": self.capacity}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.capacity = state["capacity"]
        self.clear()

    def _put(self, table: dict[K, V], new: dict[K, V]) -> None:
        """Add ``new`` to ``table``; a table that would overflow starts afresh, and what does
        not fit even then is left out.

        >>> class C(BoundedCache):
        ...     def clear(self) -> None:
        ...         self.rows: dict[int, int] = {}
        >>> c = C(3)
        >>> c._put(c.rows, {1: 1, 2: 2}); c._put(c.rows, {3: 3, 4: 4, 5: 5, 6: 6}); c.rows
        {3: 3, 4: 4, 5: 5}
        """
        if len(table) + len(new) > self.capacity:
            table.clear()
        for key in itertools.islice(new, max(self.capacity - len(table), 0)):
            table[key] = new[key]
