from __future__ import annotations

import pytest

from dedup.bench.metrics import LineScores, adjusted_rand_index, prf


def test_prf() -> None:
    assert prf(8, 2, 2) == {"precision": 0.8, "recall": 0.8, "f1": 0.8, "tp": 8, "fp": 2,
                            "fn": 2}
    assert prf(0, 0, 0)["f1"] == 1.0


def test_line_scores_count_each_class() -> None:
    s = LineScores()
    labels = ["boilerplate:cookie", "content", "content", "duplicate", "boilerplate:nav"]
    lines = ["We use cookies", "Alpha beta gamma.", "Delta epsilon.", "Alpha beta gamma.",
             "Home | News"]
    s.add(labels, [False, True, False, False, True], lines, "en")
    out = s.summary()
    assert out["removal"] == prf(2, 1, 1)  # type: ignore[comparison-overlap]
    assert out["boilerplate"]["recall"] == 0.5  # type: ignore[index]
    assert out["duplicate"]["recall"] == 1.0  # type: ignore[index]
    assert out["content_lost"] == 0.5
    assert out["recall_by_category"] == {"cookie": 1.0, "nav": 0.0}
    # output tokens: alpha beta gamma home news (5); gold: alpha beta gamma delta epsilon (5)
    assert out["token_f1"] == pytest.approx(0.6)


def test_line_scores_reject_misaligned_input() -> None:
    with pytest.raises(ValueError):
        LineScores().add(["content"], [True, False], ["a"])


def test_adjusted_rand_index() -> None:
    assert adjusted_rand_index(list("aabb"), list("xxyy")) == 1.0
    assert adjusted_rand_index(list("aabb"), list("xyxy")) < 0.0 + 1e-9
    assert 0 < adjusted_rand_index(list("aaabbb"), list("xxxyyz")) < 1
