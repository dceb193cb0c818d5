"""Inputs and options that cannot be misread: JSONL on stdin, --id-field, -o for several
inputs, one stream given twice; bench and train-classifier write only where they are told."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.cli import main

from .conftest import generated_jsonl

ARTICLE = ("The river authority opened the new weir on Tuesday after three years of work, "
           "and the town council said the flood defences would protect four hundred homes.")
COOKIE = "We use cookies to improve your experience. Accept all cookies to continue browsing."
PAGES = [
    {"id": "doc-001", "content": ARTICLE, "url": "https://a.example/1"},
    {"id": "doc-002", "content": f"{COOKIE}\n{ARTICLE.replace('river', 'canal')}"},
    {"id": "doc-003", "content": "A short note on the harvest festival in the old town."},
    {"id": "doc-004", "content": f"{ARTICLE}\nThe mayor thanked the engineers for their care."},
]


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def records(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.split("\n") if line.startswith("{")]


# 1. JSONL on stdin

def test_jsonl_on_stdin_is_read_as_jsonl(tmp_path: Path) -> None:
    removed = tmp_path / "removed.jsonl"
    res = run("clean", "-", "-o", "-", "--text-field", "content", "--removed", str(removed),
              "-q", input=jsonl(PAGES))
    assert res.exit_code == 0, res.output
    out = records(res.output)
    assert [r["id"] for r in out] == ["doc-001", "doc-002", "doc-003", "doc-004"]
    assert out[0] == {**PAGES[0], "content": ARTICLE + "\n"}  # every field kept
    assert out[2]["content"] == PAGES[2]["content"] + "\n"
    drops = records(removed.read_text())
    assert {d["doc"] for d in drops} <= {"stdin:2", "stdin:4"}  # no whole record as boilerplate
    assert not any(d["reason"] == "boilerplate:cookie" and d["text"].startswith('{"')
                   for d in drops)


def test_stdin_gives_what_the_same_file_gives(tmp_path: Path) -> None:
    blank_first = "\n\n" + jsonl(PAGES)
    path = tmp_path / "pages.jsonl"
    path.write_text(blank_first, encoding="utf-8")
    args = ["-o", "-", "--text-field", "content", "--id-field", "id", "-q"]
    from_file = run("clean", str(path), *args)
    from_stdin = run("clean", "-", *args, input=blank_first)
    assert from_stdin.exit_code == from_file.exit_code == 0
    assert from_stdin.output == from_file.output


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                              min_size=1, max_size=300), min_size=1, max_size=4),
       pad=st.integers(0, 70_000))
def test_no_byte_of_a_jsonl_stdin_is_lost(texts: list[str], pad: int) -> None:
    recs = [{"text": ("x" * pad if n == 0 else "") + t, "n": n} for n, t in enumerate(texts)]
    res = run("clean", "-", "-o", "-", "--no-boilerplate", "--no-cross-doc", "-q",
              input=jsonl(recs))
    assert res.exit_code == 0, res.output
    assert [r["n"] for r in records(res.output)] == list(range(len(texts)))


def test_plain_text_on_stdin_is_still_text() -> None:
    text = f"{ARTICLE}\n{ARTICLE}\n{{not json}}\n"
    res = run("clean", "-", "-o", "-", "--no-boilerplate", "-q", input=text)
    assert res.exit_code == 0 and res.output == f"{ARTICLE}\n{{not json}}\n"


def test_a_record_field_for_text_stdin_is_a_usage_error() -> None:
    res = run("clean", "-", "-o", "-", "--text-field", "content", input=f"{ARTICLE}\n{COOKIE}\n")
    assert res.exit_code == 2, res.output
    assert "stdin is not JSONL" in res.output and "--text-field content" in res.output
    assert "--input-format jsonl" in res.output
    res = run("clean", "-", "-o", "-", "--id-field", "id", input=f"{ARTICLE}\n")
    assert res.exit_code == 2 and "--id-field id" in res.output


def test_input_format_jsonl_still_forces_jsonl() -> None:
    res = run("clean", "-", "-o", "-", "--input-format", "jsonl", "-q",
              input='{"text": "a"} trailing\n' + jsonl([{"text": ARTICLE}]))
    assert res.exit_code == 1 and "error: -:1: not valid JSON" in res.output


def test_compressed_stdin_is_refused_with_a_hint() -> None:
    res = run("clean", "-", "-o", "-", input=gzip.compress(jsonl(PAGES).encode()))
    assert res.exit_code == 1 and "stdin is gzip-compressed" in res.output
    assert "gzip -dc" in res.output


# 2. --id-field

def test_id_field_names_the_documents_in_removed_and_output(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    path.write_text(jsonl(PAGES), encoding="utf-8")
    removed = tmp_path / "removed.jsonl"
    res = run("clean", str(path), "-o", str(tmp_path / "out.jsonl"), "--text-field", "content",
              "--id-field", "id", "--removed", str(removed), "-q")
    assert res.exit_code == 0, res.output
    drops = records(removed.read_text())
    assert drops and {d["doc"] for d in drops} <= {"doc-002", "doc-004"}
    matches = [d["match"] for d in drops if d["match"]]
    assert matches and all(m["doc"] == "doc-001" for m in matches)
    assert not any(":" in str(d["doc"]) for d in drops)


def test_without_id_field_ids_stay_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    path.write_text(jsonl(PAGES), encoding="utf-8")
    removed = tmp_path / "removed.jsonl"
    run("clean", str(path), "-o", str(tmp_path / "out.jsonl"), "--text-field", "content",
        "--removed", str(removed), "-q")
    assert {d["doc"] for d in records(removed.read_text())} <= {"pages.jsonl:2", "pages.jsonl:4"}


@pytest.mark.parametrize(("value", "problem"), [
    (None, "null"), (True, "not a string or an integer (a boolean)"),
    (1.5, "not a string or an integer (a number with a fraction)"), ("", "empty"),
])
def test_a_bad_id_is_a_failure_naming_the_record(tmp_path: Path, value: object,
                                                 problem: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(jsonl([{"id": 7, "text": ARTICLE}, {"id": value, "text": "b c d"},
                           {"text": "no id here"}]), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = run("clean", str(path), "-o", str(out), "--id-field", "id")
    assert res.exit_code == 1
    assert f"error: {path}:2: field 'id' (--id-field) is {problem}" in res.output
    assert f"error: {path}:3: field 'id' (--id-field) is missing" in res.output
    assert "hint: every record needs its id as a string or an integer" in res.output
    assert [r["id"] for r in records(out.read_text())] == [7]  # the good record is written


def test_duplicate_ids_are_allowed(tmp_path: Path) -> None:
    """Ids are labels, not keys: the same page crawled twice often keeps its id, and is what
    dedup removes; checking would hold every id of the run in memory."""
    path = tmp_path / "p.jsonl"
    path.write_text(jsonl([{"id": "same", "text": ARTICLE}, {"id": "same", "text": ARTICLE}]),
                    encoding="utf-8")
    removed, out = tmp_path / "r.jsonl", tmp_path / "o.jsonl"
    res = run("clean", str(path), "-o", str(out), "--id-field", "id", "--no-boilerplate",
              "--removed", str(removed), "-q")
    assert res.exit_code == 0, res.output
    drops = records(removed.read_text())
    assert {(d["doc"], d["reason"]) for d in drops} == {("same", "duplicate:document"),
                                                        ("same", "duplicate:cross-doc")}
    assert [(r["id"], r.get("dedup_cluster")) for r in records(out.read_text())] == [
        ("same", None), ("same", "same")]


def test_id_field_output_is_the_same_for_every_jobs_value(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "src", files=2, per_file=30)
    outs = []
    for jobs in ("1", "2"):
        out, removed = tmp_path / f"out{jobs}", tmp_path / f"removed{jobs}.jsonl"
        res = run("clean", str(src), "-o", str(out), "--id-field", "id", "--jobs", jobs,
                  "--removed", str(removed), "-q")
        assert res.exit_code == 0, res.output
        outs.append([removed.read_bytes()] + [p.read_bytes() for p in sorted(out.glob("*"))])
    assert outs[0] == outs[1]
    docs = {d["doc"] for d in records(outs[0][0].decode())}
    assert docs and not any(d.startswith("part") for d in docs)


def test_explain_takes_id_field(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    path.write_text(jsonl(PAGES), encoding="utf-8")
    res = run("explain", str(path), "--text-field", "content", "--id-field", "id")
    assert res.exit_code == 0, res.output
    assert [line for line in res.output.splitlines() if line.startswith("# ")] == [
        "# doc-001", "# doc-002", "# doc-003", "# doc-004"]


# 3. -o for a directory or several inputs

@pytest.fixture()
def pages_dir(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(f"{ARTICLE}\n", encoding="utf-8")
    (d / "b.jsonl").write_text(jsonl([{"text": ARTICLE}]), encoding="utf-8")
    return d


@pytest.mark.parametrize("name", ["single.txt", "single.text.gz", "notes.json"])
def test_a_file_name_for_a_directory_input_is_refused(tmp_path: Path, pages_dir: Path,
                                                      name: str) -> None:
    # A text file cannot hold several documents: only a JSONL or Parquet name combines them.
    out = tmp_path / name
    res = run("clean", str(pages_dir), "-o", str(out))
    assert res.exit_code == 1, res.output
    assert f"-o {out} is named like a file" in res.output and "--shard-docs" in res.output
    assert ".jsonl" in res.output and not out.exists()


def test_a_text_file_name_for_several_inputs_is_refused(tmp_path: Path, pages_dir: Path) -> None:
    out = tmp_path / "both.txt"
    res = run("clean", str(pages_dir / "a.txt"), str(pages_dir / "b.jsonl"), "-o", str(out))
    assert res.exit_code == 1 and "is named like a file" in res.output and not out.exists()


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", ["all.jsonl", "all.ndjson", "all.jsonl.gz", "all.jsonl.zst"])
def test_several_inputs_into_one_jsonl_file(tmp_path: Path, name: str) -> None:
    # `dedup clean dump/ -o all.jsonl.zst`: every document of every input, in input order, in
    # the one file, the same records as one unlimited shard; cross-file duplicates removed.
    src = generated_jsonl(tmp_path / "in", 3, 12)
    (src / "z.txt").write_text(f"{ARTICLE}\n{COOKIE}\n", encoding="utf-8")
    out = tmp_path / name
    res = run("clean", str(src), "-o", str(out), "-q", "--removed", str(tmp_path / "r.jsonl"))
    assert res.exit_code == 0, res.output
    res = run("clean", str(src), "-o", str(tmp_path / "shards"), "--shard-docs", "1000000",
              "--shard-format", ".jsonl", "-q")
    assert res.exit_code == 0, res.output
    plain = tmp_path / "plain.jsonl"
    with open(out, "rb") as fh, open(plain, "wb") as dest:
        dest.write(_decompressed(fh.read(), name))
    shard = tmp_path / "shards" / "part-00000.jsonl"
    assert plain.read_bytes() == shard.read_bytes()
    records = _records(plain)
    ids = [r["id"] for r in records]
    assert ids[-1] == "z.txt" and records[-1]["text"] == f"{ARTICLE}\n"
    assert len(ids) == 37 and ids[:12] == [json.loads(line)["id"] for line in
                                          (src / "part0.jsonl").read_text().splitlines()]
    removed = _records(tmp_path / "r.jsonl")
    assert any(r["reason"].startswith("duplicate:") and r["doc"].startswith("part1.jsonl")
               and str(r["match"]["doc"]).startswith("part0.jsonl") for r in removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in", name, "r.jsonl", "shards", "plain.jsonl"])  # no temporary file, no state dir


def _decompressed(data: bytes, name: str) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def test_several_inputs_into_one_file_same_for_every_jobs(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 4, 10)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"all{jobs}.jsonl.zst"
        res = run("clean", str(src), "-o", str(out), "-q", "--jobs", jobs)
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_one_combined_file_inside_an_input_directory_is_refused(tmp_path: Path,
                                                                pages_dir: Path) -> None:
    out = pages_dir / "all.jsonl"
    res = run("clean", str(pages_dir), "-o", str(out))
    assert res.exit_code != 0 and not out.exists()
    assert "Traceback" not in res.output


def test_resume_is_refused_for_one_combined_file(tmp_path: Path, pages_dir: Path) -> None:
    res = run("clean", str(pages_dir), "-o", str(tmp_path / "all.jsonl"), "--resume")
    assert res.exit_code != 0 and "--resume is not possible" in res.output


def test_a_directory_by_name_or_shards_are_fine(tmp_path: Path, pages_dir: Path) -> None:
    res = run("clean", str(pages_dir), "-o", str(tmp_path / "clean"), "-q")
    assert res.exit_code == 0 and (tmp_path / "clean" / "a.txt").is_file()
    res = run("clean", str(pages_dir), "-o", str(tmp_path / "clean.txt") + "/", "-q")
    assert res.exit_code == 0 and (tmp_path / "clean.txt" / "b.jsonl").is_file()
    res = run("clean", str(pages_dir), "-o", str(tmp_path / "all.jsonl"), "--shard-docs", "5",
              "-q")
    assert res.exit_code == 0 and (tmp_path / "all.jsonl" / "part-00000.jsonl.zst").is_file()
    single = tmp_path / "one.txt"
    res = run("clean", str(pages_dir / "a.txt"), "-o", str(single), "-q")
    assert res.exit_code == 0 and single.is_file()


# 4. one stream given twice

@pytest.mark.parametrize("args", [
    ["-o", "-", "--removed", "-"],
    ["-o", "-", "--report", "-"],
    ["-o", "OUT", "--removed", "-", "--report", "-"],
])
def test_stdout_for_two_outputs_is_refused(tmp_path: Path, pages_dir: Path,
                                           args: list[str]) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    res = run("clean", str(pages_dir / "a.txt"), *args)
    assert res.exit_code == 2, res.output
    assert "both write to stdout (-): their lines would mix" in res.output
    assert ARTICLE not in res.output


def test_stdin_twice_is_refused() -> None:
    res = run("clean", "-", "-", "-o", "-", input=f"{ARTICLE}\n")
    assert res.exit_code == 1 and "stdin (-) is given as an input twice" in res.output


def test_one_file_for_removed_and_report_is_refused(tmp_path: Path, pages_dir: Path) -> None:
    same = tmp_path / "x.json"
    res = run("clean", str(pages_dir / "a.txt"), "-o", str(tmp_path / "o.txt"), "--removed",
              str(same), "--report", str(same))
    assert res.exit_code == 1 and "are the same file" in res.output and not same.exists()


# 5. nothing is written into the checkout or the package by default

def test_bench_without_o_writes_a_new_directory_it_names(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    work, temp = tmp_path / "checkout", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    res = run("bench", "--docs", "20", "--sizes", "none", "--parallel-docs", "0", "--peers",
              "keep-all", "--in-process", "--no-plots", "--no-real-pages")
    assert res.exit_code == 0, res.output
    assert list(work.iterdir()) == []  # no benchmarks/results/ in the working directory
    made = list(temp.glob("dedup-bench-*"))
    assert len(made) == 1 and (made[0] / "results.md").is_file()
    assert f"results in {made[0]}" in res.output


def test_train_classifier_needs_o() -> None:
    from dedup.boilerplate.model import MODEL_PATH

    before = MODEL_PATH.stat().st_mtime_ns
    res = run("train-classifier", "--docs", "40", "--eval-docs", "0")
    assert res.exit_code == 2 and "Missing option '-o'" in res.output
    assert MODEL_PATH.stat().st_mtime_ns == before


def test_stdin_into_one_named_file_writes_that_file(tmp_path: Path) -> None:
    # stdin is one input: `-o clean.txt` is that file, not a directory holding a file 'stdin'.
    out = tmp_path / "clean.txt"
    res = run("clean", "-", "-o", str(out), "-q", input=f"{COOKIE}\n{ARTICLE}\n{ARTICLE}\n")
    assert res.exit_code == 0, res.output
    assert out.is_file()
    assert out.read_text(encoding="utf-8") == f"{ARTICLE}\n"
