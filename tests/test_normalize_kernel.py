"""The compiled tokens and keys of a document's lines (dedup._tokens.fill and bmp_tokens, by
dedup.normalize.kernel_table) equal dedup.normalize's Python path bit for bit, under every
NormConfig: ASCII, the table's blocks (accents, punctuation, full-width forms), and everything the
table leaves to the Python path (marks, spaceless scripts, Hangul, astral characters, ß)."""

from __future__ import annotations

import array
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import normalize
from dedup.cache import caches_off
from dedup.config import NormConfig
from dedup.normalize import KERNEL_BLOCKS, LONG_LINE, _second_elements, kernel_table, tokens
from dedup.segment import split_paragraphs
from dedup.types import Document, Paragraph

_CONFIGS = [NormConfig(casefold=c, strip_accents=s) for c in (True, False) for s in (True, False)]
# characters the table takes, or that sit next to them and must not change what it gives
_ALPHABET = ("aZ09 _-.,'!\t\x00\x7f\xa0\xa9\xb2\xbd\xdf\xe9\xc9\xf1\u0130\u0131\u0142\u01c4"
             "\u0301\u0308\u0327\u0345\u0390\u03a3\u03c2\u0410\u0439\u05d0\u0627\u064b\u0915"
             "\u093f\u0e01\u1100\u1161\u11a8\u1e9e\u1f80\u2019\u201c\u2026\u2122\u2160\u2460"
             "\u3000\u30a2\u4e2d\uac00\ufb01\ufe0f\uff21\uff41\uff10\uff01\U0001d400\U0001f600")
_MIXED = st.text(st.sampled_from(_ALPHABET), max_size=60)
_ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
_BLOCKS = st.text(st.one_of(*(st.characters(min_codepoint=lo, max_codepoint=hi,
                                            exclude_categories=["Cs"])
                              for lo, hi in KERNEL_BLOCKS)), max_size=60)
_TEXTS = st.one_of(_MIXED, _ANY, _BLOCKS, st.tuples(_BLOCKS, _MIXED, _ANY).map("".join))


def _rows(paras: list[Paragraph]) -> list[tuple[object, ...]]:
    return [(p.index, p.text, p.start, p.end, p.key, p.tokens, p.verdict) for p in paras]


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert normalize._tokens is not None
    assert callable(normalize._tokens.fill) and callable(normalize._tokens.bmp_tokens)


@settings(max_examples=600, deadline=None)
@given(_TEXTS, st.sampled_from(_CONFIGS))
def test_the_kernel_tokens_equal_the_python_tokens(text: str, cfg: NormConfig) -> None:
    fast = normalize._tokens.bmp_tokens(text, cfg.casefold, kernel_table(cfg))
    ref = tokens(text, cfg, compiled=False)
    if fast is not None:
        assert fast == ref
        assert type(fast) is tuple and all(type(t) is str for t in fast)
    assert tokens(text, cfg) == ref


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXTS, max_size=12).map("\n".join), st.sampled_from(_CONFIGS))
def test_normalize_equals_the_python_path(text: str, cfg: NormConfig) -> None:
    """Whole documents: every paragraph's tokens and key, whichever path each line took."""
    fast = Document("a", text, paragraphs=split_paragraphs(text))
    ref = Document("a", text, paragraphs=split_paragraphs(text, compiled=False))
    list(normalize.normalize([fast], cfg))
    list(normalize.normalize([ref], cfg, compiled=False))
    assert _rows(fast.paragraphs) == _rows(ref.paragraphs)
    assert fast.normalized and ref.normalized
    assert all(p.key == " ".join(p.tokens) for p in fast.paragraphs)


@pytest.mark.parametrize("cfg", _CONFIGS)
def test_every_accepted_character_in_context(cfg: NormConfig) -> None:
    """Each code point the table takes, alone, doubled and between letters, separators and
    other accepted characters, gives the Python path's tokens."""
    table = kernel_table(cfg)
    values = array.array("H")
    values.frombytes(table)
    accepted = [chr(cp) for cp in range(0x10000) if values[cp]]
    assert len(accepted) > 4000  # Latin, Greek, Cyrillic, punctuation, ...
    neighbours = "a\xe9\u2019.\xa0\uff21"
    for i, c in enumerate(accepted):
        n = neighbours[i % len(neighbours)]
        for text in (c, c + c, "x" + c + "Y", n + c, c + n, accepted[i - 1] + c):
            assert normalize._tokens.bmp_tokens(text, cfg.casefold, table) == \
                tokens(text, cfg, compiled=False), (hex(ord(c)), text)


