"""The layout and structure kernels (dedup._layout) equal their Python references bit for bit:
the title's word counts on ASCII and non-ASCII lines, casefolding that changes lengths, word
characters of every kind, empty and long lines, documents of any size; the window means on
any values (NaN, infinities, signed zeros), windows and documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate import layout
from dedup.boilerplate.features import DENSE, doc_bounds
from dedup.boilerplate.structure import Segmented

_D = {name: i for i, name in enumerate(DENSE)}

# Words that recur, casefold to each other ("STRASSE"/"straße", "ΣΊΣΥΦΟΣ"/"σίσυφοσ") or
# contain word characters beyond letters (digits of other scripts, "_", marks, astral letters).
_WORDS = ["home", "Home", "HOME", "news", "trail", "boots", "winter", "straße", "STRASSE",
          "ΣΊΣΥΦΟΣ", "σίσυφος", "ﬁnance", "finance", "İstanbul", "istanbul", "naïve", "nai\u0308ve",
          "snake_case", "٣٤٥٦", "x²³⁴", "𝐀𝐁𝐂𝐃", "𐐀𐐁𐐂𐐃", "日本語です", "abc", "a_b", "word"]
_SEPARATORS = [" ", "  ", ", ", "-", "—", ".", "!", " | ", "\t", "\u00a0", "'", "’", "/"]


@st.composite
def _line(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:  # arbitrary text, surrogates excluded
        return draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
    parts = draw(st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)),
                          max_size=12))
    return "".join(w + s for w, s in parts)


@st.composite
def _batch(draw: st.DrawFn) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Lines, documents' bounds (empty and one-line documents included) and a dense array
    whose word counts and terminal flags make any line heading-like or not."""
    sizes = draw(st.lists(st.integers(0, 14), max_size=6))
    n = sum(sizes)
    texts = draw(st.lists(_line(), min_size=n, max_size=n))
    dense = np.zeros((n, len(DENSE)))
    dense[:, _D["log_words"]] = np.log1p(draw(st.lists(st.integers(0, 25), min_size=n,
                                                       max_size=n)))
    dense[:, _D["ends_terminal"]] = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n,
                                                  max_size=n))
    return texts, dense, doc_bounds(sizes)


def _both(texts: list[str], dense: np.ndarray, bounds: np.ndarray) -> None:
    kernel = layout._title(texts, dense, bounds)
    reference = layout._title(texts, dense, bounds, compiled=False)
    assert kernel.dtype == reference.dtype and kernel.shape == reference.shape
    assert kernel.tobytes() == reference.tobytes()


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert layout._layout is not None
    assert callable(layout._layout.title_words)
    assert callable(layout._layout.window_mean)


@settings(max_examples=300, deadline=None)
@given(_batch())
def test_the_kernel_equals_the_python_reference(
        batch: tuple[list[str], np.ndarray, np.ndarray]) -> None:
    _both(*batch)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5), st.integers(200, 3000))
def test_long_lines_and_pages(words: list[str], repeat: int) -> None:
    """A page of many lines, one of them thousands of words long."""
    texts = [" ".join(words), " ".join(words * repeat), *(f"{w} line {i}" for i, w in
                                                          enumerate(words * 40))]
    dense = np.zeros((len(texts), len(DENSE)))
    dense[:, _D["log_words"]] = np.log1p(3)
    _both(texts, dense, doc_bounds([len(texts)]))


def test_a_planted_title() -> None:
    """Hand-checked values, so that both paths cannot agree on doing nothing."""
    texts = ["Menu", "Winter Trail Boots", "Our winter boots for every trail.",
             "Trail boots tested in WINTER snow.", "Contact"]
    dense = np.zeros((len(texts), len(DENSE)))
    dense[:, _D["log_words"]] = np.log1p([1, 3, 6, 6, 1])
    dense[:, _D["ends_terminal"]] = [0, 0, 1, 1, 0]
    for compiled in (True, False):
        out = layout._title(texts, dense, doc_bounds([5]), compiled=compiled)
        assert out[:, 0].tolist() == pytest.approx([-np.log1p(1), 0, np.log1p(1), np.log1p(2),
                                                    np.log1p(3)])
        # the title's "winter", "trail", "boots": line 2 has 3 of its 4 words ("every"), line 3
        # 3 of 5 ("tested", "snow"); "menu" and "contact" are single words, no headings
        assert out[:, 1].tolist() == [0.0, 1.0, 3 / 4, 3 / 5, 0.0]


