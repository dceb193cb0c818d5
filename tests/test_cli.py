"""The command line through click's CliRunner: outputs, reports, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dedup.cli import main

from .conftest import SEED, SEED_EXPECTED

LONG = "A paragraph that is certainly long enough to be compared by MinHash shingles."


def run(*args: str, input: str | bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=input)


def test_clean_seed_to_stdout() -> None:
    res = run("clean", str(SEED), "-o", "-", "-q")
    assert res.exit_code == 0
    assert res.stdout == SEED_EXPECTED.read_text(encoding="utf-8")


def test_clean_stdin_to_stdout() -> None:
    res = run("clean", "-", "-o", "-", "-q", input=f"{LONG}\n{LONG}\n")
    assert res.exit_code == 0
    assert res.stdout == LONG + "\n"


def test_directory_is_mirrored_with_removed_and_report(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (src / "sub" / "b.txt").write_text(f"{LONG}\nWe use cookies. Accept all\n{LONG}\n",
                                       encoding="utf-8")
    (src / "sub" / "c.jsonl").write_text(
        json.dumps({"id": 7, "text": f"{LONG}\n{LONG}", "lang": "en"}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    res = run("clean", str(src), "-o", str(out), "--removed", str(tmp_path / "removed.jsonl"),
              "--report", str(tmp_path / "report.json"), "-q")
    assert res.exit_code == 0, res.output
    assert (out / "a.txt").read_text(encoding="utf-8") == SEED_EXPECTED.read_text(encoding="utf-8")
    assert (out / "sub" / "b.txt").read_text(encoding="utf-8") == LONG + "\n"
    # c.jsonl only repeats b.txt: its paragraph goes across documents, the record is tagged
    assert json.loads((out / "sub" / "c.jsonl").read_text(encoding="utf-8")) == {
        "id": 7, "text": "", "lang": "en", "dedup_cluster": "sub/b.txt"}
    removed = [json.loads(x) for x in (tmp_path / "removed.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in removed} == {"boilerplate:cookie", "duplicate:exact",
                                              "duplicate:run", "duplicate:cross-doc",
                                              "duplicate:document"}
    assert all(r["reason"] and "score" in r and "text" in r for r in removed)
    dup = next(r for r in removed if r["doc"] == "sub/b.txt" and r["reason"] == "duplicate:exact")
    assert dup["line"] == 3 and dup["match"] == {"doc": "sub/b.txt", "line": 1}
    cross = next(r for r in removed if r["reason"] == "duplicate:cross-doc")
    assert cross["doc"] == "sub/c.jsonl:1" and cross["line"] == 1 and cross["score"] == 1.0
    assert cross["match"] == {"doc": "sub/b.txt", "line": 1} and cross["cluster"] == "sub/b.txt"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["documents"] == 3 and report["failures"] == 0
    assert report["removed"]["boilerplate:cookie"] == 2
    assert report["bytes_in"] > report["bytes_out"] > 0
    assert set(report["stage_seconds"]) >= {"segment", "normalize", "boilerplate", "dedup"}


def test_single_file_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "clean.txt"
    res = run("clean", str(SEED), "-o", str(out), "-q")
    assert res.exit_code == 0
    assert out.read_text(encoding="utf-8") == SEED_EXPECTED.read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_input_is_a_clear_error() -> None:
    res = run("clean", "no/such/file.txt", "-o", "-")
    assert res.exit_code == 1
    assert "no such file or directory" in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, Exception | None)


def test_non_utf8_file_is_reported_and_the_rest_is_cleaned(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "in" / "good.txt").write_text(f"{LONG}\n{LONG}\n", encoding="utf-8")
    out = tmp_path / "out"
    res = run("clean", str(tmp_path / "in"), "-o", str(out), "-q")
    assert res.exit_code == 1
    assert "bad.txt: not valid UTF-8" in res.output and "--encoding-errors replace" in res.output
    assert "Traceback" not in res.output
    assert (out / "good.txt").read_text(encoding="utf-8") == LONG + "\n"
    assert not (out / "bad.txt").exists()
    res = run("clean", str(tmp_path / "in" / "bad.txt"), "-o", "-", "-q",
              "--encoding-errors", "replace")
    assert res.exit_code == 0 and res.stdout == "caf\ufffd au lait\n"


def test_malformed_jsonl_record_is_skipped_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "fine"}\n{not json\n{"body": "x"}\n', encoding="utf-8")
    res = run("clean", str(src), "-o", str(tmp_path / "o.jsonl"), "-q")
    assert res.exit_code == 1
    assert "d.jsonl:2: not valid JSON" in res.output
    assert "d.jsonl:3: field 'text' is missing" in res.output
    assert (tmp_path / "o.jsonl").read_text(encoding="utf-8") == '{"text": "fine\\n"}\n'


def test_text_field_option(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"body": f"{LONG}\n{LONG}"}) + "\n", encoding="utf-8")
    res = run("clean", str(src), "-o", "-", "-q", "--text-field", "body")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"body": LONG + "\n"}


def test_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n", encoding="utf-8")
    res = run("clean", str(src), "-o", str(src))
    assert res.exit_code == 1 and "refusing to overwrite" in res.output
    assert src.read_text(encoding="utf-8") == "hello\n"
    res = run("clean", str(tmp_path), "-o", str(tmp_path / "out"))
    assert res.exit_code == 1 and "input directory" in res.output


def test_bad_option_values_are_usage_errors() -> None:
    assert run("clean", str(SEED), "-o", "-", "--threshold", "1.5").exit_code == 2
    assert run("clean", str(SEED), "-o", "-", "--num-perm", "1").exit_code == 2


def test_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[lsh]\nthreshold = 3\n", encoding="utf-8")
    res = run("clean", str(SEED), "-o", "-", "--config", str(cfg))
    assert res.exit_code == 2 and "lsh.threshold" in res.output and "hint" in res.output


def test_explain_shows_every_line_with_reason() -> None:
    res = run("explain", str(SEED))
    assert res.exit_code == 0
    rows = [r for r in res.output.splitlines() if r[:5].strip().isdigit()]
    assert len(rows) == 41
    assert "DROP boilerplate:cookie" in rows[0]
    assert "DROP duplicate:exact" in rows[2] and "=line 2" in rows[2]
    assert "KEEP content" in rows[1]
    dropped = run("explain", str(SEED), "--dropped-only").output
    assert sum(1 for r in dropped.splitlines() if " DROP " in r) == 17


def _commands(group: click.Group) -> list[tuple[str, click.Command]]:
    return sorted(group.commands.items())


@pytest.mark.parametrize("name", [n for n, _ in _commands(main)])  # type: ignore[attr-defined]
def test_every_command_has_help(name: str) -> None:
    cmd = main.commands[name]  # type: ignore[attr-defined]
    assert cmd.help and len(cmd.help) > 40
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"
    assert run(name, "--help").exit_code == 0


def test_top_level_help_and_version() -> None:
    assert "Examples" in run("--help").output
    assert run("--version").exit_code == 0


def test_outputs_get_the_usual_file_mode(tmp_path: Path) -> None:
    import os

    out = tmp_path / "clean.txt"
    assert run("clean", str(SEED), "-o", str(out), "-q").exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
