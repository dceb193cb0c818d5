"""In-document dedup on planted duplicates: exact, near, runs, truncation, legitimate repeats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config
from dedup.lsh import crowded_groups

P = [
    "The city council approved the new harbour bridge budget on Monday after a long debate.",
    "Opposition members argued that the cost had doubled since the project was first proposed.",
    "Construction is expected to begin next spring and to last roughly three years in total.",
    "The mayor said the bridge would cut commuting times for thousands of residents each day.",
    "Local businesses welcomed the vote, saying the delays had already hurt trade on the quay.",
]


# The dedup stage alone: boilerplate classification is tested in its own files.
ONLY_DEDUP = Config().replace(boilerplate={"enabled": False})


def cleaner(cfg: Config | None = None) -> Cleaner:
    return Cleaner(cfg or ONLY_DEDUP)


def reasons(text: str, cfg: Config | None = None) -> list[str]:
    return [v.reason for v in cleaner(cfg).clean(text).verdicts]


def test_exact_duplicate_paragraph_is_dropped_and_points_at_the_first() -> None:
    result = cleaner().clean("\n".join([P[0], P[1], P[0]]))
    v = result.verdicts[2]
    assert v.reason == "duplicate:exact" and v.match is not None and v.match.line == 1
    assert result.text == P[0] + "\n" + P[1] + "\n"


def test_near_duplicate_with_a_dropped_word_is_dropped_with_its_similarity() -> None:
    edited = P[0].replace(" new", "")
    result = cleaner().clean("\n".join([P[0], P[1], edited]))
    v = result.verdicts[2]
    assert v.reason == "duplicate:near"
    assert 0.7 <= v.score < 1.0
    assert v.match is not None and v.match.line == 1


def test_below_threshold_is_kept() -> None:
    other = "The council also approved a new budget for the city library on Monday evening."
    assert reasons("\n".join([P[0], other])) == ["content", "content"]


def test_short_lines_repeat_legitimately_outside_runs() -> None:
    lines = ["Q: Did you expect the result?", "Yes.", P[0], "Q: Will you stand again?", "Yes.",
             "Background", P[1], "Background", P[2]]
    assert reasons("\n".join(lines)) == ["content"] * len(lines)


def test_a_repeated_run_takes_its_short_lines_with_it() -> None:
    body = [P[0], "Key facts", P[1], P[2]]
    text = "\n".join(body + body)
    assert reasons(text)[4:] == ["duplicate:exact", "duplicate:run", "duplicate:exact",
                                 "duplicate:exact"]
    assert cleaner().clean(text).text == "\n".join(body) + "\n"


def test_short_line_at_the_end_of_a_run() -> None:
    body = [P[0], P[1], "Key quotes"]
    result = cleaner().clean("\n".join(body + body[:3]))
    assert [v.reason for v in result.verdicts[3:]] == ["duplicate:exact", "duplicate:exact",
                                                        "duplicate:run"]
    run_detail = result.verdicts[5].detail
    assert "run of 3 lines" in run_detail


def test_truncated_copy_ends_with_a_prefix_of_its_source() -> None:
    cut = P[2][: len(P[2]) // 2]
    result = cleaner().clean("\n".join([P[0], P[1], P[2], P[0], P[1], cut]))
    assert result.verdicts[5].reason == "duplicate:truncated"
    assert result.text == "\n".join(P[:3]) + "\n"


def test_edited_line_inside_a_run_is_matched_by_similarity() -> None:
    edited = "Opposition members argued the cost had doubled."  # short, heavily cut
    result = cleaner().clean("\n".join([P[0], P[1], P[2], P[0], edited, P[2]]))
    assert result.verdicts[4].reason == "duplicate:run"


def test_a_pull_quote_repeating_one_sentence_is_kept() -> None:
    para = ("Rescue teams worked through the night. \"We will not stop until everyone is found,\""
            " the fire chief said, adding that the weather was making the search harder.")
    quote = "\"We will not stop until everyone is found,\" the fire chief said."
    assert reasons("\n".join([para, P[0], quote])) == ["content"] * 3


def test_boilerplate_between_copies_does_not_break_a_run() -> None:
    banner = "We use cookies to improve your experience. Accept all cookies"
    text = "\n".join([P[0], "Key facts", P[1], P[0], banner, "Key facts", P[1]])
    rules = Config().replace(boilerplate={"classifier": "rules"})
    assert reasons(text, rules)[3:] == ["duplicate:exact", "boilerplate:cookie", "duplicate:run",
                                        "duplicate:exact"]


def test_keep_first_is_order_dependent_as_documented() -> None:
    shorter = P[3].replace("thousands of ", "")
    forward = cleaner().clean("\n".join([P[3], shorter]))
    backward = cleaner().clean("\n".join([shorter, P[3]]))
    assert forward.text == P[3] + "\n"
    assert backward.text == shorter + "\n"


def test_threshold_config_changes_decisions() -> None:
    edited = P[0].replace("on Monday after a long debate", "after a debate")
    strict = ONLY_DEDUP.replace(lsh={"threshold": 0.95})
    assert reasons("\n".join([P[0], edited]), strict) == ["content", "content"]
    lax = ONLY_DEDUP.replace(lsh={"threshold": 0.4})
    assert reasons("\n".join([P[0], edited]), lax)[1] == "duplicate:near"


@given(st.lists(st.sampled_from("abcdef"), max_size=10), st.lists(st.sampled_from("abcdef"),
                                                                   max_size=10),
       st.sampled_from([0.0, 0.3, 0.6, 0.9, 1.0]))
def test_similarity_bounds_never_change_a_decision(a: list[str], b: list[str], floor: float
                                                   ) -> None:
    """The cheap bounds only skip pairs whose full ratio is below the floor; above it the
    value is difflib's own."""
    from difflib import SequenceMatcher

    from dedup.cluster import _similarity
    from dedup.types import Paragraph

    pa, pb = Paragraph(0, " ".join(a), 0, 0), Paragraph(1, " ".join(b), 0, 0)
    pa.tokens, pb.tokens = tuple(a), tuple(b)
    full = SequenceMatcher(None, pa.tokens, pb.tokens, autojunk=False).ratio()
    got = _similarity(pa, pb, floor)
    assert (got >= floor) == (full >= floor)
    if full >= floor:
        assert got == full



