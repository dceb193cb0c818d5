"""The compiled lines of a document (dedup._segment) equal dedup.segment.split_paragraphs' Python
path: the same paragraphs (texts, offsets, blank verdicts) for every line ending, a leading BOM,
Unicode whitespace at the ends of a line (str.strip() semantics) and arbitrary Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import segment
from dedup.segment import BLANK, split_paragraphs
from dedup.types import Paragraph

# every character str.strip() trims (ASCII controls \x1c-\x1f, NEL, NBSP, U+2000-U+200A, line
# and paragraph separators, ...), line endings and a few that are not whitespace
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u3000\u200b\ufeff"
_PIECES = st.sampled_from(["\n", "\r", "\r\n", "\n\r", "\ufeff", " ", "\t", "a", "Bc",
                           "\u00e9", "\u4e2d", "\U0001f600", "\u2028", "\x85", "\u00a0"])
_LINEY = st.lists(st.one_of(_PIECES, st.sampled_from(_SPACES)), max_size=40).map("".join)
_ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
_TEXTS = st.one_of(_LINEY, _ANY, st.tuples(_LINEY, _ANY, _LINEY).map("".join),
                   _LINEY.map(lambda t: "\ufeff" + t))


def _rows(paras: list[Paragraph]) -> list[tuple[object, ...]]:
    return [(p.index, p.text, p.start, p.end, p.key, p.tokens, p.verdict) for p in paras]


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert segment._segment is not None
    assert callable(segment._segment.lines)
    assert segment._KERNEL_FIELDS  # the paragraphs' fields are the ones it sets


@settings(max_examples=500, deadline=None)
@given(_TEXTS)
def test_the_kernel_equals_the_python_paragraphs(text: str) -> None:
    got = split_paragraphs(text)
    assert _rows(got) == _rows(split_paragraphs(text, compiled=False))
    assert all(type(p.text) is str and type(p.start) is int for p in got)
    assert all((p.verdict is BLANK) == (p.text == "") for p in got)


@settings(max_examples=50, deadline=None)
@given(st.lists(_LINEY, min_size=1, max_size=5), st.integers(1000, 20_000))
def test_long_lines_are_split_the_same(pieces: list[str], width: int) -> None:
    text = "\r\n".join(p + "word " * width + p for p in pieces)
    assert _rows(split_paragraphs(text)) == _rows(split_paragraphs(text, compiled=False))


def test_lines_by_hand() -> None:
    text = "\ufeff a \r\n\u3000\u00a0\r\rb\u2028c\x1c\nlast"
    assert segment._segment.lines(text) == (["a", "", "", "b\u2028c", "last"],
                                            [1, 6, 9, 10, 15], [4, 8, 9, 14, 19], [1, 2])
    assert segment._segment.lines("") == ([], [], [], [])
    assert segment._segment.lines("\ufeff") == ([], [], [], [])
    assert segment._segment.lines("\n") == ([""], [0], [0], [0])
    assert [p.text for p in split_paragraphs(text)] == ["a", "", "", "b\u2028c", "last"]


@pytest.mark.parametrize("args", [(b"bytes",), (None,), (), ("a", "b")])
def test_bad_arguments_raise(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        segment._segment.lines(*args)


@pytest.mark.parametrize("args", [(b"a", Paragraph, BLANK), ("a", "Paragraph", BLANK),
                                  ("a", Paragraph), ("a", tuple, BLANK)])
def test_bad_paragraphs_arguments_raise(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):  # tuple: no such slots to set
        segment._segment.paragraphs(*args)


def test_paragraphs_need_writable_object_slots() -> None:
    from dataclasses import dataclass

    @dataclass(slots=True)
    class Short:  # no key, tokens or verdict
        index: int
        text: str
        start: int
        end: int

    with pytest.raises(TypeError, match="no slot key"):
        segment._segment.paragraphs("a", Short, BLANK)


def test_instances_are_the_classes_own_objects() -> None:
    """Frozen and plain slots dataclasses, fields of any value; with the kernel off the class
    makes them."""
    from dedup import types
    from dedup.types import DROP, Match, Verdict, instances

    rows = [(DROP, "duplicate:near", 0.9731, Match("d", 3), "detail"),
            ("keep", "content", 0.0, None, "")]
    made = instances(Verdict, rows)
    assert made == [Verdict(*row) for row in rows]
    assert all(type(v) is Verdict for v in made) and hash(made[0]) == hash(Verdict(*rows[0]))
    with pytest.raises(AttributeError):  # still frozen
        made[0].score = 1.0  # type: ignore[misc]
    assert instances(Match, []) == []
    saved, types._segment = types._segment, None
    try:
        assert instances(Verdict, rows) == made
    finally:
        types._segment = saved


@pytest.mark.parametrize("args", [
    ("Verdict", ("label",), []), (Paragraph, ("index",), []),  # not the class's __slots__
    (Paragraph, Paragraph.__slots__, [(1, "a", 0, 1)]),  # a row too short
    (Paragraph, Paragraph.__slots__, [[1, "a", 0, 1, "", (), None]]),  # not a tuple
    (tuple, (), [])])  # no __slots__
def test_bad_instances_arguments_raise(args: tuple[object, ...]) -> None:
    with pytest.raises((TypeError, AttributeError)):
        segment._segment.instances(*args)
