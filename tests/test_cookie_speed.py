"""The classifier's fast cue matching (``re`` on a stand-in text, patterns built on first use)
gives exactly what the ``regex`` reference gives: evidence, dialog roles, template lines,
consent blocks and the cleaned output."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Document
from dedup.boilerplate import classifier as c
from dedup.boilerplate import rules
from dedup.boilerplate.classifier import (
    Phrases,
    button_only,
    consent_block,
    cookie_evidence,
    dialog_role,
    matchable,
    template_line,
)
from dedup.corpus import GeneratorConfig, generate
from dedup.normalize import tokens
from dedup.segment import split_paragraphs

PATTERNS: dict[str, Phrases] = {
    **{name: value for name, value in vars(c).items() if isinstance(value, Phrases)},
    **{f"_PROMPTS[{name}]": value for name, value in c._PROMPTS.items()},
}


def _every_phrase() -> list[str]:
    out = [p for group in rules.COOKIE.values() for by_lang in group.values() for p in by_lang]
    out += [p for by_lang in (rules.CONSENT_UI, rules.REPORTING, rules.SHARE) for phrases in
            by_lang.values() for p in phrases]
    out += [p for group in rules.PROMPTS.values() for by_lang in group.values() for p in by_lang]
    return sorted(set(out + list(rules.RIGHTS_RESERVED)))


PHRASES = _every_phrase()
# each word of a phrase alone: a line holding a phrase's anchor without the rest of it
PHRASE_WORDS = sorted({w for p in PHRASES for w in re.findall(r"\w+", p)})
# Characters where the engines' word boundaries differ or that stand in for them, and the
# separators, scripts and case changes cue lines meet.
NOISE = [" ", "  ", ", ", ". ", "_", "-", "/", "|", " · ", "»", "2025", "²", "½", "\u0301",
         "\u0345", "\u200d", "\u200c", "\u203f", "😀", "中文", "Ⓐ", "İ", "ß", "’", "“", "„",
         "\u00aa", "\x00", "\u3000", "\n", "\t", "é", "ǅ", "Σ", "\u0903"]


@st.composite
def cue_text(draw: st.DrawFn) -> str:
    """Cue phrases (any case) between noise: where the patterns match and just fail to."""
    parts = draw(st.lists(st.one_of(
        st.sampled_from(PHRASES).map(lambda p: p),
        st.sampled_from(PHRASES).map(str.upper),
        st.sampled_from(PHRASES).map(str.title),
        st.sampled_from(PHRASE_WORDS),
        st.sampled_from(NOISE),
        st.text(max_size=3)), min_size=1, max_size=14))
    return "".join(parts)


ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
TEXTS = st.one_of(cue_text(), ANY_TEXT)


def test_every_pattern_builds_its_fast_form() -> None:
    """No cue phrase holds a character the engines read apart, nor a stand-in."""
    assert len(PATTERNS) == 11  # six cue groups, consent UI, rights, share, two prompts
    for name, pattern in PATTERNS.items():
        assert isinstance(pattern.quick, re.Pattern), name
        assert isinstance(pattern.exact, regex.Pattern), name


def test_a_phrase_the_engines_read_apart_is_refused() -> None:
    with pytest.raises(ValueError, match="engines read apart"):
        Phrases(["cookie", "café\u0301"]).findall("a cookie")
    with pytest.raises(ValueError, match="engines read apart"):
        Phrases(["\u00aa ok"]).search("ok")
    assert Phrases(["cookie", "café\u0301"]).exact.findall("un café\u0301 ") == ["café\u0301"]


@settings(max_examples=300, deadline=None)
@given(st.characters())
def test_matchable_keeps_what_regex_calls_a_word_character(ch: str) -> None:
    out = matchable(ch)
    assert len(out) == 1
    assert (re.match(r"\w", out) is not None) == (regex.match(r"\w", ch) is not None)
    assert out == ch or ch > "\x7f"


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_each_pattern_matches_the_same_in_both_engines(text: str) -> None:
    low = text.lower()
    for name, pattern in PATTERNS.items():
        assert pattern.findall(low) == pattern.findall(low, fast=False), name
        fast, exact = pattern.search(low), pattern.search(low, fast=False)
        assert (fast and (fast.span(), fast.group())) == (exact and (exact.span(), exact.group()))


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_a_text_without_an_anchor_word_holds_no_match(text: str) -> None:
    """The skip is exact: every pattern's matches are there whenever it is not absent, and
    there are none when it is (no phrase with all its words in the text)."""
    low = matchable(text.lower())
    words = set(re.findall(r"\w+", low))
    for name, pattern in PATTERNS.items():
        assert pattern.anchors is not None, name
        if pattern.absent(words):
            assert pattern.quick.findall(low) == [], name
            assert pattern.exact.findall(text.lower()) == [], name


def test_the_anchors_are_each_phrases_longest_word() -> None:
    phrases = Phrases(["accept all", "cookie-einstellungen", "ok"])
    assert phrases.anchors == {"accept", "einstellungen", "ok"}
    assert phrases.absent({"reject", "cookie"}) and not phrases.absent({"cookie", "ok"})
    # an anchor without the rest of its phrase: no match possible, no pattern run
    assert phrases.absent({"accept", "cookie"}) and not phrases.absent({"all", "accept"})
    assert phrases.absent({"einstellungen"})
    assert not phrases.absent({"cookie", "einstellungen", "x"})
    assert Phrases(["ok", "--"]).anchors is None and not Phrases(["--"]).absent(set())


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_line_verdicts_are_the_reference_ones(text: str) -> None:
    toks = tokens(text)
    assert cookie_evidence(text, toks=toks) == cookie_evidence(text, toks=toks, fast=False)
    assert cookie_evidence(text) == cookie_evidence(text, fast=False)
    assert dialog_role(text, toks) == dialog_role(text, toks, fast=False)
    assert template_line(text, toks) == template_line(text, toks, fast=False)
    assert button_only(text, toks) == button_only(text, toks, fast=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PHRASES), min_size=1, max_size=6).map(" ".join),
       st.integers(1, 400), st.sampled_from(["", "😀", "\u0301", "中"]))
def test_long_lines_too(line: str, times: int, odd: str) -> None:
    text = ("We use cookies " + line + odd + " ") * times
    assert cookie_evidence(text) == cookie_evidence(text, fast=False)
    assert cookie_evidence(text).words == len(tokens(text))


def test_known_lines() -> None:
    """Lines whose verdict depends on a character the engines read apart."""
    for text in ("We use cookies\u0301 to improve your experience.",  # an accent: no "cookies"
                 "We use cookies² to improve your experience. Accept all Reject all",
                 "We use cookies\u200d, you agree",
                 "Accept all 😀 Reject all", "", "   ", "ＷＥ ＵＳＥ ＣＯＯＫＩＥＳ"):
        toks = tokens(text)
        assert cookie_evidence(text) == cookie_evidence(text, fast=False)
        assert dialog_role(text, toks) == dialog_role(text, toks, fast=False)
    # regex: "cookies\u0301" goes on with a word character, so "we use cookies" is no match
    # (re alone on the raw text would take it); "²" is a word character only in re
    low = "we use cookies\u0301, you agree to our use of cookies"
    assert cookie_evidence(low).strong == ("you agree to our use of cookies",)
    assert c._STRONG.quick.findall(low)[0] == "we use cookies"
    assert cookie_evidence("We use cookies², you agree").strong == ("we use cookies",)
    assert c._STRONG.quick.findall("we use cookies², you agree") == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(cue_text(), st.just(""), st.sampled_from(PHRASES)), min_size=1,
                max_size=12),
       st.lists(st.booleans(), min_size=12, max_size=12))
def test_consent_blocks_are_the_reference_ones(lines: list[str], flags: list[bool]) -> None:
    doc = Document("d", "\n".join(line.replace("\n", " ") for line in lines))
    doc.paragraphs = split_paragraphs(doc.text)
    cookie = flags[:len(doc.paragraphs)] + [False] * (len(doc.paragraphs) - len(flags))
    assert consent_block(doc, cookie) == consent_block(doc, cookie, fast=False)


def _reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every phrase pattern in ``regex`` (the caches emptied, so nothing fast is reused)."""
    findall, search = Phrases.findall, Phrases.search
    monkeypatch.setattr(Phrases, "findall", lambda self, low, fast=True: findall(self, low, False))
    monkeypatch.setattr(Phrases, "search", lambda self, low, fast=True: search(self, low, False))


