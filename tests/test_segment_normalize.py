from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.normalize import TOKEN, tokens
from dedup.segment import split_paragraphs


def test_line_endings_all_split_the_same() -> None:
    for sep in ("\n", "\r\n", "\r"):
        paras = split_paragraphs(sep.join(["one", "  two  ", "", "three"]) + sep)
        assert [p.text for p in paras] == ["one", "two", "", "three"]
        assert [p.line for p in paras] == [1, 2, 3, 4]
        assert paras[2].verdict is not None and paras[2].verdict.reason == "blank"


def test_offsets_point_into_the_original_text() -> None:
    text = "\ufeffalpha\r\n  beta\rgamma"
    for p in split_paragraphs(text):
        assert text[p.start : p.end].strip() == p.text


def test_unicode_line_separator_stays_inside_a_paragraph() -> None:
    assert [p.text for p in split_paragraphs("a\u2028b\nc")] == ["a\u2028b", "c"]


def test_normalisation_ignores_case_quotes_dashes_and_spacing() -> None:
    a = tokens('He said "robust"  security - guarantees.')
    b = tokens("he said “Robust” security — guarantees")
    assert a == b == ("he", "said", "robust", "security", "guarantees")


def test_nfkc_and_apostrophes() -> None:
    assert tokens("ﬁnal Ukraine’s") == tokens("final Ukraine's")


def test_scripts_without_spaces_are_tokenised_per_character() -> None:
    assert tokens("東京で会議") == ("東", "京", "で", "会", "議")
    assert tokens("abc東京") == ("abc", "東", "京")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cn")), max_size=80))
@settings(max_examples=300, deadline=None)
def test_fast_tokeniser_equals_the_reference_pattern(text: str) -> None:
    # Characters the two Unicode databases agree on (regex may know newer code points).
    folded = unicodedata.normalize("NFKC", text).casefold()
    assert tokens(text) == tuple(TOKEN.findall(folded))


def _regex_split(text: str) -> list[tuple[int, str, int, int, bool]]:
    """The line pattern applied match by match (the path text with carriage returns takes)."""
    from dedup.segment import _LINE

    shift = 1 if text.startswith("\ufeff") else 0
    text = text[shift:]
    out: list[tuple[int, str, int, int, bool]] = []
    pos = 0
    while pos < len(text):
        m = _LINE.match(text, pos)
        assert m is not None
        body = m.group().rstrip("\r\n")
        out.append((len(out), body.strip(), pos + shift, pos + shift + len(body),
                    not body.strip()))
        pos = m.end()
    return out


@given(st.text(alphabet=st.sampled_from(["a", "b", " ", "\n", "\t", "\ufeff", "\u2028", "é"]),
               max_size=30))
def test_the_newline_fast_path_cuts_like_the_line_pattern(text: str) -> None:
    from dedup.segment import BLANK, split_paragraphs

    got = [(p.index, p.text, p.start, p.end, p.verdict is BLANK) for p in split_paragraphs(text)]
    assert got == _regex_split(text)
    crlf = text.replace("\n", "\r\n")  # the pattern's own path: same lines, other offsets
    assert [p.text for p in split_paragraphs(crlf)] == [g[1] for g in got]
