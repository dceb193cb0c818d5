"""The runtime settings the dedup command makes at start: glibc's mmap and trim thresholds, and
the cycle collector's first threshold."""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from dedup import allocator
from dedup.cli import main

RUN = """
import resource, sys
import numpy as np
from dedup.allocator import small_pages, tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator()
faults = 0
with small_pages():  # no huge pages: each block's pages are faulted one by one
    for size in (1 << 20, 2 << 20, 3 << 20):  # temporaries of growing sizes, four times each
        for _ in range(4):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            block = np.ones(size // 8)
            del block
            faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""


@pytest.mark.skipif(not allocator.tune_allocator(), reason="needs glibc")
def test_a_tuned_process_faults_a_freed_block_in_once() -> None:
    """Each run in a fresh process. With glibc's defaults a block above 128 KiB is mapped and
    unmapped when freed; glibc then raises its threshold, so the next block of that size comes
    from the heap and is faulted in a second time (measured: about 2,300 faults for the blocks
    here). Tuned, every block is made in the heap and its pages are reused from the first
    free, a larger block growing the heap by the difference only (about 770). Huge pages are
    kept out of it: granted or not, they would change the count."""
    faults = {mode: int(subprocess.run([sys.executable, "-c", RUN, mode], check=True,
                                       capture_output=True, text=True).stdout)
              for mode in ("plain", "tuned")}
    assert faults["tuned"] * 2 < faults["plain"]


def test_tune_allocator_is_idempotent() -> None:
    got = allocator.tune_allocator()
    assert isinstance(got, bool) and allocator.tune_allocator() is got


def test_the_command_tunes_the_runtime_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(allocator, "tune_runtime", lambda: calls.append(1) or True)
    result = CliRunner().invoke(main, ["clean", "-", "-o", "-"], input="A line of text.\n")
    assert result.exit_code == 0, result.output
    assert calls == [1]


GC_RUN = """
import gc, sys
from dedup import Cleaner, Config
from dedup.allocator import tune_gc
from dedup.corpus import GeneratorConfig, generate
texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=300, seed=2, split="test"))]
if sys.argv[1] == "tuned":
    tune_gc()
before = gc.get_stats()[0]["collections"]
out = [r.text for r in Cleaner(Config()).clean_documents(texts)]
print(gc.get_stats()[0]["collections"] - before, sum(map(len, out)))
"""


def test_tuned_collector_runs_far_less_often_with_the_same_output() -> None:
    """Each run in a fresh process: the young generation is collected dozens of times less
    often, and the cleaned text is the same."""
    runs = {mode: subprocess.run([sys.executable, "-c", GC_RUN, mode], check=True,
                                 capture_output=True, text=True).stdout.split()
            for mode in ("plain", "tuned")}
    assert runs["plain"][1] == runs["tuned"][1]
    assert int(runs["tuned"][0]) * 20 < int(runs["plain"][0])


def test_tune_gc_raises_only_the_first_threshold_and_never_lowers_it() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 11, 12)
        allocator.tune_gc()
        assert gc.get_threshold() == (allocator.GC_THRESHOLD, 11, 12)
        gc.set_threshold(10 * allocator.GC_THRESHOLD, 11, 12)
        allocator.tune_gc()
        assert gc.get_threshold() == (10 * allocator.GC_THRESHOLD, 11, 12)
        gc.set_threshold(0, 11, 12)  # the program turned automatic collection off: left so
        allocator.tune_gc()
        assert gc.get_threshold() == (0, 11, 12)
    finally:
        gc.set_threshold(*saved)


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.tune_allocator() is False



@pytest.mark.parametrize("before", [True, False])
def test_small_pages_turns_numpy_huge_pages_off_inside_and_restores_the_setting(
        before: bool) -> None:
    """Inside, numpy allocates without asking for huge pages (the repetition sketch's arrays
    are made so); after, whether the body returned or raised, numpy's setting is what it was."""
    import numpy as np
    from numpy._core import multiarray

    from dedup.allocator import small_pages
    from dedup.boilerplate.repetition import LineCounts

    switch = multiarray._set_madvise_hugepage
    old = switch(before)
    try:
        seen: list[bool] = []
        zeros = np.zeros

        def recording(*args: Any, **kwargs: Any) -> Any:
            state = switch(False)  # read numpy's setting as the array is made
            switch(state)
            seen.append(state)
            return zeros(*args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(np, "zeros", recording)
            LineCounts(width=1 << 10, bloom_bits=1 << 12)
        assert len(seen) == 3 and not any(seen)  # table, pairs and bloom
        assert switch(before) == before  # restored
        with pytest.raises(RuntimeError), small_pages():
            assert switch(False) is False
            raise RuntimeError("boom")
        assert switch(before) == before
    finally:
        switch(old)
