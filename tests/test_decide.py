"""The keep/drop decision in rounds (dedup/decide.py) equals the sequential first-come rule."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.decide import (
    Decision,
    decide_rounds,
    decide_sequential,
    exact_groups,
    expand,
)
from dedup.errors import InputError

SIMS = [0.5, 0.7, 0.8, 0.9, 1.0]  # few values, so ties between candidates happen often
Graph = tuple[int, np.ndarray, np.ndarray, np.ndarray]


def _arrays(edges: dict[tuple[int, int], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = np.array([s for s, _ in edges], dtype=np.int64)
    dst = np.array([d for _, d in edges], dtype=np.int64)
    sim = np.array(list(edges.values()), dtype=np.float64)
    return src, dst, sim


@st.composite
def graphs(draw: st.DrawFn, max_n: int = 60, max_edges: int = 200) -> Graph:
    """A random graph: ``n`` rows, distinct edges ``dst < src``, similarities from ``SIMS``."""
    n = draw(st.integers(1, max_n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from(SIMS)), max_size=max_edges))
    edges = {(max(a, b), min(a, b)): w for a, b, w in pairs if a != b}
    return (n, *_arrays(edges))


def _check_first_come(n: int, src: np.ndarray, dst: np.ndarray, sim: np.ndarray,
                      decision: Decision) -> None:
    """Every drop points at an earlier kept row over a real edge with its similarity; kept rows
    have no edge to an earlier kept row (no chains, nothing kept twice)."""
    target, kept = decision.target, decision.kept
    sims = {(int(s), int(d)): float(w) for s, d, w in zip(src, dst, sim, strict=True)}
    for r in range(n):
        t = int(target[r])
        if t >= 0:
            assert t < r and kept[t]
            assert sims[r, t] == decision.sim[r]
    assert not (kept[src] & kept[dst]).any()


@given(graphs())
@settings(max_examples=400, deadline=None)
def test_rounds_equal_sequential_for_every_max_rounds(graph: Graph) -> None:
    n, src, dst, sim = graph
    want = decide_sequential(n, src, dst, sim)
    _check_first_come(n, src, dst, sim, want)
    for max_rounds in (0, 1, 2, 10_000):
        for sharp in (True, False):
            got, rounds = decide_rounds(n, src, dst, sim, max_rounds=max_rounds, sharp=sharp)
            assert got.same(want), (max_rounds, sharp)
            assert rounds.count <= max_rounds
            assert sum(rounds.decided) + rounds.remainder == n
            assert len(rounds.decided) == rounds.count + 1
            if max_rounds == 10_000:
                assert rounds.remainder == 0


@given(graphs(), st.integers(0, 60))
@settings(max_examples=150, deadline=None)
def test_finish_at_hands_the_remainder_to_the_sequential_rule(graph: Graph, at: int) -> None:
    n, src, dst, sim = graph
    got, rounds = decide_rounds(n, src, dst, sim, finish_at=at)
    assert got.same(decide_sequential(n, src, dst, sim))
    assert rounds.remainder <= at


@given(graphs())
@settings(max_examples=150, deadline=None)
def test_sharp_rule_never_needs_more_rounds(graph: Graph) -> None:
    n, src, dst, sim = graph
    sharp = decide_rounds(n, src, dst, sim, max_rounds=10_000)[1].count
    plain = decide_rounds(n, src, dst, sim, max_rounds=10_000, sharp=False)[1].count
    assert sharp <= plain <= n


@st.composite
def grouped(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows labelled with a few exact keys (members interleaved), and edges between groups."""
    labels = draw(st.lists(st.integers(0, 11), min_size=1, max_size=60))
    keys = np.array([(lab * 0x9E3779B97F4A7C15 + 17) % 2**64 for lab in labels], dtype=np.uint64)
    g = len(set(labels))
    pairs = draw(st.lists(st.tuples(st.integers(0, g - 1), st.integers(0, g - 1),
                                    st.sampled_from(SIMS)), max_size=40))
    edges = {(max(a, b), min(a, b)): w for a, b, w in pairs if a != b}
    return (keys, *_arrays(edges))


def _expanded(group: np.ndarray, src: np.ndarray, dst: np.ndarray, sim: np.ndarray
              ) -> dict[tuple[int, int], float]:
    """The graph over all rows: members of one group at 1.0, every member pair of adjacent
    groups at the groups' similarity."""
    adjacent = {}
    for s, d, w in zip(src.tolist(), dst.tolist(), sim.tolist(), strict=True):
        adjacent[s, d] = adjacent[d, s] = w
    out = {}
    labels = group.tolist()
    for j, gj in enumerate(labels):
        for i in range(j):
            gi = labels[i]
            if gi == gj:
                out[j, i] = 1.0
            elif (gj, gi) in adjacent:
                out[j, i] = adjacent[gj, gi]
    return out


@given(st.lists(st.sampled_from([0, 1, 7, 2**32 + 7, 2**63, 2**64 - 1, 12345]), max_size=60)
       | st.lists(st.integers(0, 2**64 - 1), max_size=300))
@settings(max_examples=300, deadline=None)
def test_exact_groups_kernel_equals_the_sorting_reference(values: list[int]) -> None:
    """The compiled table (one pass, first-seen numbering) against the numpy reference, with
    few distinct keys (long groups, keys whose low bits agree) and with many."""
    keys = np.array(values, dtype=np.uint64)
    got, want = exact_groups(keys), exact_groups(keys, compiled=False)
    assert got.rep.dtype == want.rep.dtype == np.int64
    assert np.array_equal(got.rep, want.rep) and np.array_equal(got.group, want.group)
    other = exact_groups(keys.astype(np.int64))  # another integer type: the reference
    assert np.array_equal(other.rep, want.rep) and np.array_equal(other.group, want.group)


