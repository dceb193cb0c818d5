"""The benchmark's low-repetition corpus, the cache switch and the speed-per-core section."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.batch import run_clean
from dedup.bench import harness
from dedup.bench.harness import (
    SPEED_RUNS,
    BenchConfig,
    markdown,
    run_bench,
    speed_markdown,
    speed_section,
    write_results,
)
from dedup.bench.lowrep import (
    EDIT_MIN_WORDS,
    build_lowrep,
    corpus_sha256,
    edit_page,
    from_generator,
    from_real_pages,
    repetition,
)
from dedup.cache import caches_off, caching
from dedup.cli import main
from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.errors import ConfigError
from dedup.pipeline import Cleaner
from dedup.types import Document

# The generator fallback at 0.15 MB, seed 0, test split: pinned so that a change to the corpus
# (the generator, the edits) shows here and the speed numbers of two commits stay comparable.
LOWREP_GENERATED_SHA256 = "bf7ce000d71ad4dd604de882c12a5719df66f2c4749fbcfe2fa65b73c8ea16b7"

WORDS = ("harbour", "council", "budget", "bridge", "river", "weather", "storm", "market",
         "school", "library", "museum", "station", "garden", "festival", "concert", "theatre",
         "hospital", "airport", "railway", "village", "county", "forest", "valley", "mountain",
         "island", "coast", "lighthouse", "ferry", "tunnel", "road", "street")


def _page(rng: random.Random, n: int) -> str:
    """A page of a planted site: a menu, a few long unique paragraphs, a footer."""
    body = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30))) + "."
            for _ in range(6)]
    return "\n".join(["Home", "News", f"Page {n} of the archive", *body,
                      f"Copyright {2000 + n} Example Media"])


def _fake_set(root: Path, pages: int = 6) -> Path:
    """A realpages-like folder (only what the corpus builder reads: pages, gold, manifest)."""
    wcxb = root / "wcxb"
    for folder in ("pages", "gold", "with", "without"):
        (wcxb / folder).mkdir(parents=True)
    (root / "score.py").write_text("x = 1\n", encoding="utf-8")
    rng = random.Random(5)
    rows = ["name\tdomain\tpage_type"]
    for n in range(pages):
        name = f"wcxb_{n:04d}"
        (wcxb / "pages" / f"{name}.txt").write_text(_page(rng, n), encoding="utf-8")
        (wcxb / "gold" / f"{name}.txt").write_text("gold\n", encoding="utf-8")
        rows.append(f"{name}\tsite{n}.example\tarticle")
    (wcxb / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


# the corpus --------------------------------------------------------------------------------

def test_generated_fallback_is_deterministic_pinned_and_reaches_its_size() -> None:
    a = from_generator(0.15, seed=0)
    b = build_lowrep(0.15, seed=0)  # no real pages: the generator
    assert a == b and a.source.startswith("generated, syndication off")
    assert corpus_sha256(a.texts) == LOWREP_GENERATED_SHA256
    assert 0.15 <= a.mb < 0.15 + max(len(t.encode()) for t in a.texts) / 1e6
    assert corpus_sha256(from_generator(0.15, seed=1).texts) != corpus_sha256(a.texts)
    assert len(set(a.ids)) == len(a.ids) and len(a.langs) == len(a.texts)


def test_low_repetition_corpus_repeats_far_less_than_the_generated_one() -> None:
    low = repetition(from_generator(0.4, seed=0).texts)
    # the generated corpus repeats more the longer it runs (49% of long paragraphs at 120
    # pages, 85% at 1,000)
    generated = repetition([d["text"] for d, _ in generate(
        GeneratorConfig(docs=300, seed=0, split="test"))])
    assert low["long_paragraphs"] > 500 and generated["long_paragraphs"] > 500
    assert low["long_repeat_share"] < 0.1
    assert generated["long_repeat_share"] > 0.5
    assert 40 < low["bytes_per_line"] < 400


def test_real_pages_are_cycled_with_edits(tmp_path: Path) -> None:
    root = _fake_set(tmp_path / "realpages")
    one_set = sum(len(p.read_bytes()) for p in (root / "wcxb" / "pages").glob("*.txt")) / 1e6
    corpus = from_real_pages(root, 3.5 * one_set, seed=2)
    assert corpus == build_lowrep(3.5 * one_set, seed=2, real_pages=root)  # deterministic
    assert corpus.mb >= 3.5 * one_set and "cycled with edits" in corpus.source
    assert [i.split("~")[1] for i in corpus.ids[:12]] == ["0"] * 6 + ["1"] * 6
    originals = {p.stem: p.read_text(encoding="utf-8")
                 for p in (root / "wcxb" / "pages").glob("*.txt")}
    first = [i.split("~")[0] for i in corpus.ids[:6]]
    second = [i.split("~")[0] for i in corpus.ids[6:12]]
    assert sorted(first) == sorted(second) == sorted(originals)
    assert first != second  # each cycle in its own order
    assert all(corpus.texts[k] == originals[first[k]] for k in range(6))  # cycle 0 as it is
    # the copies are edited: every long line differs from every earlier copy of it
    assert repetition(corpus.texts)["long_repeat_share"] < 0.1
    copy = corpus.texts[6].split("\n")
    assert copy[:2] == ["Home", "News"]  # short template lines keep their words
    assert copy[-1] != originals[second[0]].split("\n")[-1]  # numbers change
    other = from_real_pages(root, 3.5 * one_set, seed=3)
    assert corpus_sha256(other.texts) != corpus_sha256(corpus.texts)


def test_edit_page_edits_long_lines_and_numbers_only() -> None:
    text = "Menu\nTop 10\n" + " ".join(WORDS[:16])
    edited = edit_page(text, random.Random(0), 2).split("\n")
    assert edited[0] == "Menu" and edited[1] == "Top 12"
    before, after = text.split("\n")[2].split(" "), edited[2].split(" ")
    assert len(after) == len(before) and 1 <= sum(a != b for a, b in zip(
        before, after, strict=True)) <= 16 // 8
    assert EDIT_MIN_WORDS > 2  # "Top 10" is a short line


def test_bad_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        build_lowrep(0.0)


# the cache switch --------------------------------------------------------------------------

def _clean(texts: list[str]) -> tuple[list[str], list[list[str]], int]:
    cleaner = Cleaner(Config())
    results = list(cleaner.clean_documents(Document(str(i), t) for i, t in enumerate(texts)))
    cached = sum(len(c.lines) for c in cleaner.classifiers if hasattr(c, "lines"))
    cleaner.close()
    return [r.text for r in results], [[v.reason for v in r.verdicts] for r in results], cached


def test_caches_off_gives_the_same_output_and_keeps_nothing() -> None:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=60, seed=4, split="test"))]
    on = _clean(texts)
    with caches_off():
        assert not caching()
        off = _clean(texts)
    assert caching()
    assert on[:2] == off[:2]
    assert on[2] > 0 and off[2] == 0  # the line cache filled only with the caches on
    assert any("duplicate" in r for doc in on[1] for r in doc)


def test_caches_off_gives_the_same_bytes_from_run_clean(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d, _ in
                           generate(GeneratorConfig(docs=40, seed=6, split="test"))),
                   encoding="utf-8")
    run_clean([str(src)], str(tmp_path / "on.jsonl"), removed=str(tmp_path / "on-removed.jsonl"))
    with caches_off():
        run_clean([str(src)], str(tmp_path / "off.jsonl"),
                  removed=str(tmp_path / "off-removed.jsonl"))
    for name in ("{}.jsonl", "{}-removed.jsonl"):
        on = (tmp_path / name.format("on")).read_bytes()
        assert on and on == (tmp_path / name.format("off")).read_bytes()


LINES = ["We use cookies to improve your experience. Accept all.",
         "The council approved the harbour bridge budget after a long debate on Monday.",
         "The council approved the harbour bridge budget after a long debate on Monday!",
         "Home", "Share this article", "Subscribe to our newsletter for weekly updates.",
         "Storm warnings closed the coastal road and the ferry to the island this morning.",
         "Copyright 2024 Example Media. All rights reserved."]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(LINES), min_size=1, max_size=8), min_size=1,
                max_size=6))
def test_caches_never_change_the_output(docs: list[list[str]]) -> None:
    texts = ["\n".join(lines) for lines in docs]
    on = _clean(texts)
    with caches_off():
        off = _clean(texts)
    assert on[:2] == off[:2]


# the speed section -------------------------------------------------------------------------

def _check_speed(speed: dict[str, Any]) -> None:
    assert list(speed["corpora"]) == ["generated", "low-repetition"]
    for c in speed["corpora"].values():
        assert c["same_output_caches_on_off"] is True
        assert len(c["sha256"]) == 64 and c["mb"] > 0
    runs = speed["runs"]
    assert [(r["corpus"], r["system"], r["caches"]) for r in runs] == [
        (corpus, system, None if caches is None else ("on" if caches else "off"))
        for corpus in ("generated", "low-repetition") for system, caches in SPEED_RUNS]
    for r in runs:
        assert r["cpu_s"] > 0 and r["mb_per_cpu_s"] > 0
        assert r["mb"] == speed["corpora"][r["corpus"]]["mb"]
    naive = [r for r in runs if r["system"] == "datasketch-naive"]
    assert [r["x_naive"] for r in naive] == [1.0, 1.0]
    dedup = [r for r in runs if r["system"] != "datasketch-naive"]
    assert all(r["x_naive"] == round(r["mb_per_cpu_s"] / naive[0 if r["corpus"] == "generated"
                                                                 else 1]["mb_per_cpu_s"], 2)
               for r in dedup)
    assert all(len(r["output_sha256"]) == 64 for r in dedup)


def test_speed_section_end_to_end_on_a_tiny_corpus() -> None:
    speed = speed_section(BenchConfig(docs=15, isolate=False), lambda msg: None)
    assert speed is not None
    _check_speed(speed)
    low = speed["corpora"]["low-repetition"]
    assert low["source"].startswith("generated, syndication off")
    assert low["mb"] >= speed["corpora"]["generated"]["mb"]
    table = "\n".join(speed_markdown(speed))
    assert "| generated | dedup | off |" in table
    assert "| low-repetition | dedup-duplicates-only | on |" in table
    assert "| low-repetition | datasketch-naive | - |" in table and "x datasketch-naive" in table
    assert speed_section(BenchConfig(docs=15, speed_docs=0, isolate=False),
                         lambda msg: None) is None


def test_median_run_picks_the_middle_run_and_keeps_them_all() -> None:
    from dedup.bench.harness import _median_run

    runs = [{"system": "dedup", "cpu_s": c, "output_sha256": "a", "n": i}
            for i, c in enumerate((2.0, 1.5, 3.1))]
    got = _median_run(runs)
    assert got["n"] == 0 and got["cpu_s_runs"] == [2.0, 1.5, 3.1]
    assert got["same_output_runs"] is True
    assert _median_run(runs[:2])["n"] == 0  # two runs: the upper middle
    runs[2]["output_sha256"] = "b"
    assert _median_run(runs)["same_output_runs"] is False
    naive = _median_run([{"system": "datasketch-naive", "cpu_s": 9.0}])
    assert naive["cpu_s_runs"] == [9.0] and "same_output_runs" not in naive


def test_speed_section_repeats_each_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every measurement runs speed_repeats times; the table shows the median and all runs."""
    calls: list[tuple[str, bool | None]] = []
    cpu = iter([3.0, 1.0, 2.0] * len(SPEED_RUNS) * 2)

    def fake_one(system: str, caches: bool | None, path: str, mb: float) -> dict[str, Any]:
        calls.append((system, caches))
        c = next(cpu)
        row: dict[str, Any] = {"system": system, "mb": round(mb, 3), "cpu_s": c,
                               "caches": None if caches is None else ("on" if caches else "off"),
                               "mb_per_cpu_s": round(mb / c, 3)}
        if system != "datasketch-naive":
            row["output_sha256"] = "x" * 64
        return row

    monkeypatch.setattr(harness, "speed_one", fake_one)
    speed = speed_section(BenchConfig(docs=6, isolate=False, speed_repeats=3), lambda msg: None)
    assert speed is not None
    assert len(calls) == 3 * 2 * len(SPEED_RUNS)
    assert all(r["cpu_s"] == 2.0 and r["cpu_s_runs"] == [3.0, 1.0, 2.0] for r in speed["runs"])
    table = "\n".join(speed_markdown(speed))
    assert "all runs (CPU s)" in table and "| 3.0, 1.0, 2.0 |" in table
    assert "median of its runs" in table


