"""Every path a run writes is checked against the inputs and against each other before anything
is written: symbolic links resolved, hard links caught, glob patterns kept inside their
directory. A clash is an error naming both paths (exit 1), and the inputs are left as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dedup.cli import main
from dedup.io.readers import discover, reads

A = "The council approved the harbour bridge budget after a long debate on Monday evening.\n"
B = "Opposition members argued that the cost had doubled since the plan was first proposed.\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [*args, "-q"])


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (symbolic links not followed) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text(A + A + B, encoding="utf-8")
    (d / "b.txt").write_text(B, encoding="utf-8")
    (d / "r.jsonl").write_text(json.dumps({"text": A}) + "\n", encoding="utf-8")
    return d


def refused(tmp_path: Path, args: list[str], *names: str) -> str:
    """Run ``dedup clean args``: exit 1 with a message naming every one of ``names``, no
    traceback, and not a byte changed, added or removed below ``tmp_path``."""
    before = snapshot(tmp_path)
    res = run("clean", *args)
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    assert "hint:" in res.output
    for name in names:
        assert name in res.output, (name, res.output)
    assert snapshot(tmp_path) == before
    return res.output


def test_removed_cannot_overwrite_an_input(tmp_path: Path, data: Path) -> None:
    a = str(data / "a.txt")
    out = refused(tmp_path, [a, "-o", str(tmp_path / "out.txt"), "--removed", a], a)
    assert "--removed" in out


def test_report_cannot_overwrite_an_input_of_a_directory(tmp_path: Path, data: Path) -> None:
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--report", str(data / "b.txt")],
            str(data / "b.txt"), "--report")


def test_removed_cannot_be_the_output(tmp_path: Path, data: Path) -> None:
    out = str(tmp_path / "out.txt")
    refused(tmp_path, [str(data / "a.txt"), "-o", out, "--removed", out], out, "--removed", "-o")


def test_removed_cannot_be_a_mirrored_output(tmp_path: Path, data: Path) -> None:
    (tmp_path / "out").mkdir()
    target = str(tmp_path / "out" / "b.txt")
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--removed", target], target)


def test_removed_and_report_cannot_be_one_file(tmp_path: Path, data: Path) -> None:
    both = str(tmp_path / "r.json")
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--removed", both,
                       "--report", both], both, "--removed", "--report")


def test_a_symbolic_link_to_an_input_is_the_input(tmp_path: Path, data: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(data / "a.txt")
    refused(tmp_path, [str(data / "a.txt"), "-o", str(tmp_path / "out.txt"),
                       "--report", str(link)], str(data / "a.txt"), str(link))


def test_an_output_directory_entry_linked_to_an_input_is_refused(tmp_path: Path,
                                                                 data: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").symlink_to(data / "a.txt")
    refused(tmp_path, [str(data / "a.txt"), str(data / "b.txt"), "-o", str(out)],
            str(data / "a.txt"), str(out / "a.txt"))


def test_a_hard_link_to_an_input_is_the_input(tmp_path: Path, data: Path) -> None:
    link = tmp_path / "hard.txt"
    os.link(data / "a.txt", link)
    out = refused(tmp_path, [str(data / "a.txt"), "-o", str(link)], str(data / "a.txt"))
    assert "hard link" in out


def test_index_cannot_be_the_runs_state_directory(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "out"
    state = str(out / ".dedup-run")
    refused(tmp_path, [str(data), "-o", str(out), "--index", state], state, "--index")


def test_index_cannot_hold_the_outputs(tmp_path: Path, data: Path) -> None:
    out = str(tmp_path / "out")
    refused(tmp_path, [str(data), "-o", out, "--index", out], out, "--index")


def test_removed_cannot_be_inside_the_index(tmp_path: Path, data: Path) -> None:
    idx = tmp_path / "idx"
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--index", str(idx),
                       "--removed", str(idx / "removed.jsonl")], str(idx), "--removed")


def test_an_input_inside_the_state_directory_is_refused(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "out"
    (out / ".dedup-run").mkdir(parents=True)
    hidden = out / ".dedup-run" / "x.txt"
    hidden.write_text(B, encoding="utf-8")
    refused(tmp_path, [str(data / "a.txt"), str(hidden), "-o", str(out)], str(hidden))


def test_index_inside_an_input_directory_would_be_read(tmp_path: Path, data: Path) -> None:
    """Its docids.txt would be read as input by the next run over the directory."""
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--index", str(data / "idx")],
            str(data / "idx"), str(data))


def test_a_hidden_index_inside_an_input_directory_is_fine(tmp_path: Path, data: Path) -> None:
    res = run("clean", str(data), "-o", str(tmp_path / "out"), "--index", str(data / ".idx"))
    assert res.exit_code == 0, res.output
    assert (data / ".idx" / "docids.txt").exists()


def test_removed_inside_an_input_directory_would_be_read(tmp_path: Path, data: Path) -> None:
    removed = str(data / "removed.jsonl")
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out"), "--removed", removed], removed)


def test_a_report_the_inputs_would_not_read_may_go_beside_them(tmp_path: Path,
                                                               data: Path) -> None:
    res = run("clean", str(data), "-o", str(tmp_path / "out"), "--report",
              str(data / "report.json"))
    assert res.exit_code == 0, res.output
    # ... but not when every file is read (--input-format txt reads any name)
    refused(tmp_path, [str(data), "-o", str(tmp_path / "out2"), "--input-format", "txt",
                       "--report", str(data / "report2.json")], str(data / "report2.json"))


def test_removed_matched_by_a_glob_input_is_refused(tmp_path: Path, data: Path) -> None:
    (data / "sub").mkdir()
    (data / "sub" / "c.jsonl").write_text(json.dumps({"text": B}) + "\n", encoding="utf-8")
    pattern = f"{data}/**/*.jsonl"
    removed = str(data / "sub" / "removed.jsonl")
    refused(tmp_path, [pattern, "-o", str(tmp_path / "out"), "--removed", removed], removed,
            pattern)
    res = run("clean", pattern, "-o", str(tmp_path / "out"), "--removed",
              str(data / "sub" / "removed.json"))
    assert res.exit_code == 0, res.output


def test_a_glob_cannot_reach_outside_its_directory(tmp_path: Path) -> None:
    """``s*/../../*.txt``: the mirrored outputs would land outside -o (here: over the input)."""
    w = tmp_path / "w"
    (w / "s1").mkdir(parents=True)
    (tmp_path / "top.txt").write_text(A, encoding="utf-8")
    pattern = f"{w}/s*/../../*.txt"
    out = refused(tmp_path, [pattern, "-o", str(w / "G")], pattern)
    assert "outside" in out


def test_several_inputs_into_an_existing_file_is_refused(tmp_path: Path, data: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("old\n", encoding="utf-8")
    refused(tmp_path, [str(data / "a.txt"), str(data / "b.txt"), "-o", str(f)], str(f))


def test_reads_follows_walks_and_globs(tmp_path: Path) -> None:
    d = str(tmp_path.resolve())
    j = os.path.join
    assert reads(j(d, ""), j(d, "x", "a.txt"))
    assert not reads(j(d, ""), j(d, ".x", "a.txt"))  # hidden directories are not walked
    assert not reads(j(d, ""), j(d, "a.json"))  # nor unknown suffixes
    assert reads(j(d, ""), j(d, "a.json"), "txt")  # unless a format is forced
    assert reads(j(d, "*"), j(d, "a.json"))  # a matched file is read whatever its name
    assert not reads(j(d, "*"), j(d, ".a.txt"))  # wildcards skip hidden names
    assert reads(j(d, "*"), j(d, "s", "a.txt"))  # a matched directory is walked
    assert reads(j(d, "**", "*.jsonl"), j(d, "a", "b", "c.jsonl"))
    assert not reads(j(d, "**", "*.jsonl"), j(d, "a", ".b", "c.jsonl"))
    assert not reads(j(d, "s*", "*.txt"), j(d, "t", "a.txt"))
    assert not reads("-", j(d, "a.txt"))


def test_discover_keeps_glob_names_relative_and_inside(tmp_path: Path) -> None:
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "a.txt").write_text(A, encoding="utf-8")
    assert [s.rel for s in discover([f"{tmp_path}/s*/*.txt"])] == ["s1/a.txt"]