def test_the_second_elements_cover_every_plane() -> None:
    """No composition outside the Basic Multilingual Plane has a second character inside it
    (the table's scan reads the BMP only)."""
    second = _second_elements()
    for cp in range(0x10000, 0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<") and len(d.split()) == 2:
            assert int(d.split()[1], 16) > 0xFFFF or int(d.split()[1], 16) in second


def test_tokens_by_hand() -> None:
    table = kernel_table(NormConfig())
    got = normalize._tokens.bmp_tokens("“Élan” — naïve ＡＢＣ… 2026", True, table)
    assert got == ("élan", "naïve", "abc", "2026")
    assert normalize._tokens.bmp_tokens("Straße", True, table) is None  # ß casefolds to ss
    assert normalize._tokens.bmp_tokens("中文", True, table) is None
    assert normalize._tokens.bmp_tokens("\U0001f600 a", True, table) is None
    assert normalize._tokens.bmp_tokens("A b", False, None) == ("A", "b")
    assert normalize._tokens.bmp_tokens("é", False, None) is None
    paras = split_paragraphs("Hello, World\nStraße\n\n“Caf\xe9”")
    assert normalize._tokens.fill(paras, True, LONG_LINE, table) == [1]
    assert [(p.tokens, p.key) for p in paras] == [(("hello", "world"), "hello world"),
                                                   ((), ""), ((), ""), (("café",), "café")]
    paras = split_paragraphs("a b\nc")
    assert normalize._tokens.fill(paras, True, 2, table) == [0]  # longer than max_len


def test_bad_arguments_raise() -> None:
    table = kernel_table(NormConfig())
    paras = split_paragraphs("a b")
    with pytest.raises(TypeError):
        normalize._tokens.fill(tuple(paras), True, LONG_LINE, table)
    with pytest.raises(ValueError, match="65536"):
        normalize._tokens.fill(paras, True, LONG_LINE, table[:-2])
    with pytest.raises(TypeError):
        normalize._tokens.fill(paras, True, LONG_LINE, "table")
    with pytest.raises(TypeError, match="not str"):
        normalize._tokens.fill([Paragraph(0, b"a", 0, 1)], True, LONG_LINE, table)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        normalize._tokens.fill([object()], True, LONG_LINE, table)
    with pytest.raises(TypeError):
        normalize._tokens.bmp_tokens(b"a", True, table)
    with pytest.raises(ValueError, match="65536"):
        normalize._tokens.bmp_tokens("a", True, b"")


def test_the_memo_gives_the_same_tokens_and_starts_afresh_when_full() -> None:
    table = kernel_table(NormConfig())
    memo: dict[str, tuple[tuple[str, ...], str]] = {}
    first = split_paragraphs("Home\nAbout us\nHome\n" + "x" * 20 + "\nStraße")
    assert normalize._tokens.fill(first, True, LONG_LINE, table, memo, 10, 2) == [4]
    # "Home" computed once, its repeat read back; the 20 characters are over memo_chars
    assert memo == {"Home": (("home",), "home"), "About us": (("about", "us"), "about us")}
    assert first[2].tokens is first[0].tokens
    again = split_paragraphs("About us\nContact\nHome")
    assert normalize._tokens.fill(again, True, LONG_LINE, table, memo, 10, 2) == []
    assert [(p.tokens, p.key) for p in again] == [(("about", "us"), "about us"),
                                                  (("contact",), "contact"), (("home",), "home")]
    assert memo == {"Contact": (("contact",), "contact"), "Home": (("home",), "home")}
    # the line left to the Python path is not filled
    assert _rows(first)[:4] == _rows(_reference("Home\nAbout us\nHome\n" + "x" * 20))
    assert (first[4].tokens, first[4].key) == ((), "")
    with pytest.raises(TypeError, match="memo"):
        normalize._tokens.fill(again, True, LONG_LINE, table, [], 10, 2)


def _reference(text: str) -> list[Paragraph]:
    doc = Document("a", text, paragraphs=split_paragraphs(text, compiled=False))
    list(normalize.normalize([doc], NormConfig(), compiled=False))
    return doc.paragraphs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["Home", "À propos", "中文", "Straße", "a b c", ""]),
                max_size=30).map("\n".join))
def test_normalize_with_and_without_caches_is_the_same(text: str) -> None:
    """Lines that recur (read from the memo, or from the Python path's cache) and the same
    document with the caches off."""
    docs = [Document(str(i), text, paragraphs=split_paragraphs(text)) for i in range(2)]
    list(normalize.normalize(docs))
    with caches_off():
        off = Document("off", text, paragraphs=split_paragraphs(text))
        list(normalize.normalize([off]))
    assert _rows(docs[0].paragraphs) == _rows(docs[1].paragraphs) == _rows(off.paragraphs) \
        == _rows(_reference(text))
