"""The layout features (cards, prices, sorted runs, the title) and the real-page words model:
what they find on planted pages, batch invariance, and the joint words stage's exactness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate.features import BUCKETS, doc_bounds, line_features
from dedup.boilerplate.layout import LAYOUT, currency, layout_features
from dedup.boilerplate.lexical import LEXICAL, Lexical, lexical_columns, pair_scale
from dedup.boilerplate.model import load_model
from dedup.normalize import normalize
from dedup.segment import segment
from dedup.types import Document

COL = {name: i for i, name in enumerate(LAYOUT)}
INTRO = ["Winter boots for every trail and every city street this season.",
         "Our buyers tested each pair in snow, slush and rain before listing it here."]
CARDS = [line for i in range(6) for line in
         (f"Trail Boot Model {i}", f"${40 + i}.99", "Add to cart")]


def _layout(pages: list[list[str]]) -> np.ndarray:
    docs = list(normalize(segment(Document(str(i), "\n".join(p)) for i, p in enumerate(pages))))
    paras = [p for d in docs for p in d.paragraphs if not p.blank]
    lf = line_features([p.text for p in paras], [p.tokens for p in paras])
    sizes = [sum(not p.blank for p in d.paragraphs) for d in docs]
    return layout_features([p.text for p in paras], [p.key for p in paras], lf.dense,
                           doc_bounds(sizes))


def test_cards_repeat_their_shape_and_prices_are_found() -> None:
    x = _layout([INTRO + CARDS])
    cards = slice(len(INTRO), len(INTRO) + len(CARDS))
    assert x[cards, COL["price"]].tolist() == [0.0, 1.0, 0.0] * 6
    # Every third line has the same shape: lag 3 recurs, the intro's sentences do not.
    assert np.nanmin(x[cards, COL["period_r3"]][3:-3]) > 0.6
    assert x[len(INTRO) + 4, COL["period_best_k"]] == 3
    assert x[len(INTRO) + 8, COL["period_excess"]] > 0.5
    # The same lines grouped (names, then prices, then buttons) recur at lag 1: no cards.
    grouped = _layout([INTRO + CARDS[0::3] + CARDS[1::3] + CARDS[2::3]])
    assert grouped[len(INTRO) + 8, COL["period_excess"]] < 0.1
    assert x[cards, COL["rep_gap_regular"]][2::3].tolist() == [1.0] * 6  # "Add to cart"


def test_currency_needs_a_sign_or_cents() -> None:
    texts = ["$12", "12,99", "EUR 5", "12 items", "Chapter 12", "1999"]
    dense = line_features(texts, [t.split() for t in texts]).dense
    assert currency(texts, dense).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_sorted_runs_and_the_title() -> None:
    index = ["Alder", "Birch", "Cedar", "Elm", "Maple", "Oak", "Willow"]
    page = ["Home", "Trees of the northern forest", *index,
            "The trees of the northern forest grow slowly in the cold and the dark."]
    x = _layout([page])
    assert x[2:9, COL["sorted_run"]].min() == pytest.approx(np.log1p(7))
    assert x[0, COL["sorted_run"]] < np.log1p(3)
    # The heading whose words the page repeats is the title: distance 0, all words shared.
    assert x[1, COL["title_dist"]] == 0.0
    assert x[-1, COL["title_share_words"]] == pytest.approx(3 / 7)  # trees, northern, forest
    assert x[0, COL["title_share_words"]] == 0.0


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*INTRO, *CARDS, "Home", "About us", ""]),
                         max_size=14), min_size=1, max_size=4))
def test_layout_does_not_depend_on_the_batch(pages: list[list[str]]) -> None:
    together = _layout(pages)
    alone = [_layout([p]) for p in pages]
    assert np.array_equal(together, np.vstack(alone), equal_nan=True)
    assert together.shape[1] == len(LAYOUT)


def _lexical() -> Lexical:
    rng = np.random.default_rng(3)
    rows = np.unique(rng.integers(0, BUCKETS, 5000))
    return Lexical(rows, rng.normal(size=len(rows)).astype(np.float32), -0.5)


def test_joint_stage_keeps_the_words_models_sums_exactly() -> None:
    stage = load_model().stage1
    lex = _lexical()
    joint = lex.joint(stage)
    assert joint.word_rows is not None and stage.word_rows is not None
    assert np.array_equal(joint.word_rows, np.union1d(stage.word_rows, lex.rows))
    texts = [*INTRO, *CARDS, "Accept all cookies", "Share on Facebook"]
    lf = line_features(texts, [t.split() for t in texts])
    own = stage.word_logits(lf.rows, lf.buckets, len(texts))
    both = joint.word_logits(lf.rows, lf.buckets, len(texts))
    assert np.array_equal(both[:, : own.shape[1]], own)
    full = np.zeros(BUCKETS)
    full[lex.rows] = lex.weights
    expected = np.bincount(lf.rows, weights=full[lf.buckets], minlength=len(texts))
    assert np.allclose(both[:, -1], expected)
    assert np.array_equal(joint.logits(lf.dense, word_z=both)[:, : own.shape[1]],
                          stage.logits(lf.dense, word_z=own))
    score = lex.score(both[:, -1], lf.dense)
    assert np.allclose(score, expected * pair_scale(lf.dense) - 0.5)


def test_lexical_columns_see_only_their_document() -> None:
    s = np.array([1.0, -1.0, 2.0, 0.5, 0.0])
    a = lexical_columns(s, doc_bounds([2, 3]))
    b = np.vstack([lexical_columns(s[:2], doc_bounds([2])),
                   lexical_columns(s[2:], doc_bounds([3]))])
    assert np.array_equal(a, b, equal_nan=True)
    assert a.shape == (5, len(LEXICAL))
    assert a[0, LEXICAL.index("lex_next")] == -1.0 and np.isnan(a[1, LEXICAL.index("lex_next")])


@pytest.mark.parametrize("rows, weights, bias", [
    ([5, 3], [1.0, 1.0], 0.0),          # not sorted
    ([1, BUCKETS], [1.0, 1.0], 0.0),    # out of range
    ([1, 2], [1.0, np.nan], 0.0),       # not finite
    ([1, 2], [1.0], 0.0),               # one weight a bucket
    ([1, 2], [1.0, 2.0], np.inf),
])
def test_damaged_lexical_weights_are_refused(rows: list[int], weights: list[float],
                                             bias: float) -> None:
    with pytest.raises(ValueError, match="lexical weights"):
        Lexical(np.asarray(rows), np.asarray(weights, dtype=np.float32), bias)
