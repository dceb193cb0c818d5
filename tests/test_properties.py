"""Properties that must hold for any input (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config, clean_text

SENTENCES = [
    "The council approved the harbour bridge budget after a long debate on Monday.",
    "Opposition members argued that the cost had doubled since the plan was proposed.",
    "We use cookies to improve your experience. Accept all cookies",
    "Key quotes",
    "Yes.",
    "Construction is expected to begin next spring and to last about three years.",
    "“Robust” guarantees — said the minister, “for a lasting peace”.",
    "",
    "   ",
    "東京で会議が開かれた。",
]
# Lines drawn from a small pool (so repeats and runs happen) plus arbitrary text.
LINE = st.one_of(st.sampled_from(SENTENCES), st.text(max_size=60).map(
    lambda s: s.replace("\r", " ").replace("\n", " ")))
DOC = st.lists(LINE, max_size=25).map("\n".join)


@given(DOC)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_output_is_a_subsequence_of_trimmed_input_lines(text: str) -> None:
    cleaned = clean_text(text)
    out = cleaned.split("\n")[:-1] if cleaned else []
    src = iter(p.strip() for p in text.split("\n"))
    assert all(any(line == s for s in src) for line in out)


@given(DOC)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cleaning_clean_output_changes_nothing(text: str) -> None:
    # The rules judge each line by itself and its dialog; the page model judges a line by the
    # page around it, which cleaning changes (see test_page_model for its measured idempotence).
    rules = Config().replace(boilerplate={"classifier": "rules"})
    once = clean_text(text, rules)
    assert clean_text(once, rules) == once


@given(DOC)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_dropped_line_has_a_reason_and_every_duplicate_a_kept_match(text: str) -> None:
    result = Cleaner().clean(text)
    kept = {p.line for p, v in zip(result.doc.paragraphs, result.verdicts, strict=True)
            if not v.dropped}
    for para, v in result.removed:
        assert v.reason and v.reason != "content"
        if v.reason.startswith("duplicate:"):
            assert v.match is not None and v.match.line in kept and v.match.line < para.line


@given(DOC)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_same_input_and_config_give_the_same_output(text: str) -> None:
    cfg = Config()
    a = Cleaner(cfg).clean(text)
    b = Cleaner(cfg).clean(text)
    assert a.text == b.text and a.verdicts == b.verdicts