def test_the_kernels_outputs() -> None:
    """The raw outputs: the title's line, distinct words per line (casefolded, 4+ word
    characters, "_" and digits included), words shared with the title; -1 where a document
    has no title (one line, or no recurring word)."""
    texts = ["ΣΊΣΥΦΟΣ Straße", "σίσυφοσ strasse snake_case", "snake_case 1234 abc",
             "lonely", "none here", "nothing shared"]
    best = np.full(3, 7, dtype=np.int64)
    sizes = np.full(6, 7, dtype=np.int64)
    shared = np.full(6, 7, dtype=np.int64)
    layout._layout.title_words(texts, np.array([0, 3, 4, 6]), np.ones(6, dtype=bool), best,
                               sizes, shared)
    assert best.tolist() == [0, -1, -1]
    assert sizes.tolist() == [2, 3, 2, 1, 2, 2]
    assert shared.tolist() == [2, 2, 0, 0, 0, 0]


def _args() -> dict[str, Any]:
    return {"texts": ["some words here", "more words", "third"],
            "bounds": np.array([0, 2, 3], np.int64), "heading": np.ones(3, dtype=bool),
            "best": np.full(2, 9, np.int64), "sizes": np.full(3, 9, np.int64),
            "shared": np.full(3, 9, np.int64)}


_BAD: dict[str, Callable[[dict[str, Any]], None]] = {
    "a text not a str": lambda a: a.__setitem__("texts", ["a", b"b", "c"]),
    "too few texts": lambda a: a.__setitem__("texts", ["a", "b"]),
    "bounds not from 0": lambda a: a.__setitem__("bounds", np.array([1, 2, 3], np.int64)),
    "bounds past the texts": lambda a: a.__setitem__("bounds", np.array([0, 2, 4], np.int64)),
    "bounds going back": lambda a: a.__setitem__("bounds", np.array([0, 4, 3], np.int64)),
    "bounds int32": lambda a: a.__setitem__("bounds", np.array([0, 2, 3], np.int32)),
    "bounds uint64": lambda a: a.__setitem__("bounds", np.array([0, 2, 3], np.uint64)),
    "bounds float": lambda a: a.__setitem__("bounds", np.array([0, 2, 3], np.float64)),
    "no bounds": lambda a: a.__setitem__("bounds", np.zeros(0, np.int64)),
    "heading int64": lambda a: a.__setitem__("heading", np.ones(3, np.int64)),
    "heading too short": lambda a: a.__setitem__("heading", np.ones(2, dtype=bool)),
    "best too long": lambda a: a.__setitem__("best", np.zeros(3, np.int64)),
    "sizes float": lambda a: a.__setitem__("sizes", np.zeros(3)),
    "best uint64": lambda a: a.__setitem__("best", np.zeros(2, np.uint64)),
    "shared too short": lambda a: a.__setitem__("shared", np.zeros(2, np.int64)),
}


@pytest.mark.parametrize("case", sorted(_BAD))
def test_arguments_that_do_not_fit_raise_and_write_nothing(case: str) -> None:
    args = _args()
    _BAD[case](args)
    before = {name: np.copy(args[name]) for name in ("best", "sizes", "shared")}
    with pytest.raises(ValueError, match="do not fit"):
        layout._layout.title_words(*args.values())
    for name, value in before.items():
        assert np.array_equal(args[name], value), name


def test_the_valid_arguments_are_valid() -> None:
    args = _args()
    layout._layout.title_words(*args.values())
    assert args["best"].tolist() == [0, -1]
    assert args["sizes"].tolist() == [3, 2, 1]
    assert args["shared"].tolist() == [3, 1, 0]


def test_read_only_outputs_and_a_text_that_is_no_sequence_are_refused() -> None:
    args = _args()
    args["best"].flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        layout._layout.title_words(*args.values())
    args = _args()
    args["texts"] = 3
    with pytest.raises(TypeError, match="sequence of str"):
        layout._layout.title_words(*args.values())
    assert (args["sizes"] == 9).all()


_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.1, 1e308, -1e308, 5e-324, float("nan"), float("inf")]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=6), st.data(), st.integers(-3, 12),
       st.integers(-3, 12), st.booleans(), st.sampled_from([np.float64, np.int64, np.bool_]))
def test_window_means_equal_the_numpy_reference(
        sizes: list[int], data: st.DataObject, before: int, after: int, self_too: bool,
        dtype: type) -> None:
    """Windows reaching past the document's edges, empty windows (NaN), negative half-widths
    (a window on one side), values of any float, int or bool."""
    n = sum(sizes)
    values = np.array(data.draw(st.lists(_VALUES, min_size=n, max_size=n)), dtype=np.float64)
    if dtype is not np.float64:
        values = np.nan_to_num(values, nan=0.0, posinf=7.0, neginf=-7.0)
        values = (values % 5).astype(dtype)
    seg = Segmented(doc_bounds(sizes))
    kernel = seg.window_mean(values, before, after, self_too)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in the reference's sums
        reference = seg.window_mean(values, before, after, self_too, compiled=False)
    assert kernel.dtype == reference.dtype == np.float64
    assert kernel.tobytes() == reference.tobytes()


