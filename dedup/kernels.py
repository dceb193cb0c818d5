"""The compiled kernels, and a switch that runs the Python references instead.

Every kernel (a C extension module ``dedup._*`` built by ``setup.py``) is held by the module that
uses it, in one module-level name, and each call site takes its Python or numpy reference when
that name is ``None`` (a source tree used without building). :func:`kernels_off` sets all of
them to ``None`` for a block, so a whole run can be compared with the pure-Python reference
(``benchmarks/kernels_identical.py``): the output must be byte-identical.

In this process only: worker processes (``--jobs``, Dask) import their own. Not thread-safe:
for checks and benchmarks, not for a running service.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

# (module, name of its kernel) for every kernel in use; tests/test_kernels_off.py checks that
# no module holds a kernel missing here.
HOLDERS: tuple[tuple[str, str], ...] = (
    ("dedup.segment", "_segment"),
    ("dedup.types", "_segment"),
    ("dedup.normalize", "_tokens"),
    ("dedup.shingle", "_minhash"),
    ("dedup.shingle", "_pairs"),
    ("dedup.cluster", "_pairs"),
    ("dedup.signature", "_minhash"),
    ("dedup.lsh", "_pairs"),
    ("dedup.lsh", "_minhash"),
    ("dedup.crossdoc", "_pairs"),
    ("dedup.staged", "_pairs"),
    ("dedup.index", "_pairs"),
    ("dedup.staged", "_window"),
    ("dedup.decide", "_window"),
    ("dedup.decide", "_pairs"),
    ("dedup.boilerplate.features", "_lines"),
    ("dedup.boilerplate.layout", "_layout"),
    ("dedup.boilerplate.structure", "_layout"),
    ("dedup.boilerplate.model", "_linear"),
    ("dedup.boilerplate.repetition", "_counts"),
    ("dedup.boilerplate.trees", "_kernel"),
)


@contextmanager
def kernels_off() -> Iterator[None]:
    """Run the block with every compiled kernel replaced by its Python reference."""
    saved = []
    try:
        for module_name, attr in HOLDERS:
            module = importlib.import_module(module_name)
            saved.append((module, attr, getattr(module, attr)))
            setattr(module, attr, None)
        yield
    finally:
        for module, attr, kernel in reversed(saved):
            setattr(module, attr, kernel)
