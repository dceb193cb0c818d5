"""The compiled kernels equal their Python/numpy references bit for bit (the tree kernel's test is
in test_page_model.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate.model import BUCKETS, LinearStage, load_model

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
