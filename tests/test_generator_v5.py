"""Generator v5: a remixed article's lines, title included, are near-duplicates of nothing a
page of the corpus can show, so the gold may call them content."""

from __future__ import annotations

import importlib

import pytest

from dedup.corpus import GeneratorConfig, generate, load_articles

gen = importlib.import_module("dedup.corpus.generate")


def _jaccard(a: str, b: str) -> float:
    x, y = gen._shingles(a), gen._shingles(b)
    return len(x & y) / len(x | y) if x | y else 0.0


def test_generator_version() -> None:
    assert gen.GENERATOR_VERSION == 5


def test_split_parts_are_runs_and_sentences() -> None:
    text = "One two three. Four five six. Seven eight nine."
    assert set(gen._split_parts(text)) == {
        "One two three.", "Four five six. Seven eight nine.",
        "One two three. Four five six.", "Seven eight nine.", "Four five six."}


def test_shingle_index_finds_what_a_scan_finds() -> None:
    texts = ["the storm closed the coast road overnight", "a new bridge opens in march",
             "the storm closed the road", "fares rise by ten percent next year"]
    index = gen._ShingleIndex()
    for t in texts:
        index.add(t)
    for probe in ["the storm closed the coast road", "a bridge opens", "ten percent fares",
                  "fares rise by ten percent next year and later"]:
        scan = any(_jaccard(probe, t) >= gen.REMIX_OVERLAP for t in texts)
        assert index.near(probe) == scan, probe


@pytest.mark.parametrize("split", ["dev", "test"])
def test_remix_lines_are_fresh(split: str) -> None:
    # Every remix title and line against every whole line, split part and sentence of the pool.
    arts = load_articles(split=split)
    forms: dict[str, list[str]] = {}
    for a in arts:
        out = forms.setdefault(a.lang, [])
        out.append(a.title)
        for _, t in a.lines:
            out += [t, *gen._split_parts(t)]
    remixes: dict[str, list[str]] = {}
    for doc, gold in generate(GeneratorConfig(docs=150, seed=3, split=split)):
        if not gold["cluster"].startswith("remix-"):
            continue
        lines = doc["text"].split("\n")
        for text, label, src in zip(lines, gold["labels"], gold["sources"], strict=True):
            if label == "content" and src.startswith("remix-"):
                remixes.setdefault(doc["lang"], []).append(text)
    assert sum(len(v) for v in remixes.values()) > 100
    for lang, lines in remixes.items():
        for line in set(lines):
            worst = max(_jaccard(line, f) for f in forms[lang])
            assert worst < gen.REMIX_OVERLAP, (line, worst)
