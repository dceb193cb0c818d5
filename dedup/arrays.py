"""Array helpers shared by the stages: exact equivalents of numpy functions that are slower
than they need be for the arrays the hot path holds.

numpy 2.4's :func:`numpy.unique` of an integer array, asked for the values only, first collects
them in a hash table and then sorts the distinct ones: measured here 5-15 times slower than a
sort and a comparison of neighbours (a window's candidate pairs: 39 of 42 ms spent in it).
:func:`unique_ints` is that sort; it gives the same array (sorted distinct values, the same
dtype, flattened), which the tests hold it to.
"""

from __future__ import annotations

import numpy as np


def unique_ints(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of an integer (or boolean) array: its distinct values, sorted.

    >>> unique_ints(np.array([5, 3, 5, 1], dtype=np.uint64)).tolist()
    [1, 3, 5]
    """
    a = np.asarray(values)
    if a.dtype.kind not in "biu":
        raise TypeError(f"unique_ints takes integers, not {a.dtype}")
    s = np.sort(a, axis=None)
    if len(s) < 2:
        return s
    first = np.empty(len(s), dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    return s[first]
