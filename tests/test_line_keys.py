"""Line keys without paragraphs or tokens (``dedup._tokens.keys``, ``normalize.line_keys``,
``segment.line_texts``, ``LineCounts.text_keys``/``add_texts``) equal what segmenting and
normalising the document gives, and the line counts built from them are the same counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import normalize
from dedup.boilerplate.repetition import LineCounts
from dedup.config import NormConfig
from dedup.normalize import LONG_LINE, kernel_table, line_keys, tokens
from dedup.normalize import normalize as normalize_stage
from dedup.segment import line_texts, segment, split_paragraphs
from dedup.types import Document

_CONFIGS = [NormConfig(casefold=c, strip_accents=s) for c in (True, False) for s in (True, False)]
# ASCII, Latin/Greek/Cyrillic with accents and marks, quotes and dashes, CJK and astral
# characters (left to the Python path), line endings of every kind, a BOM
_ALPHABET = st.sampled_from(list("aZ09 _-.,'!\t") + list("àÉßİıĳﬁΣσςЖё\u0301\u200d“”—«»½²")
                            + ["中", "ア", "ไ", "😀", "\u00a0", "\u2028", "\r", "\n", "\r\n",
                               "\ufeff"])
_TEXT = st.lists(_ALPHABET, max_size=120).map("".join)
_LINE = st.lists(_ALPHABET.filter(lambda c: c not in ("\r", "\n", "\r\n")),
                 max_size=60).map("".join)


def test_the_kernel_function_is_built() -> None:
    assert normalize._tokens is not None and callable(normalize._tokens.keys)


@settings(max_examples=400, deadline=None)
@given(st.lists(_LINE, max_size=8), st.sampled_from(_CONFIGS))
def test_line_keys_are_the_joined_tokens(texts: list[str], cfg: NormConfig) -> None:
    """With the kernel and with the Python path: the key is " ".join(tokens), the count
    len(tokens), for every line."""
    want = [tokens(t, cfg, compiled=False) for t in texts]
    for compiled in (True, False):
        keys, counts = line_keys(list(texts), cfg, compiled)
        assert keys == [" ".join(t) for t in want]
        assert counts == [len(t) for t in want]
        assert all(type(k) is str for k in keys)


def test_the_kernel_leaves_what_it_cannot_take_to_python() -> None:
    table = kernel_table(NormConfig())
    keys, counts = normalize._tokens.keys(["Hello, World!", "Ünïcode ok", "中文", "x" * 14,
                                           ""], True, 13, table)
    assert keys == ["hello world", "ünïcode ok", None, None, ""]
    assert counts == [2, 2, 0, 0, 0]
    assert line_keys(["中文", "x" * (LONG_LINE + 1)])[1] == [2, 1]


@pytest.mark.parametrize("args", [(("a",), True, 10, None), (["a", 3], True, 10, None),
                                  (["a"], True, 10, b"short")])
def test_bad_arguments_raise(args: tuple[object, ...]) -> None:
    with pytest.raises((TypeError, ValueError)):
        normalize._tokens.keys(*args)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_line_texts_are_the_non_blank_paragraphs(text: str) -> None:
    want = [p.text for p in split_paragraphs(text, compiled=False) if p.text]
    assert line_texts(text) == want
    assert line_texts(text, compiled=False) == want


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.sampled_from(_CONFIGS))
def test_text_keys_equal_the_documents_keys(text: str, cfg: NormConfig) -> None:
    (doc,) = normalize_stage(segment([Document("d", text)]), cfg)
    assert LineCounts.text_keys(text, cfg) == LineCounts.document_keys(doc)


def _sketch(counts: LineCounts) -> tuple[bytes, bytes, bytes, int]:
    return counts.table.tobytes(), counts.pairs.tobytes(), counts.bloom.tobytes(), \
        counts.documents


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(
    ["Home | News | Sport", "Accept all cookies", "", "  ", "Share this article",
     "A long sentence-like line that holds more than twelve words of real content here.",
     "Another long line of content, with its own words, that also runs past twelve words.",
     "Ünïcode line ✓", "中文行"]), max_size=12).map("\n".join), min_size=1, max_size=12))
def test_add_texts_counts_as_add_documents(texts: list[str]) -> None:
    """The same counter, pair counter and Bloom filter, byte for byte."""
    by_docs = LineCounts(width=1 << 10, bloom_bits=1 << 12)
    by_docs.add_documents(normalize_stage(segment(Document(str(i), t)
                                                  for i, t in enumerate(texts))))
    by_texts = LineCounts(width=1 << 10, bloom_bits=1 << 12)
    by_texts.add_texts(texts)
    assert _sketch(by_texts) == _sketch(by_docs)
    assert np.any(by_texts.table) == any(t.strip() for t in texts)