@given(grouped())
@settings(max_examples=400, deadline=None)
def test_exact_groups_expand_to_the_sequential_rule_over_all_rows(
        case: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
    keys, src, dst, sim = case
    groups = exact_groups(keys)
    n, g = len(keys), len(groups.rep)
    assert np.array_equal(groups.rep, np.sort(groups.rep))
    assert np.array_equal(groups.group[groups.rep], np.arange(g))
    assert (keys[groups.rep][groups.group] == keys).all()
    full = _expanded(groups.group, src, dst, sim)
    fsrc, fdst, fsim = _arrays(full)
    want = decide_sequential(n, fsrc, fdst, fsim)
    _check_first_come(n, fsrc, fdst, fsim, want)
    on_groups, _ = decide_rounds(g, src, dst, sim, max_rounds=1)
    assert on_groups.same(decide_sequential(g, src, dst, sim))
    assert expand(groups, on_groups, src, dst, sim).same(want)


def test_chain_takes_one_round_per_row() -> None:
    # each row similar to the previous one only: keep, drop, keep, ... one row per round
    n = 200
    src = np.arange(1, n, dtype=np.int64)
    dst = src - 1
    sim = np.full(n - 1, 0.9)
    got, rounds = decide_rounds(n, src, dst, sim, max_rounds=10_000)
    assert rounds.count == n - 1
    assert rounds.decided == (1,) * n
    assert got.kept.tolist() == [r % 2 == 0 for r in range(n)]
    capped, rounds = decide_rounds(n, src, dst, sim, max_rounds=10)
    assert capped.same(got)
    assert (rounds.count, rounds.remainder) == (10, n - 11)


def test_template_cluster_decides_in_one_round() -> None:
    # 1000 variants of a template (row 0), each most similar to it and a bit less to others
    rng = np.random.default_rng(5)
    n = 1000
    src = np.repeat(np.arange(1, n), 5)
    dst = np.where(np.arange(len(src)) % 5 == 0, 0, (rng.random(len(src)) * src).astype(np.int64))
    sim = np.where(dst == 0, 0.95, 0.85)
    edges = dict(zip(zip(src.tolist(), dst.tolist(), strict=True), sim.tolist(), strict=True))
    src, dst, sim = _arrays(edges)
    got, rounds = decide_rounds(n, src, dst, sim)
    assert rounds.count == 1 and rounds.remainder == 0
    assert got.target[1:].tolist() == [0] * (n - 1)
    # the plain rule waits for every earlier neighbour: more rounds for the same result
    plain, plain_rounds = decide_rounds(n, src, dst, sim, sharp=False, max_rounds=10_000)
    assert plain.same(got) and plain_rounds.count > 1


def test_one_paragraph_copied_ten_thousand_times_is_one_row() -> None:
    n = 10_000
    keys = np.full(n, 0xC0FFEE, dtype=np.uint64)
    keys[::1000] = np.arange(10, dtype=np.uint64)  # a few other paragraphs in between
    keys[0] = 0xC0FFEE
    tracemalloc.start()
    try:
        groups = exact_groups(keys)
        g = len(groups.rep)
        # one near-duplicate edge between two of the other paragraphs' groups
        src, dst, sim = np.array([g - 1]), np.array([g - 2]), np.array([0.8])
        on_groups, rounds = decide_rounds(g, src, dst, sim)
        got = expand(groups, on_groups, src, dst, sim)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert g == 10 and rounds.count == 1
    copies = np.flatnonzero(keys == 0xC0FFEE)
    assert got.target[copies[0]] == -1
    assert (got.target[copies[1:]] == 0).all() and (got.sim[copies[1:]] == 1.0).all()
    # linear memory: a clique of the copies would be 5e7 pairs (hundreds of MB)
    assert peak < 200 * n


def test_expand_needs_the_decision_of_the_groups() -> None:
    groups = exact_groups(np.array([1, 1, 2], dtype=np.uint64))
    with pytest.raises(InputError, match="decision is over 3 rows"):
        expand(groups, decide_sequential(3, np.array([1]), np.array([0]), np.array([0.9])),
               np.array([1]), np.array([0]), np.array([0.9]))


@pytest.mark.parametrize(("src", "dst", "sim", "message"), [
    ([1], [1], [0.9], "not 0 <= dst < src < 3"),
    ([3], [0], [0.9], "not 0 <= dst < src < 3"),
    ([1], [-1], [0.9], "not 0 <= dst < src < 3"),
    ([1, 2], [0], [0.9], "one length"),
    ([1], [0], [float("nan")], "finite"),
    ([1.0], [0.0], [0.9], "integers"),
])
def test_bad_edges_are_refused_with_a_hint(src: list[float], dst: list[float], sim: list[float],
                                           message: str) -> None:
    for decide in (decide_sequential, decide_rounds):
        with pytest.raises(InputError, match=message):
            decide(3, np.array(src), np.array(dst), np.array(sim))


def test_golden_small_graph() -> None:
    # 2 is as similar to 0 as to 1 (0.9): the earlier one wins; 3's best (2, 0.95) is dropped,
    # so it goes to 1 (0.8), which 3 would never pick while 2 was kept
    # (4 is then kept: its only neighbour 3 was dropped)
    src, dst = np.array([2, 2, 3, 3, 4]), np.array([0, 1, 2, 1, 3])
    sim = np.array([0.9, 0.9, 0.95, 0.8, 0.9])
    want = [-1, -1, 0, 1, -1]
    for decision in (decide_sequential(5, src, dst, sim), decide_rounds(5, src, dst, sim)[0]):
        assert decision.target.tolist() == want
        assert np.array_equal(decision.sim, [np.nan, np.nan, 0.9, 0.8, np.nan], equal_nan=True)
