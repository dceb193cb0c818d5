"""The compiled ASCII tokens (dedup._tokens) equal dedup.normalize.tokens' Python path: for
ASCII lines under every normalisation setting; other lines go to the Python path."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import normalize
from dedup.config import NormConfig
from dedup.normalize import LONG_LINE, tokens

_CONFIGS = [NormConfig(casefold=c, strip_accents=s) for c in (True, False) for s in (True, False)]
_ASCII = st.text(st.characters(max_codepoint=127), max_size=80)
_WORDY = st.text(st.sampled_from(string.ascii_letters + string.digits + " _-.,'!\t\x00\x7f"),
                 max_size=80)
_ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


def test_the_kernel_is_built() -> None:
    """The dev install builds it: a broken build fails here instead of falling back quietly."""
    assert normalize._tokens is not None
    assert callable(normalize._tokens.ascii_tokens)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_ASCII, _WORDY, _ANY, st.tuples(_WORDY, _ANY).map("".join)),
       st.sampled_from(_CONFIGS))
def test_the_kernel_equals_the_python_tokens(text: str, cfg: NormConfig) -> None:
    """ASCII of every code point (controls, "_", DEL), mixed-case words and digits, and
    non-ASCII text (which the kernel hands back: None)."""
    got = tokens(text, cfg)
    assert got == tokens(text, cfg, compiled=False)
    assert type(got) is tuple and all(type(t) is str for t in got)
    fast = normalize._tokens.ascii_tokens(text, cfg.casefold)
    assert fast is None if not text.isascii() else fast == got


def test_ascii_tokens_by_hand() -> None:
    text = "Hello, WORLD_2026 -- a.B c\tx9Y"
    assert normalize._tokens.ascii_tokens(text, True) == \
        ("hello", "world", "2026", "a", "b", "c", "x9y")
    assert normalize._tokens.ascii_tokens(text, False) == \
        ("Hello", "WORLD", "2026", "a", "B", "c", "x9Y")
    assert normalize._tokens.ascii_tokens("", True) == ()
    assert normalize._tokens.ascii_tokens("naïve", True) is None


def test_a_long_line_takes_the_shared_tokens_path() -> None:
    """Past LONG_LINE the Python path shares one string per distinct token."""
    text = "word " * (LONG_LINE // 5 + 1)
    got = tokens(text)
    assert len(got) == LONG_LINE // 5 + 1 and len({id(t) for t in got}) == 1


@pytest.mark.parametrize("args", [(b"bytes", True), (None, True), ("text",), ()])
def test_bad_arguments_raise(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        normalize._tokens.ascii_tokens(*args)
