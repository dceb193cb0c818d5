"""The real-pages section of the bench on a planted four-page set scored by the real score.py
(copied from ../shared/realpages at test time; skipped when it is not there)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedup.bench.realpages import (
    DEDUP_DIRECTORY,
    DEDUP_PAGE,
    RealPage,
    System,
    baselines,
    check_root,
    dedup_systems,
    load_pages,
    load_scorer,
    markdown_table,
    pick,
    run_real_pages,
)
from dedup.cli import main
from dedup.errors import ConfigError, InputError

SCORER = Path(__file__).parents[1] / ".." / "shared" / "realpages" / "score.py"
COOKIE = ("We use cookies to improve your experience. By continuing to browse you accept our "
          "cookie policy.")
# A long newsletter prompt on both gazette pages: only a run over the whole set can see it repeat.
PROMO = ("Sign up for the Harbour Gazette morning briefing and get the stories that matter "
         "delivered to your inbox every weekday before seven o'clock.")
BRIDGE = ("The city council approved the budget for the new harbour bridge on Monday evening, "
          "after a debate that ran well past midnight.")
COMMUTE = ("Supporters said the bridge would cut commuting times across the bay by half, while "
           "opponents warned about the rising cost of steel.")
RAIN = ("Heavy rain and gale-force winds closed the coastal road between the two fishing villages "
        "for most of Tuesday afternoon and evening.")
ROAD = ("Engineers expect the road to reopen on Thursday once the landslip near the lighthouse "
        "has been cleared and the barriers inspected.")
OIL = ("I rub a thin layer of flaxseed oil into the pan and bake it upside down at high heat for "
       "an hour, then repeat that five or six times.")
WALNUT = ("Cut from a single piece of oiled American black walnut, this board is gentle on knife "
          "edges and large enough for a whole loaf of bread.")
GAZETTE_TOP = ["Skip to content", "Headlines", "Weather", "Classifieds", COOKIE]
# name: (page type, domain, page lines, gold lines, with snippets, without snippets)
PAGES: dict[str, tuple[str, str, list[str], list[str], list[str], list[str]]] = {
    "wcxb_0001": ("article", "gazette.example",
                  [*GAZETTE_TOP, "Council approves the harbour bridge budget", BRIDGE, COMMUTE,
                   PROMO, "Copyright Harbour Gazette"],
                  ["Council approves the harbour bridge budget", BRIDGE, COMMUTE],
                  ["commuting times across the bay"],
                  ["Classifieds", COOKIE, "Copyright Harbour Gazette"]),
    "wcxb_0002": ("article", "gazette.example",
                  [*GAZETTE_TOP, "Storm closes the coastal road", RAIN, ROAD, PROMO,
                   "Copyright Harbour Gazette"],
                  ["Storm closes the coastal road", RAIN, ROAD],
                  ["landslip near the lighthouse"], ["Weather", COOKIE, PROMO]),
    "wcxb_0003": ("forum", "boards.example",
                  ["Log in", "Register", "Forum index", "Re: best way to season a cast iron pan",
                   OIL, "Posted by kettle_42", "Reply", "Quote"],
                  ["Re: best way to season a cast iron pan", OIL],
                  ["flaxseed oil"], ["Forum index", "Register"]),
    "wcxb_0004": ("product", "shop.example",
                  ["Cart (0)", "Wishlist", "Accept cookies", "Walnut cutting board", WALNUT,
                   "Add to basket", "Free delivery on orders over 50 pounds"],
                  ["Walnut cutting board", WALNUT],
                  ["American black walnut"], ["Wishlist", "Accept cookies", "Add to basket"]),
}
MANIFEST_COLUMNS = ["name", "file_id", "url", "page_type", "domain", "spa", "page_lines",
                    "page_bytes", "gold_paragraphs", "gold_tokens", "keep_all_recall",
                    "with_src", "with", "without_src", "without", "without_cookie"]


def build_set(root: Path) -> Path:
    """The planted pages laid out like shared/realpages, with the real scorer beside them."""
    wcxb = root / "wcxb"
    for folder in ("pages", "gold", "with", "without"):
        (wcxb / folder).mkdir(parents=True)
    rows = ["# source=test/planted commit=0123456789abcdef split=dev",
            "\t".join(MANIFEST_COLUMNS)]
    for name, (page_type, domain, lines, gold, keep, drop) in PAGES.items():
        text = "\n".join(lines) + "\n"
        (wcxb / "pages" / f"{name}.txt").write_text(text, encoding="utf-8")
        (wcxb / "gold" / f"{name}.txt").write_text("\n".join(gold) + "\n", encoding="utf-8")
        (wcxb / "with" / f"{name}.json").write_text(json.dumps(keep), encoding="utf-8")
        (wcxb / "without" / f"{name}.json").write_text(json.dumps(drop), encoding="utf-8")
        cookies = sum("cookie" in s.lower() for s in drop)
        rows.append("\t".join(str(v) for v in (
            name, name[-4:], f"https://{domain}/{name}", page_type, domain, False, len(lines),
            len(text.encode()), len(gold), 0, 1.0, len(keep), len(keep), len(drop), len(drop),
            cookies)))
    (wcxb / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    shutil.copy(SCORER, root / "score.py")
    return root


@pytest.fixture
def realpages(tmp_path: Path) -> Path:
    if not SCORER.is_file():
        pytest.skip(f"no real-pages scorer at {SCORER}")
    return build_set(tmp_path / "realpages")


def gold_system(root: Path) -> dict[str, System]:
    def run(pages: Sequence[RealPage]) -> list[str]:
        return [(root / "wcxb" / "gold" / f"{p.name}.txt").read_text(encoding="utf-8")
                for p in pages]
    return {"gold": run}


def keep_everything(pages: Sequence[RealPage]) -> list[str]:
    return [p.text for p in pages]


def test_pages_carry_the_manifest_and_limit_spreads_evenly(realpages: Path) -> None:
    pages = load_pages(realpages)
    assert [(p.name, p.page_type, p.domain) for p in pages][2:] == [
        ("wcxb_0003", "forum", "boards.example"), ("wcxb_0004", "product", "shop.example")]
    assert pages[0].text.split("\n")[4] == COOKIE
    assert [p.name for p in load_pages(realpages, 2)] == ["wcxb_0001", "wcxb_0003"]
    assert pick(list("abcdefghij"), 4) == ["a", "c", "f", "h"]
    with pytest.raises(ConfigError):
        pick(["a"], 0)


def test_the_gold_scores_perfect(realpages: Path) -> None:
    res = run_real_pages(realpages, gold_system(realpages))
    s = res["systems"]["gold"]
    assert (s["F1"], s["P"], s["R"]) == (1.0, 1.0, 1.0)
    assert (s["leak"], s["leak_cookie"], s["kept_with"]) == (0.0, 0.0, 1.0)
    assert s["docs"] == 4 and s["without_snippets"] == 11 and s["cookie_snippets"] == 3
    assert {t: v["F1"] for t, v in s["F1_by_type"].items()} == {
        "article": 1.0, "forum": 1.0, "product": 1.0}
    assert s["F1_by_type"]["article"]["docs"] == 2
    assert s["seconds"] >= 0 and res["pages"] == res["pages_in_set"] == 4


def test_keeping_everything_leaks_every_snippet(realpages: Path) -> None:
    s = run_real_pages(realpages, {"all": keep_everything})["systems"]["all"]
    assert (s["leak"], s["leak_cookie"], s["kept_with"], s["R"]) == (1.0, 1.0, 1.0, 1.0)
    assert s["P"] < 0.8 and s["F1"] < 0.9


def test_scores_match_the_scorer_command_line(realpages: Path, tmp_path: Path) -> None:
    # The same outputs scored by `score.py --outputs` give the same numbers.
    length = baselines()["length>100"]
    pages = load_pages(realpages)
    out = tmp_path / "outputs" / "wcxb"
    out.mkdir(parents=True)
    for page, text in zip(pages, length(pages), strict=True):
        (out / f"{page.name}.txt").write_text(text, encoding="utf-8")
    summary = tmp_path / "summary.json"
    subprocess.run([sys.executable, str(realpages / "score.py"), "--outputs", str(out.parent),
                    "--heldout", str(realpages), "--json", str(summary)],
                   check=True, capture_output=True)
    official = json.loads(summary.read_text())["sets"]["wcxb"]
    ours = run_real_pages(realpages, {"length>100": length})["systems"]["length>100"]
    for key in ("F1", "P", "R", "F1aeb", "leak", "leak_cookie", "kept_with", "F1_by_type"):
        assert ours[key] == official[key], key


def test_length_baselines_drop_short_lines_and_repeats(realpages: Path) -> None:
    pages = load_pages(realpages)
    long_lines = [[s for s in p.text.split("\n") if len(s) > 100] for p in pages]
    out = baselines()["length>100"](pages)
    assert [o.split("\n") for o in out] == long_lines
    assert PROMO in out[1]
    exact = baselines()["length>100+exact"](pages)
    assert PROMO in exact[0] and PROMO not in exact[1]  # the first copy in the set stays
    assert exact[1].split("\n") == [RAIN, ROAD]
    res = run_real_pages(realpages, baselines())["systems"]
    assert res["length>100"]["R"] < 1.0  # the short titles went with the menus
    assert res["length>100+exact"]["leak"] == 0.0 < res["length>100"]["leak"]


def test_dedup_over_the_set_sees_what_a_page_alone_cannot(realpages: Path) -> None:
    pages = load_pages(realpages)
    systems = dedup_systems()
    whole, alone = systems[DEDUP_DIRECTORY](pages), systems[DEDUP_PAGE](pages)
    assert len(whole) == len(alone) == 4
    for outputs in (whole, alone):
        assert all(COOKIE not in text and "Accept cookies" not in text for text in outputs)
        assert BRIDGE in outputs[0] and ROAD in outputs[1] and WALNUT in outputs[3]
    assert PROMO in whole[0] and PROMO not in whole[1]  # a repeat of an earlier page's line
    assert PROMO in alone[1]


def test_markdown_has_one_row_per_system(realpages: Path) -> None:
    systems = {**baselines(), "all": keep_everything}
    res = run_real_pages(realpages, systems, limit=3)
    table = markdown_table(res)
    rows = [line for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    names = [row.split(" | ")[0][2:] for row in rows]
    # two tables: a header and one row per system each
    assert names == ["system", *systems, "system", *systems]
    assert "3 of the 4 pages of test/planted at 01234567, dev split" in table
    assert "| article (2) | forum (1) |" in table and "product" not in table


def test_a_system_must_answer_every_page(realpages: Path) -> None:
    with pytest.raises(ConfigError, match="returned 1 outputs for 4 pages"):
        run_real_pages(realpages, {"short": lambda pages: ["x"]})


def test_bad_folders_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        check_root(tmp_path / "nowhere")
    (tmp_path / "score.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"has no wcxb/manifest\.tsv, wcxb/pages"):
        check_root(tmp_path)
    build_wcxb = tmp_path / "wcxb"
    for folder in ("pages", "gold", "with", "without"):
        (build_wcxb / folder).mkdir(parents=True)
    (build_wcxb / "manifest.tsv").write_text("name\tpage_type\n", encoding="utf-8")
    with pytest.raises(InputError, match="has no score_set, summarize"):
        load_scorer(tmp_path)
    (tmp_path / "score.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"does not import \(RuntimeError: boom\)"):
        load_scorer(tmp_path)
    (tmp_path / "score.py").unlink()
    with pytest.raises(InputError, match=r"has no score\.py"):
        check_root(tmp_path)


def test_cli_runs_the_real_pages_section_alone(realpages: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["bench", "--real-pages-only", "--no-real-pages-cv",
                                    "--real-pages", str(realpages),
                                    "--peers", "keep-all", "--no-plots", "-o", str(out)])
    assert res.exit_code == 0, res.output
    for name in (DEDUP_DIRECTORY, DEDUP_PAGE, "length>100", "length>100+exact", "keep-all"):
        assert f"| {name} |" in res.output
    assert "| justext |" not in res.output  # --peers keep-all leaves the other peers out
    assert not (out / "results.json").exists()  # a whole run's results are not overwritten
    saved = json.loads((out / "real_pages.json").read_text())
    assert saved["real_pages"]["systems"]["keep-all"]["leak"] == 1.0
    assert (out / "real_pages.md").read_text().startswith("Real pages: 4 of the 4 pages")


def test_cli_limit_and_auto_detection(realpages: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # ../shared/realpages relative to the current directory is found without --real-pages.
    checkout = tmp_path / "main"
    checkout.mkdir()
    (tmp_path / "shared").mkdir()
    realpages.rename(tmp_path / "shared" / "realpages")
    monkeypatch.chdir(checkout)
    res = CliRunner().invoke(main, ["bench", "--real-pages-only", "--no-real-pages-cv",
                                    "--real-pages-limit", "2",
                                    "--peers", "keep-all", "--no-plots", "-o", "out"])
    assert res.exit_code == 0, res.output
    saved = json.loads((checkout / "out" / "real_pages.json").read_text())["real_pages"]
    assert saved["pages"] == 2 and saved["systems"][DEDUP_DIRECTORY]["docs"] == 2
    monkeypatch.chdir(tmp_path)  # no ../shared/realpages from here
    res = CliRunner().invoke(main, ["bench", "--real-pages-only", "--no-real-pages-cv",
                                    "-o", "out"])
    assert res.exit_code == 2 and "no ../shared/realpages here" in res.output


def test_cli_bad_real_pages_path_is_a_message(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["bench", "--real-pages-only", "--no-real-pages-cv",
                                    "--real-pages",
                                    str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert "is not a directory" in res.output and "hint:" in res.output
    both = CliRunner().invoke(main, ["bench", "--no-real-pages", "--real-pages", str(tmp_path)])
    assert both.exit_code == 2 and "cannot go with" in both.output


def test_whole_bench_carries_a_real_pages_section(realpages: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["bench", "--docs", "10", "--sizes", "none",
                                    "--parallel-docs", "0", "--peers", "keep-all",
                                    "--in-process", "--no-plots", "--real-pages", str(realpages),
                                    "--no-real-pages-cv", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["quality"]["dedup"] and saved["real_pages"]["pages"] == 4
    names = [DEDUP_DIRECTORY, DEDUP_PAGE, "length>100", "length>100+exact", "keep-all"]
    assert sorted(saved["real_pages"]["systems"]) == sorted(names)  # the JSON sorts its keys
    md = (tmp_path / "results.md").read_text()
    assert "| dedup |" in md and "Real pages: 4 of the 4 pages" in md
    start = md.index("Real pages:")
    at = [md.index(f"| {name} | ", start) for name in names]
    assert at == sorted(at)  # the markdown keeps the table order