def test_speed_section_uses_the_real_pages_when_given(tmp_path: Path) -> None:
    root = _fake_set(tmp_path / "realpages")
    speed = speed_section(BenchConfig(docs=10, isolate=False, real_pages=str(root)),
                          lambda msg: None)
    assert speed is not None
    _check_speed(speed)
    assert "real pages (6 pages of" in speed["corpora"]["low-repetition"]["source"]


def test_bench_cli_speed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BenchConfig] = []
    speed = {"corpora": {}, "runs": []}

    def fake_run_bench(cfg: BenchConfig, progress: Any = None) -> dict[str, Any]:
        seen.append(cfg)
        return {"real_pages": {}, "speed": speed}

    monkeypatch.setattr(harness, "run_bench", fake_run_bench)
    monkeypatch.setattr(harness, "markdown", lambda results: "table\n")
    monkeypatch.setattr(harness, "write_results", lambda results, out, plots=True: [])
    base = ["bench", "--no-real-pages", "-o", str(tmp_path)]
    for extra, want in ((["--quick"], 200), (["--quick", "--speed-docs", "30"], 30),
                        (["--quick", "--no-speed"], 0), (["--speed-docs", "0"], 0), ([], None)):
        res = CliRunner().invoke(main, [*base, *extra])
        assert res.exit_code == 0, res.output
        assert seen[-1].speed_docs == want
    assert seen[0].docs == 400  # --quick: a small size for the speed section too
    assert harness.speed_docs(seen[-1]) == 2000
    assert seen[-1].speed_repeats == 1
    res = CliRunner().invoke(main, [*base, "--speed-repeats", "3"])
    assert res.exit_code == 0 and seen[-1].speed_repeats == 3
    bad = CliRunner().invoke(main, [*base, "--speed-repeats", "0"])
    assert bad.exit_code == 2 and "--speed-repeats" in bad.output
    both = CliRunner().invoke(main, [*base, "--no-speed", "--speed-docs", "5"])
    assert both.exit_code == 2 and "--no-speed cannot go with" in both.output
    bad = CliRunner().invoke(main, [*base, "--speed-docs", "-1"])
    assert bad.exit_code == 2


def test_run_bench_carries_the_speed_section(tmp_path: Path) -> None:
    cfg = BenchConfig(docs=12, sizes=(), peers=("keep-all",), isolate=False, parallel_docs=0)
    results = run_bench(cfg)
    _check_speed(results["speed"])
    assert results["speed"]["corpora"]["generated"]["docs"] == 12
    md = markdown(results)
    assert "Speed per core" in md and "| generated | dedup | on |" in md
    write_results(results, tmp_path, plots=False)
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["speed"]["runs"][0]["system"] == "dedup"
    no_speed = run_bench(BenchConfig(docs=12, sizes=(), peers=("keep-all",), isolate=False,
                                     parallel_docs=0, speed_docs=0))
    assert no_speed["speed"] is None and "Speed per core" not in markdown(no_speed)