def _pairing_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of every all-pairs LSH call the in-document stage makes from now."""
    import dedup.cluster as cluster

    seen: list[int] = []
    from dedup.lsh import candidate_pair_arrays as real

    def counting(keys: np.ndarray, groups: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        seen.append(len(keys))
        return real(keys, groups)

    monkeypatch.setattr(cluster, "candidate_pair_arrays", counting)
    return seen


def test_a_paragraph_repeated_thousands_of_times_in_one_page_stays_linear(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact copies are matched by their key: only the first copy of a text enters LSH, so a
    paragraph repeated 3,000 times makes no candidate pairs (it made 4.5 million per band)."""
    seen = _pairing_sizes(monkeypatch)
    lines = [P[0] if i % 3 else f"line number {i} of the page" for i in range(9000)]
    lines[7] = P[0].replace("Monday", "Tuesday")
    result = cleaner().clean("\n".join(lines))
    assert seen == [2]  # the paragraph's first copy and its variant, no other row
    copies = [v for line, v in zip(lines, result.verdicts, strict=True) if line == P[0]]
    assert not copies[0].dropped and all(v.reason == "duplicate:exact" for v in copies[1:])
    assert all(v.match is not None and v.match.line == 2 for v in copies[1:])
    variant = result.verdicts[7]
    assert variant.reason == "duplicate:near" and variant.match is not None
    assert variant.match.line == 2


@given(st.lists(st.tuples(st.integers(0, 4), st.lists(st.integers(0, 40), max_size=4)),
                min_size=1, max_size=40),
       st.integers(0, 3))
def test_crowded_documents_find_the_same_matches_against_their_kept_lines(
        rows: list[tuple[int, list[int]]], limit: int) -> None:
    """A document whose paragraphs crowd one band key looks its candidates up among its kept
    paragraphs instead of pairing them all: the verdicts are the same as with all pairs."""
    import dedup.cluster as cluster

    words = [w for p in P for w in p.split()]
    lines = []
    for template, edits in rows:
        tokens = P[template].split()
        for e in edits:
            tokens[e % len(tokens)] = words[(e * 7) % len(words)]
        lines.append(" ".join(tokens))
    text = "\n".join(lines)
    saved = cluster.CROWDED
    try:
        cluster.CROWDED = 10 ** 9  # every document pairs all its candidates
        paired = [(v.reason, v.score, v.match) for v in cleaner().clean(text).verdicts]
        cluster.CROWDED = limit  # every document with a shared band key is crowded
        looked_up = [(v.reason, v.score, v.match) for v in cleaner().clean(text).verdicts]
    finally:
        cluster.CROWDED = saved
    assert looked_up == paired


def test_thousands_of_variants_of_a_template_in_one_page_are_not_paired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Variants of one paragraph crowd its band keys: none of them goes through all-pairs."""
    seen = _pairing_sizes(monkeypatch)
    words = P[0].split()
    lines = [" ".join([*words[:i % len(words)], f"w{i}", *words[i % len(words) + 1:]])
             for i in range(2000)]
    result = cleaner().clean("\n".join(lines))
    assert seen == [0]
    assert sum(not v.dropped for v in result.verdicts) < 20


def _crowded_reference(keys: np.ndarray, groups: np.ndarray, limit: int) -> np.ndarray:
    """Every (group, key) pair's rows counted by one lexicographic sort (as first written)."""
    owner = np.repeat(groups.astype(np.int64), keys.shape[1])
    flat = keys.ravel()
    order = np.lexsort((flat, owner))
    f, o = flat[order], owner[order]
    starts = np.flatnonzero(np.r_[True, (f[1:] != f[:-1]) | (o[1:] != o[:-1])])
    return np.unique(o[starts[np.diff(np.r_[starts, len(f)]) > limit]])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.lists(st.integers(0, 6), min_size=3,
                                                      max_size=3)), min_size=1, max_size=60),
       st.integers(0, 8))
def test_crowded_groups_equal_the_reference(rows: list[tuple[int, list[int]]],
                                            limit: int) -> None:
    """Few distinct keys and groups, so keys are shared within and across groups: the plain
    sort's pre-filter never changes which groups are crowded."""
    groups = np.array(sorted(g for g, _ in rows), dtype=np.int64)
    keys = np.array([k for _, k in rows], dtype=np.uint64)
    got = crowded_groups(keys, groups, limit)
    assert got.dtype == np.int64
    assert got.tolist() == _crowded_reference(keys, groups, limit).tolist()
