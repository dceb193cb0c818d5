"""The compiled kernels equal their Python/numpy references bit for bit (more tree-kernel tests, on
fitted models, are in test_page_model.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate.model import BUCKETS, LinearStage, load_model
from dedup.boilerplate.trees import Ensemble

FLOATS = st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.just(float("inf")),
                   st.just(float("-inf")), st.just(0.0), st.just(-0.0))


def _stage(rng: np.random.Generator, features: int, classes: int, wide: bool) -> LinearStage:
    """A stage with random weights; word weights float32 as shipped, or float64 (training)."""
    used = np.unique(rng.integers(0, BUCKETS, 200)).astype(np.int32)
    return LinearStage(rng.normal(size=features), rng.uniform(0.1, 3, features),
                       rng.normal(size=(features, classes)), rng.normal(size=classes), used,
                       rng.normal(size=(len(used), classes)).astype(
                           np.float64 if wide else np.float32))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 30), st.integers(0, 2**32 - 1), st.booleans(),
       st.data())
def test_linear_logits_equal_the_reference(features: int, rows: int, seed: int, wide: bool,
                                           data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    stage = _stage(rng, features, 4, wide)
    x = np.asarray(data.draw(st.lists(st.lists(FLOATS, min_size=features, max_size=features),
                                      min_size=rows, max_size=rows)),
                   dtype=np.float64).reshape(rows, features)
    pairs = int(rng.integers(0, 4 * rows + 1))
    lines = rng.integers(0, max(rows, 1), pairs) if rows else np.empty(0, np.int64)
    # buckets with a weight and without one, in any order
    buckets = np.where(rng.random(pairs) < 0.5, rng.choice(stage.word_rows, pairs)
                       if pairs else 0, rng.integers(0, BUCKETS, pairs)).astype(np.int64)
    got = stage.logits(x, lines, buckets)
    want = stage.logits(x, lines, buckets, compiled=False)
    assert got.tobytes() == want.tobytes()
    got = stage.word_logits(lines, buckets, rows)
    assert got.tobytes() == stage.word_logits(lines, buckets, rows, compiled=False).tobytes()


def test_shipped_words_model_logits_equal_the_reference() -> None:
    model = load_model()
    rng = np.random.default_rng(0)
    for stage in (model.stage1, model.stage2):
        x = rng.normal(size=(300, len(stage.mean))) * rng.uniform(0, 20, len(stage.mean))
        x[rng.random(x.shape) < 0.05] = np.nan
        assert stage.logits(x).tobytes() == stage.logits(x, compiled=False).tobytes()


def _random_ensemble(rng: np.random.Generator, trees: int, columns: int) -> Ensemble:
    """Trees of random shapes (children numbered after their parents, as sklearn's are) with
    thresholds that include +-inf, +-0.0 and NaN, and random missing-value directions."""
    specials = [np.inf, -np.inf, 0.0, -0.0, np.nan, 1.0, -1.0]
    feature, threshold, left, right, missing, value, roots = [], [], [], [], [], [], []
    for _ in range(trees):
        roots.append(len(feature))
        todo = [len(feature)]
        feature.append(-1), threshold.append(0.0), left.append(-1), right.append(-1)
        missing.append(0), value.append(float(rng.normal()))
        leaves = int(rng.integers(1, 12))
        while len(todo) < leaves * 2 and todo:
            node = todo.pop(int(rng.integers(len(todo))))
            feature[node] = int(rng.integers(columns))
            threshold[node] = float(rng.choice(specials) if rng.random() < 0.3
                                    else rng.normal())
            missing[node] = int(rng.integers(2))
            for side in (left, right):
                side[node] = len(feature)
                todo.append(len(feature))
                feature.append(-1), threshold.append(0.0), left.append(-1), right.append(-1)
                missing.append(0), value.append(float(rng.normal()))
    return Ensemble(np.asarray(feature, np.int32), np.asarray(threshold, np.float64),
                    np.asarray(left, np.int32), np.asarray(right, np.int32),
                    np.asarray(missing, np.uint8), np.asarray(value, np.float64),
                    np.asarray(roots, np.int32), float(rng.normal()), columns)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 40))
def test_tree_kernel_equals_the_reference_at_edge_values(seed: int, trees: int,
                                                         rows: int) -> None:
    """Inputs equal to a threshold, one step either side of it, infinities, signed zeros and
    NaN take the same way as in the reference (the kernel reads negated columns for nodes that
    send missing values left)."""
    rng = np.random.default_rng(seed)
    ens = _random_ensemble(rng, trees, 3)
    near = ens.threshold[np.isfinite(ens.threshold)]
    pool = np.concatenate([near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf),
                           [np.inf, -np.inf, 0.0, -0.0, np.nan, np.finfo(float).max,
                            -np.finfo(float).max, 5e-324, -5e-324]])
    x = rng.choice(pool, size=(rows, 3))
    assert np.array_equal(ens.raw(x), ens.raw(x, compiled=False), equal_nan=True)


LINE_PIECES = st.sampled_from(["a", "Bc", " ", "\t", "İ", "ß", "Σ", "|", "»", "—", "«", "”", "!",
                               "…", ".", "3", "٣", "\U0001f600", "\U00020000", "©", "\u0301",
                               ":", "-", "•", "\xa0", "\u2028", "x\u0300"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(LINE_PIECES, max_size=12).map("".join), min_size=1, max_size=12))
def test_char_counts_equal_the_reference(lines: list[str]) -> None:
    from dedup.boilerplate.features import char_counts

    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    text = "\n".join(lines)
    assert np.array_equal(char_counts(text, lengths), char_counts(text, lengths, compiled=False))


# Pieces of URLs, addresses, handles and copyright lines, in either case, with the characters
# that lowercase to more than one code point or that look alike (the Kelvin sign, the
# circled c, a fullwidth "@").
PATTERN_PIECES = st.sampled_from([
    "a", "x1", " ", "\t", "İ", "K", "ⓒ", "＠", "@", "#", "©", "(", ")", "c", "C", "(c)", "(C)",
    ".", ".com", ".Co", ".co.uk", ".io", ".info", ".de", ".e", "https://", "http:", "://", "www.",
    "WWW.", "ww", "w.", "copyright", "Copyright", "COPYRİGHT", "all rights reserved",
    "All Rights", " reserved", "ALL RIGHTS RESERVED", "name@host.org", "@ab", "#tag", "_", "-",
    "+", "é", "\U0001f600", "\u2028", "Ω"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PATTERN_PIECES, max_size=10).map("".join), min_size=1, max_size=10))
def test_pattern_hits_equal_the_reference(lines: list[str]) -> None:
    """The URL, e-mail, handle and copyright columns from the kernel's flagged lines equal the
    whole-text anchors' (and both what each pattern finds in each line alone)."""
    from dedup.boilerplate.features import _COPYRIGHT, _PATTERNS, pattern_hits

    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    text = "\n".join(lines)
    got = pattern_hits(lines, text, lengths)
    assert np.array_equal(got, pattern_hits(lines, text, lengths, compiled=False))
    alone = [[float(bool(p.search(line.lower() if p is _COPYRIGHT else line)))
              for p, _ in _PATTERNS] for line in lines]
    assert got.tolist() == alone
