"""Bounded caches of values that are pure functions of their keys (see
:class:`.signature.SketchCache` and :class:`.boilerplate.model.LineCache`).

A cached value is exactly what computing it gives, so a cache changes speed, never output. Each
table holds at most ``capacity`` entries of keys up to ``MAX_KEY_CHARS`` characters and starts
afresh when a batch would overflow it (no eviction order to keep); a cache pickles empty,
because it is not state: a copy sent to a worker fills its own.

The caches can be switched off, to measure what they are worth (``dedup bench`` does, with
the caches on and off): a cache of ``capacity`` 0, or any cache used inside
:func:`caches_off`, computes every key at every position and keeps nothing. The output is the
same either way. Not switched by this: the small ``functools.lru_cache`` memos of single
functions (normalising a line, the consent-dialog and template-line checks), which
:func:`caching` lets them consult.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING: Any = object()  # not in a table (a cached value may be anything, even None)

MAX_KEY_CHARS = 1000  # longer lines are computed each time: they rarely recur, and the bound
# on entries is then also a bound on memory (a cache holds its keys' text)

PROBE_KEYS = 4096  # keys a table is asked for before its hit rate is judged
SIT_OUT_KEYS = 1 << 16  # keys computed directly while a table with too few hits sits out

# On unless inside caches_off(); a context variable, so the switch is scoped to the code (and
# the thread) that set it, never left on for the rest of a process.
_CACHING: contextvars.ContextVar[bool] = contextvars.ContextVar("dedup_caching", default=True)


def caching() -> bool:
    """Whether the caches are on here (``False`` inside :func:`caches_off`)."""
    return _CACHING.get()


@contextmanager
def caches_off() -> Iterator[None]:
    """Run the block with every :class:`BoundedCache` computing each key afresh (for
    measuring; the output is the same).

    >>> class C(BoundedCache):
    ...     def clear(self) -> None:
    ...         self.rows: dict[str, int] = {}
    >>> c = C(8)
    >>> asked = []
    >>> with caches_off():
    ...     c.lookup(c.rows, ["a", "a"], lambda at: asked.append(at) or [1 for i in at])
    [1, 1]
    >>> asked, c.rows, caching()
    ([[0, 1]], {}, True)
    """
    token = _CACHING.set(False)
    try:
        yield
    finally:
        _CACHING.reset(token)


class BoundedCache:
    """The shared part of the caches: look up or compute, the capacity, the overflow rule and
    pickling. Subclasses hold the tables (:meth:`clear` makes them).

    ``min_hit_rate``: a table whose share of keys found falls below it over ``PROBE_KEYS``
    look-ups sits out the next ``SIT_OUT_KEYS`` keys (they are computed directly, at every
    position, as with the caches off), then is probed again: on input that hardly repeats, the
    look-ups and copies cost more than the few hits save. 0 (the default): never. The values
    are the same either way; only the speed changes."""

    min_hit_rate = 0.0

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        """Empty every table."""
        raise NotImplementedError

    def key_chars(self, key: Any) -> int:
        """How many characters of text ``key`` holds (what ``MAX_KEY_CHARS`` bounds)."""
        return len(key)

    def __getstate__(self) -> dict[str, Any]:
        return {"capacity": self.capacity}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.capacity = state["capacity"]
        self.clear()

    def lookup(self, table: dict[K, V], keys: Sequence[K],
               compute: Callable[[list[int]], Sequence[V]]) -> list[V]:
        """Each key's value: from ``table``, or from ``compute(positions)`` for the keys not in
        it, each computed once (at its first position) and then kept. ``compute`` returns
        values that own their data (not views of a batch's arrays), since they are kept.

        >>> class C(BoundedCache):
        ...     def clear(self) -> None:
        ...         self.rows: dict[str, int] = {}
        >>> c = C(3)
        >>> keys = ["a", "bb", "a"]
        >>> c.lookup(c.rows, keys, lambda at: [len(keys[i]) for i in at])
        [1, 2, 1]
        >>> asked = []
        >>> c.lookup(c.rows, ["bb", "ccc"], lambda at: asked.append(at) or [3 for i in at])
        [2, 3]
        >>> asked, sorted(c.rows)
        ([[1]], ['a', 'bb', 'ccc'])
        """
        if not self.consulted(id(table), len(keys)):
            return list(compute(list(range(len(keys)))))
        get = table.get
        out: list[Any] = [get(key, _MISSING) for key in keys]
        missing = [i for i, value in enumerate(out) if value is _MISSING]
        self.tally(id(table), len(keys), len(keys) - len(missing))
        if missing:
            first: dict[K, int] = {}  # each missing key's first position, in key order
            for i in missing:
                first.setdefault(keys[i], i)
            todo = list(first.values())
            computed = compute(todo)
            values = dict(zip(first, computed, strict=True))
            for i in missing:  # a repeat of a key computed here takes the same value
                out[i] = values[keys[i]]
            fits = self.key_chars
            self._put(table, {key: value for key, value in values.items()
                              if fits(key) <= MAX_KEY_CHARS})
        return out

    def consulted(self, table: Hashable, asked: int) -> bool:
        """Whether ``asked`` keys of ``table`` (any name for it) are to be looked up: not
        when the caches are off or the table sits out (it then counts them off its turn)."""
        if not self.capacity or not _CACHING.get():  # switched off: compute every position
            return False
        stats = self._stats(table)
        if stats[2] > 0:
            stats[2] -= asked
            return False
        return True

    def tally(self, table: Hashable, asked: int, found: int) -> None:
        """Count ``found`` of ``asked`` keys of ``table`` found; every ``PROBE_KEYS`` keys, a
        table below ``min_hit_rate`` is made to sit out the next ``SIT_OUT_KEYS``."""
        stats = self._stats(table)
        stats[0] += asked
        stats[1] += found
        if stats[0] >= PROBE_KEYS:
            if stats[1] < self.min_hit_rate * stats[0]:
                stats[2] = SIT_OUT_KEYS
            stats[0] = stats[1] = 0

    def _stats(self, table: Hashable) -> list[int]:
        """Per table: keys asked and found since the last judgement, keys left to sit out."""
        got: list[int] = self.__dict__.setdefault("_hit_stats", {}).setdefault(table, [0, 0, 0])
        return got

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
        if len(table) + len(new) <= self.capacity:
            table.update(new)
            return
        for key in itertools.islice(new, max(self.capacity - len(table), 0)):
            table[key] = new[key]