def _clean(texts: list[str]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    c._scored.cache_clear()
    c._dialog_role.cache_clear()
    cleaner = Cleaner()
    try:
        for result in cleaner.clean_documents(texts):
            yield result.text, [(v.reason, v.detail) for v in result.verdicts]
    finally:
        cleaner.close()
        c._scored.cache_clear()
        c._dialog_role.cache_clear()


def test_cleaned_output_is_the_reference_one(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=60, seed=11, split="test"))]
    texts += ["We use cookies\u0301 to improve your experience.\nAccept all\nReject all\nHello",
              "Wir verwenden Cookies. Alle akzeptieren 😀\nEinstellungen\nAblehnen\n中文 text",
              "© 2025 Example\u200d Ltd. All rights reserved\nShare | Tweet | Copy link"]
    fast = list(_clean(texts))
    _reference(monkeypatch)
    reference = list(_clean(texts))
    assert fast == reference
    dropped = {reason for _, verdicts in fast for reason, _ in verdicts}
    assert {"boilerplate:cookie", "boilerplate:legal"} <= dropped  # the cues were exercised


def test_import_compiles_no_phrase_pattern() -> None:
    """Importing the classifier (every process, workers too) builds no pattern; the first
    line with a cue builds those it needs, in ``re`` only."""
    code = ("from dedup.boilerplate import classifier as c\n"
            "pats = [v for v in vars(c).values() if isinstance(v, c.Phrases)]\n"
            "pats += list(c._PROMPTS.values())\n"
            "print(sum(bool(set(vars(p)) & {'source', 'exact', 'quick'}) for p in pats))\n"
            "c.cookie_evidence('We use cookies. By continuing to browse you agree.')\n"
            "print(sum('quick' in vars(p) for p in pats), sum('exact' in vars(p) for p in pats))\n"
            "print(all('quick' in vars(p) for p in (c._TOPIC, c._STRONG, c._AGENT)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "0"
    # the groups whose anchors the line holds ("cookies", "continuing", "you"), no more
    assert 3 <= int(out[1]) < len(PATTERNS) and out[2] == "0" and out[3] == "True"


def _trie_reference(phrases: set[str]) -> str:
    """The trie alternation built one node at a time (as first written)."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [regex.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.text("ab c.(", min_size=1, max_size=6), min_size=1, max_size=10))
def test_the_trie_text_is_the_node_by_node_one(phrases: set[str]) -> None:
    assert c._trie(phrases) == _trie_reference(phrases)


def test_every_pattern_text_is_the_node_by_node_one() -> None:
    for name, pattern in PATTERNS.items():
        assert c._trie(pattern.phrases) == _trie_reference(set(pattern.phrases)), name