# -- what a directory walk or a glob finds that is not a regular file -------------------------

def test_a_broken_link_in_an_input_directory_is_a_failure(tmp_path: Path, data: Path) -> None:
    (data / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    for given in (str(data), f"{data}/*.txt"):
        out = tmp_path / f"out{len(given)}"
        res = CliRunner().invoke(main, ["clean", given, "-o", str(out)])
        assert res.exit_code == 1, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert f"error: {data / 'gone.txt'}: broken symbolic link" in res.output
        assert (out / "a.txt").exists() and not (out / "gone.txt").exists()


def test_a_broken_link_given_as_input_is_an_error(tmp_path: Path) -> None:
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "nowhere.txt")
    res = run("clean", str(link), "-o", str(tmp_path / "out.txt"))
    assert res.exit_code == 1
    assert "broken symbolic link" in res.output


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_a_fifo_in_an_input_directory_is_a_failure_not_a_hang(tmp_path: Path, data: Path,
                                                              kind: str) -> None:
    """Opening a FIFO blocks until something writes to it: it is reported, never opened (a
    Parquet one's schema is not read either). In a subprocess, so a hang is a timeout."""
    fifo = data / f"pipe.{kind}"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "dedup", "clean", str(data), "-o",
                           str(tmp_path / "out"), "-q"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"error: {fifo}: a FIFO (named pipe), not a regular file" in proc.stderr
