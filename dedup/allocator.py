"""Keep freed memory for reuse instead of handing it back to the system (glibc only), and run
Python's cycle collector less often.

glibc serves every allocation above ``M_MMAP_THRESHOLD`` (128 KiB at first) with a fresh
``mmap`` and returns it with ``munmap`` when freed, then raises the threshold to that block's
size, so the next block of the size comes from the heap and its pages are faulted in a second
time. With both thresholds fixed at tens of MiB every block is made in the heap and reused from
its first free: each new size of numpy temporary is faulted in once, not twice
(``tests/test_allocator.py``). Once a run's batch sizes have settled the two behave alike: a
one-process clean of 3,000 generated pages faults about 7,600 pages either way.

Python's cycle collector runs a young-generation pass every 700 net allocations of container
objects (lists, tuples, dicts, paragraphs). A run allocates millions of them, and every pass
traverses the young objects: measured here, 6-10% of a serial run (segmentation twice as fast
without it) and more in a ``--jobs`` parent, which also rebuilds the workers' paragraphs. Our
objects form no reference cycles on the hot path: reference counting frees them. So
:func:`tune_gc` raises the first threshold to ``GC_THRESHOLD``; the collector still runs, about
70 times less often, so cycles elsewhere in the program are still collected.

Huge pages: numpy asks the kernel for transparent huge pages on every allocation of 4 MiB and
more, and where the system grants them only on request (``defrag = madvise``) the first touch
of such an array may wait for the kernel to compact memory. The repetition sketch (tens of MiB
of zeros, touched at random) paid that on every parallel run's parent: applying the sample's
counts took 0.21-0.25 CPU-s against 0.07-0.10 with ordinary pages (three alternated runs each on
20,000 generated pages). :func:`small_pages` allocates such arrays without the request.

The ``dedup`` command calls :func:`tune_runtime` (both) once at start; forked ``--jobs``
workers inherit it and Dask workers run it when a run starts. A program using dedup as a
library may call it itself: it changes the whole process, which is the program's call.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Iterator

MMAP_THRESHOLD = 32 << 20  # allocations at least this large still get their own mapping
TRIM_THRESHOLD = 64 << 20  # free memory at the heap's top kept before it is given back
GC_THRESHOLD = 50_000  # net container allocations between young collections (Python: 700)
_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds (see the module doc). Returns whether they were
    set: False where the C library is not glibc (macOS, Windows, musl), with nothing changed.
    Safe to call more than once."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def tune_gc() -> None:
    """Raise the cycle collector's first threshold to ``GC_THRESHOLD`` (never lower it); the
    older generations' thresholds are kept. Safe to call more than once."""
    first, second, third = gc.get_threshold()
    if first and first < GC_THRESHOLD:  # 0: the program turned automatic collection off
        gc.set_threshold(GC_THRESHOLD, second, third)


def tune_runtime() -> bool:
    """:func:`tune_gc` and :func:`tune_allocator`; returns what :func:`tune_allocator` does."""
    tune_gc()
    return tune_allocator()


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy's allocations inside made without asking for transparent huge pages (see the
    module doc); the setting before is restored after. Nothing changes where numpy has no such
    switch. Not thread-safe: the switch is numpy's, for the whole process."""
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)
    switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if switch is None:  # pragma: no cover - a numpy without it
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)
