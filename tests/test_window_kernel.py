"""The corpus window's per-document step (dedup._window.doc_steps) equals its Python reference
(staged.doc_steps(..., compiled=False), which runs crossdoc.grow_runs and crossdoc.best_cluster
document after document): runs grown in waves into the window's and the index's documents,
clusters with ties, dropped documents and the restart after a referenced one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import staged
from dedup.staged import Content, Steps, doc_steps


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert staged._window is not None


def _content(docs: list[list[tuple[bool, int, int]]], order: list[list[int]]) -> Content:
    """Flat arrays from per-document lists of (short, hash, tokens); ``order``: each document's
    short lines in indexing order (a permutation of their positions)."""
    start = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    flat = [p for d in docs for p in d]
    short = np.array([p[0] for p in flat], dtype=bool)
    hashes = np.array([p[1] if p[0] else 0 for p in flat], dtype=np.uint64)
    tokens = np.array([p[2] for p in flat], dtype=np.int64)
    shorts: list[int] = []
    sstart = [0]
    for j, d in enumerate(docs):
        mine = [k for k, p in enumerate(d) if p[0]]
        perm = sorted(range(len(mine)), key=lambda i: order[j][i % len(order[j])] if order[j]
                      else i)
        shorts.extend(int(start[j]) + mine[i] for i in perm)
        sstart.append(len(shorts))
    para = np.arange(len(flat), dtype=np.int64) - np.repeat(start[:-1], np.diff(start))
    return Content(start, para, para + 1, tokens, short, hashes,
                   np.array(shorts, dtype=np.int64), np.array(sstart, dtype=np.int64))


@st.composite
def _windows(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.integers(0, 4))
    n = draw(st.integers(0, 6))
    hashes = st.integers(0, 5).map(lambda h: (h * 0x9E3779B97F4A7C15) % 2**64)  # few texts
    docs = draw(st.lists(st.lists(st.tuples(st.booleans(), hashes, st.integers(0, 9)),
                                  max_size=8), min_size=n, max_size=n))
    order = [draw(st.permutations(range(len(d)))) for d in docs]
    content = _content(docs, [list(o) for o in order])
    q = int(content.start[-1])
    hdoc = np.full(q, -1, dtype=np.int64)
    hline = np.full(q, -1, dtype=np.int64)
    hsim = np.zeros(q, dtype=np.float64)
    for j in range(n):  # the long paragraphs' drops: at earlier documents only
        for k in range(int(content.start[j]), int(content.start[j + 1])):
            if not content.short[k] and base + j and draw(st.booleans()):
                hdoc[k] = draw(st.integers(0, base + j - 1))
                hline[k] = draw(st.integers(1, 9))
                hsim[k] = draw(st.sampled_from([0.5, 0.75, 0.8125, 1.0]))
    asks = draw(st.lists(st.tuples(hashes, st.integers(0, max(base - 1, 0)),
                                   st.sampled_from([-1, 1, 2, 7])), max_size=10)) if base else []
    held = sorted({(h, d): line for h, d, line in asks}.items())
    index_tokens = np.array(draw(st.lists(st.integers(0, 30), min_size=base, max_size=base)),
                            dtype=np.uint32)
    index_cluster = np.array([draw(st.integers(0, d)) for d in range(base)], dtype=np.uint32)
    return {"content": content, "hdoc": hdoc, "hline": hline, "hsim": hsim,
            "held": (np.array([k[0] for k, _ in held], dtype=np.uint64),
                     np.array([k[1] for k, _ in held], dtype=np.int64),
                     np.array([v for _, v in held], dtype=np.int64)),
            "index_cluster": index_cluster, "index_tokens": index_tokens,
            "referenced": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                                   dtype=bool),
            "base": base, "threshold": draw(st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0])),
            "drop_mode": draw(st.booleans())}


def _run(window: dict[str, Any], compiled: bool) -> Steps:
    args = dict(window, hdoc=window["hdoc"].copy(), hline=window["hline"].copy(),
                hsim=window["hsim"].copy())
    return doc_steps(**args, compiled=compiled)


@settings(max_examples=400, deadline=None)
@given(_windows())
def test_doc_steps_equal_the_reference(window: dict[str, Any]) -> None:
    got, want = _run(window, True), _run(window, False)
    assert got.decided == want.decided
    for field in ("hdoc", "hline", "hsim", "cluster", "sim", "total"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), field


def test_a_run_grows_into_the_window_and_the_index_by_hand() -> None:
    """Document 1's long paragraph (position 1) was dropped against document 0 of the window;
    its short lines beside it run into document 0's kept copies, in two waves; document 2's
    drop against index document 0 runs into the index's copy, not into a missing one."""
    docs = [[(True, 11, 2), (True, 22, 2), (False, 0, 5)],
            [(True, 33, 1), (False, 0, 5), (True, 22, 2), (True, 11, 2)],
            [(False, 0, 5), (True, 44, 3), (True, 55, 3)]]
    content = _content(docs, [[], [], []])
    hdoc = np.array([-1, -1, -1, -1, 1, -1, -1, 0, -1, -1], dtype=np.int64)
    hline = np.array([-1, -1, -1, -1, 3, -1, -1, 4, -1, -1], dtype=np.int64)
    hsim = np.array([0, 0, 0, 0, 1.0, 0, 0, 0.9, 0, 0], dtype=np.float64)
    held = (np.array([44], dtype=np.uint64), np.array([0], dtype=np.int64),
            np.array([6], dtype=np.int64))
    for compiled in (True, False):
        steps = doc_steps(content, hdoc.copy(), hline.copy(), hsim.copy(), held,
                          np.array([0], dtype=np.uint32), np.array([10], dtype=np.uint32),
                          np.zeros(3, dtype=bool), 1, 0.5, False, compiled=compiled)
        assert steps.decided == 3
        # document 1: 22 (position 5) in the first wave, 11 (position 6) in the second; 33
        # (position 3) is not in document 0
        assert steps.hdoc.tolist() == [-1, -1, -1, -1, 1, 1, 1, 0, 0, -1]
        assert steps.hline.tolist() == [-1, -1, -1, -1, 3, 2, 1, 4, 6, -1]
        assert steps.total.tolist() == [9, 10, 11]
        # document 1 matched 9 of its 10 tokens against document 0 (9 tokens): 9 / 10
        assert steps.cluster.tolist() == [-1, 1, 0] and steps.sim[1] == pytest.approx(0.9)