def test_a_window_mean_by_hand() -> None:
    seg = Segmented(doc_bounds([4, 1]))
    values = np.array([1.0, np.nan, 3.0, 8.0, 5.0])
    for compiled in (True, False):
        got = seg.window_mean(values, 1, 1, self_too=False, compiled=compiled)
        assert got.tolist()[1:4] == [2.0, 8.0, 3.0]  # NaN skipped, row 4 in another document
        assert np.isnan(got[0]) and np.isnan(got[4])  # a NaN neighbour only; no neighbour
        got = seg.window_mean(values, 2, -1, compiled=compiled)  # the two rows above
        assert got.tolist()[1:4] == [1.0, 1.0, 3.0]
        assert np.isnan(got[0]) and np.isnan(got[4])


def _window_args() -> dict[str, Any]:
    return {"values": np.arange(5, dtype=np.float64), "bounds": np.array([0, 2, 5], np.int64),
            "before": 1, "after": 1, "self_too": True, "out": np.full(5, 9.0)}


_BAD_WINDOWS: dict[str, tuple[str, Any]] = {
    "values int64": ("values", np.arange(5, dtype=np.int64)),
    "values float32": ("values", np.arange(5, dtype=np.float32)),
    "values too short": ("values", np.arange(4, dtype=np.float64)),
    "bounds past the values": ("bounds", np.array([0, 2, 6], np.int64)),
    "bounds going back": ("bounds", np.array([0, 6, 5], np.int64)),
    "bounds not from 0": ("bounds", np.array([1, 2, 5], np.int64)),
    "bounds float": ("bounds", np.array([0, 2, 5], np.float64)),
    "no bounds": ("bounds", np.zeros(0, np.int64)),
    "out int64": ("out", np.full(5, 9, np.int64)),
    "out too long": ("out", np.full(6, 9.0)),
    "a huge window": ("before", 2**62),
}


@pytest.mark.parametrize("case", sorted(_BAD_WINDOWS))
def test_window_arguments_that_do_not_fit_raise_and_write_nothing(case: str) -> None:
    args = _window_args()
    name, value = _BAD_WINDOWS[case]
    args[name] = value
    before = np.copy(args["out"])
    with pytest.raises(ValueError, match="do not fit"):
        layout._layout.window_mean(*args.values())
    assert np.array_equal(args["out"], before)


def test_the_valid_window_arguments_are_valid() -> None:
    args = _window_args()
    layout._layout.window_mean(*args.values())
    assert args["out"].tolist() == [0.5, 0.5, 2.5, 3.0, 3.5]


_GAINS = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.1, -0.35, 3.5, 1e-300, -1e-300]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 150), max_size=6), st.data())
def test_main_blocks_equal_the_numpy_reference(sizes: list[int], data: st.DataObject) -> None:
    """Documents of any size (past numpy's pairwise blocks of 128 for the positive sum),
    ties between runs (few distinct gains), all-negative and all-zero documents."""
    n = sum(sizes)
    few = data.draw(st.booleans())
    gains = data.draw(st.lists(st.sampled_from([-1.0, 0.0, 1.0, 2.0]) if few else _GAINS,
                               min_size=n, max_size=n))
    seg = Segmented(doc_bounds(sizes))
    kernel = seg.main_block(np.array(gains, dtype=np.float64))
    reference = seg.main_block(np.array(gains, dtype=np.float64), compiled=False)
    for k, r in zip(kernel, reference, strict=True):
        assert k.dtype == r.dtype and k.tobytes() == r.tobytes()


def test_a_main_block_by_hand_and_a_gain_the_kernel_leaves_to_numpy() -> None:
    seg = Segmented(doc_bounds([5, 2]))
    gain = np.array([-1.0, 2.0, -0.5, 3.0, -4.0, -1.0, -2.0])
    for compiled in (True, False):
        inside, dist, share = seg.main_block(gain, compiled=compiled)
        assert inside.tolist() == [False, True, True, True, False, True, False]
        assert dist.tolist() == [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        assert share.tolist() == [0.9] * 5 + [0.0, 0.0]  # 4.5 of 5.0; nothing positive
    with pytest.raises(ValueError, match="do not fit"):  # not finite: the numpy path's
        layout._layout.main_block(np.array([1.0, np.inf]), np.array([0, 2], np.int64),
                                  np.zeros(2, np.uint8), np.zeros(2), np.zeros(2))
