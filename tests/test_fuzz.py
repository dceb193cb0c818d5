"""The whole pipeline on random and adversarial text (hypothesis): it never crashes, keeps only
input lines (trimmed, in order), gives every dropped line a reason, and is deterministic."""

from __future__ import annotations

import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup import Cleaner
from dedup.pipeline import CleanResult

# Scripts, each as a range of code points that hypothesis draws letters from.
SCRIPTS = {
    "latin": (0x41, 0x24F),
    "cjk": (0x4E00, 0x9FFF),
    "arabic": (0x600, 0x6FF),
    "devanagari": (0x900, 0x97F),
    "thai": (0xE00, 0xE7F),
}
COMBINING = st.characters(min_codepoint=0x300, max_codepoint=0x36F)
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff"]
RTL_MARKS = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
             "\u2067", "\u2068", "\u2069", "\u061c"]
PUNCTUATION = string.punctuation + "“”‘’«»‹›—–…¡¿·•¶§†‡※、。，！？：；「」『』"
BLANKS = ["", " ", "\t", "\u3000", "\u00a0", " \t ", "\u200b"]
# Any code point UTF-8 can encode (no surrogates: text read from UTF-8 never holds one), line
# breaks of every kind included.
ANY = st.characters(codec="utf-8")

script_letter = st.sampled_from(sorted(SCRIPTS)).flatmap(
    lambda name: st.characters(min_codepoint=SCRIPTS[name][0], max_codepoint=SCRIPTS[name][1]))
# A word: letters of one script or another, with combining marks, zero-width and RTL marks.
word = st.lists(st.one_of(script_letter, script_letter, script_letter, COMBINING,
                          st.sampled_from(ZERO_WIDTH), st.sampled_from(RTL_MARKS)),
                min_size=1, max_size=10).map("".join)
sentence = st.lists(word, min_size=1, max_size=20).map(" ".join)
# A very long line: a few words repeated hundreds of times (up to some 20 000 characters).
long_line = st.tuples(st.lists(word, min_size=1, max_size=8), st.integers(50, 300)).map(
    lambda t: " ".join(t[0] * t[1]))
punctuation_line = st.text(alphabet=PUNCTUATION, min_size=1, max_size=40)
line = st.one_of(
    sentence, sentence, punctuation_line, st.sampled_from(BLANKS), long_line,
    st.text(ANY, max_size=40),  # any code point, line breaks of every kind included
)
eol = st.sampled_from(["\n", "\r\n", "\r"])
many_blank = st.integers(2, 40).map(lambda n: "\n" * n)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Lines of all kinds, some repeated (so the dedup stages have work), joined by any line
    ending or by runs of blank lines, sometimes after a byte order mark."""
    lines = draw(st.lists(line, max_size=30))
    repeat = draw(st.booleans())
    if lines and repeat:
        lines += draw(st.lists(st.sampled_from(lines), max_size=10))  # exact repeats
        lines = draw(st.permutations(lines))
    text = ""
    for item in lines:
        text += item + draw(st.one_of(eol, eol, many_blank))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return ("\ufeff" if draw(st.booleans()) else "") + text


def input_lines(text: str) -> list[str]:
    """The document's lines as the segmenter reads them: \\r\\n, \\r and \\n end a line (other
    Unicode separators do not); a leading byte order mark is not text."""
    text = text.removeprefix("\ufeff")
    parts = re.split(r"\r\n|\r|\n", text)
    if parts[-1] == "":
        parts.pop()  # the text ends with a line ending, or is empty
    return parts


def check(text: str, result: CleanResult) -> None:
    lines = input_lines(text)
    assert [p.text for p in result.doc.paragraphs] == [x.strip() for x in lines]
    assert len(result.verdicts) == len(lines)
    out = result.text.split("\n")[:-1] if result.text else []
    assert result.text == "" or result.text.endswith("\n")
    # The output is the kept lines, trimmed, in order: a subsequence of the input lines.
    kept = [p.text for p, v in zip(result.doc.paragraphs, result.verdicts, strict=True)
            if not v.dropped]
    assert out == kept
    assert all(out)
    rest = iter(x.strip() for x in lines)
    assert all(any(o == x for x in rest) for o in out)
    # Every dropped line has a reason.
    for para, v in result.removed:
        assert v.reason and v.reason != "content", (para, v)
        if v.reason.startswith("duplicate:") and v.match is not None \
                and v.match.doc == result.doc.id:
            assert v.match.line < para.line


SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@given(documents())
@SETTINGS
def test_one_document_never_crashes_and_keeps_the_invariants(text: str) -> None:
    result = Cleaner().clean(text)
    check(text, result)
    again = Cleaner().clean(text)
    assert again.text.encode() == result.text.encode()
    assert again.verdicts == result.verdicts


@given(st.lists(documents(), min_size=2, max_size=6))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_several_documents_never_crash_and_keep_the_invariants(texts: list[str]) -> None:
    results = list(Cleaner().clean_documents(texts))
    assert len(results) == len(texts)
    for text, result in zip(texts, results, strict=True):
        check(text, result)
    again = list(Cleaner().clean_documents(texts))
    assert [r.text.encode() for r in again] == [r.text.encode() for r in results]
    assert [r.verdicts for r in again] == [r.verdicts for r in results]


@given(st.text(ANY, max_size=300))
@SETTINGS
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    check(text, Cleaner().clean(text))