def test_a_referenced_dropped_document_stops_the_window() -> None:
    docs = [[(False, 0, 4)], [(False, 0, 4)], [(False, 0, 4)]]
    content = _content(docs, [[], [], []])
    for compiled in (True, False):
        steps = doc_steps(content, np.array([-1, 0, 1]), np.array([-1, 1, 1]),
                          np.array([0.0, 1.0, 1.0]), staged._prior_empty(),
                          np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32),
                          np.array([False, True, False]), 0, 0.5, True, compiled=compiled)
        assert steps.decided == 2 and steps.cluster[:2].tolist() == [-1, 0]


def test_bad_arguments_are_refused_before_anything_is_written() -> None:
    content = _content([[(True, 1, 1), (False, 0, 2)]], [[]])
    empty = staged._prior_empty()
    good = dict(content=content, held=empty, index_cluster=np.zeros(0, dtype=np.uint32),
                index_tokens=np.zeros(0, dtype=np.uint32), referenced=np.zeros(1, dtype=bool),
                base=0, threshold=0.5, drop_mode=False)
    kernel = staged._window

    out = np.full(1, 99, dtype=np.int64)  # the clusters: written only when all is checked

    def call(**change: Any) -> np.ndarray:
        hdoc = change.pop("hdoc", np.array([-1, -1], dtype=np.int64))
        args = {**good, **change}
        c = args["content"]
        kernel.doc_steps(c.start, c.line, c.tokens, c.short, c.hash, c.short_start, c.shorts,
                         hdoc, np.zeros(2, dtype=np.int64), np.zeros(2), *args["held"],
                         args["index_cluster"], args["index_tokens"], args["referenced"],
                         args["base"], args["threshold"], args["drop_mode"], out, np.zeros(1),
                         np.zeros(1, dtype=np.int64))
        return out

    bad: list[dict[str, Any]] = [
        {"hdoc": np.array([-1, 0], dtype=np.int64)},  # a drop at a document not before it
        {"hdoc": np.array([-1, -1], dtype=np.int32)},  # the wrong type
        {"referenced": np.zeros(2, dtype=bool)},  # the wrong length
        {"held": (np.array([2, 1], dtype=np.uint64), np.array([0, 0]), np.array([1, 1]))},
        {"content": Content(content.start, content.para, content.line, content.tokens,
                            content.short, content.hash, np.array([1]), content.short_start)},
        {"index_cluster": np.array([3], dtype=np.uint32), "base": 1,
         "index_tokens": np.zeros(1, dtype=np.uint32)},  # a cluster without its tokens
    ]
    for change in bad:
        with pytest.raises((ValueError, TypeError)):
            call(**change)
        assert out.tolist() == [99]
    assert call().tolist() == [-1]


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 25))
    edges = draw(st.lists(st.tuples(st.integers(1, max(n - 1, 1)), st.floats(0, 1),
                                    st.sampled_from([0.5, 0.75, 0.8, 1.0])),
                          max_size=60)) if n > 1 else []
    src = np.array([s for s, _, _ in edges], dtype=np.int64)
    dst = np.array([int(f * s) if f < 1 else s - 1 for s, f, _ in edges], dtype=np.int64)
    sim = np.array([w for _, _, w in edges], dtype=np.float64)
    return n, src, dst, sim


@settings(max_examples=400, deadline=None)
@given(_graphs())
def test_first_come_equals_the_python_loop(graph: tuple[int, np.ndarray, np.ndarray, np.ndarray]
                                           ) -> None:
    """decide_sequential's kernel: edges in any order, repeated pairs, ties of similarity."""
    from dedup.decide import decide_sequential

    n, src, dst, sim = graph
    got = decide_sequential(n, src, dst, sim)
    want = decide_sequential(n, src, dst, sim, compiled=False)
    assert got.target.tobytes() == want.target.tobytes()
    assert np.array_equal(got.sim, want.sim, equal_nan=True)


def test_first_come_refuses_bad_edges_before_writing() -> None:
    target = np.full(3, 7, dtype=np.int64)
    tsim = np.zeros(3)
    for src, dst in (([1], [1]), ([3], [0]), ([1], [-1])):
        with pytest.raises(ValueError):
            staged._window.first_come(np.array(src), np.array(dst), np.array([0.5]), target,
                                      tsim)
    with pytest.raises(TypeError):
        staged._window.first_come(np.array([1]), np.array([0], dtype=np.int32),
                                  np.array([0.5]), target, tsim)
    assert target.tolist() == [7, 7, 7]
    staged._window.first_come(np.array([2, 1]), np.array([0, 0]), np.array([0.5, 0.9]),
                              target, tsim)
    assert target.tolist() == [-1, 0, 0] and tsim[1:].tolist() == [0.9, 0.5]  # 0 is kept
