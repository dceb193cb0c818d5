"""Bad input through the command line. Each kind is cleaned, skipped on purpose
(``--encoding-errors skip``) or reported as a failure naming its file (and line), never a
traceback; ``--strict`` stops at the first failure and leaves no output at all."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.batch import run_clean
from dedup.cli import main
from dedup.errors import InputError
from dedup.io.readers import _SURROGATE, _SURROGATE_ESCAPE

# Distinct long paragraphs (no two near-duplicates), so cross-document dedup keeps them all.
S = [
    "The council approved the harbour bridge budget after a long debate on Monday evening.",
    "Opposition members argued that the cost had doubled since the plan was first proposed.",
    "Construction is expected to begin next spring and to last about three years in total.",
    "Local fishermen worry that the new pillars will change the currents near the old pier.",
    "A public hearing on the environmental report is scheduled for the second week of June.",
    "Engineers from the university tested a scale model of the deck in their wind tunnel.",
]
COOKIE = "We use cookies. Accept all"


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def exited(res: Result, code: int) -> None:
    """``res`` ended with ``code`` through a message, not an exception or a traceback."""
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception


def files_under(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def jsonl(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


# --- invalid UTF-8 -------------------------------------------------------------------------

BAD_TXT = f"{S[0]}\ncaf\xe9 au lait\n".encode("latin-1")
BAD_TXT_OFFSET = len(S[0]) + 1 + 3  # the \xe9, on line 2
BAD_JSONL = jsonl({"text": S[1]}) + b'{"text": "caf\xe9"}\n' + jsonl({"text": S[2]})


def bad_utf8_inputs(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "bad.txt").write_bytes(BAD_TXT)
    (src / "bad.jsonl").write_bytes(BAD_JSONL)
    (src / "good.txt").write_text(f"{S[3]}\n", encoding="utf-8")
    return src


def test_invalid_utf8_is_a_failure_naming_file_and_line_and_the_rest_is_cleaned(
        tmp_path: Path) -> None:
    src = bad_utf8_inputs(tmp_path)
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--report", str(report), "-q")
    exited(res, 1)
    assert (f"error: {src / 'bad.txt'}: not valid UTF-8 (byte 0xe9 at offset {BAD_TXT_OFFSET}, "
            f"line 2)") in res.stderr
    assert f"error: {src / 'bad.jsonl'}:2: not valid UTF-8 (byte 0xe9 at offset 13)" in res.stderr
    assert "hint: re-encode the file as UTF-8, or pass --encoding-errors replace" in res.stderr
    rep = json.loads(report.read_text())
    assert rep["failures"] == 2 and rep["skipped"] == 0 and rep["skipped_records"] == []
    assert files_under(out) == ["bad.jsonl", "good.txt"]  # the bad text file gets no output
    assert texts(out / "bad.jsonl") == [f"{S[1]}\n", f"{S[2]}\n"]


def test_invalid_utf8_replace_gives_u_fffd(tmp_path: Path) -> None:
    src = bad_utf8_inputs(tmp_path)
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--report", str(report), "-q",
              "--encoding-errors", "replace")
    exited(res, 0)
    assert (out / "bad.txt").read_text(encoding="utf-8") == f"{S[0]}\ncaf\ufffd au lait\n"
    assert texts(out / "bad.jsonl") == [f"{S[1]}\n", "caf\ufffd\n", f"{S[2]}\n"]
    rep = json.loads(report.read_text())
    assert rep["failures"] == 0 and rep["skipped"] == 0


@pytest.mark.parametrize("strict", [False, True])
def test_invalid_utf8_skip_leaves_the_record_out_and_counts_it(tmp_path: Path,
                                                               strict: bool) -> None:
    src = bad_utf8_inputs(tmp_path)
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--report", str(report),
              "--encoding-errors", "skip", *(["--strict"] if strict else []))
    exited(res, 0)  # skipping on purpose is not a failure, and does not stop --strict
    rep = json.loads(report.read_text())
    assert rep["failures"] == 0 and rep["failed"] == []
    assert rep["skipped"] == 2
    assert rep["skipped_records"] == [
        f"{src / 'bad.jsonl'}:2: not valid UTF-8 (byte 0xe9 at offset 13)",
        f"{src / 'bad.txt'}: not valid UTF-8 (byte 0xe9 at offset {BAD_TXT_OFFSET}, line 2)"]
    assert files_under(out) == ["bad.jsonl", "good.txt"]
    assert texts(out / "bad.jsonl") == [f"{S[1]}\n", f"{S[2]}\n"]
    assert f"skipped: {src / 'bad.txt'}: not valid UTF-8" in res.stderr
    assert "2 skipped" in res.stderr and "error:" not in res.stderr
    quiet = run("clean", str(src), "-o", str(tmp_path / "out2"), "-q", "--encoding-errors", "skip")
    exited(quiet, 0)
    assert quiet.stderr == ""


def test_explain_says_skipped_or_error(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(BAD_TXT)
    res = run("explain", str(tmp_path / "bad.txt"))
    exited(res, 1)
    assert f"error: {tmp_path / 'bad.txt'}: not valid UTF-8" in res.stderr
    res = run("explain", str(tmp_path / "bad.txt"), "--encoding-errors", "skip")
    exited(res, 0)
    assert f"skipped: {tmp_path / 'bad.txt'}: not valid UTF-8" in res.stderr


def test_lone_surrogate_escape_in_jsonl_follows_encoding_errors(tmp_path: Path) -> None:
    # JSON can escape half a UTF-16 pair; no UTF-8 output can hold it (it used to crash the
    # writer). A whole pair is an ordinary character.
    src = tmp_path / "s.jsonl"
    src.write_bytes(jsonl({"text": S[0]}) + b'{"text": "a\\ud800b", "n": 2}\n'
                    + b'{"text": "smile \\ud83d\\ude00"}\n')
    out = tmp_path / "o.jsonl"
    res = run("clean", str(src), "-o", str(out), "-q")
    exited(res, 1)
    assert f"error: {src}:2: not valid Unicode (lone surrogate \\ud800 in a JSON string)" \
        in res.stderr
    assert texts(out) == [f"{S[0]}\n", "smile \U0001f600\n"]
    res = run("clean", str(src), "-o", str(out), "-q", "--encoding-errors", "replace")
    exited(res, 0)
    assert texts(out) == [f"{S[0]}\n", "a\ufffdb\n", "smile \U0001f600\n"]
    res = run("clean", str(src), "-o", str(out), "--encoding-errors", "skip")
    exited(res, 0)
    assert f"skipped: {src}:2: not valid Unicode" in res.stderr
    assert texts(out) == [f"{S[0]}\n", "smile \U0001f600\n"]


# --- binary --------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize("mode", ["strict", "replace", "skip"])
def test_binary_file_is_a_failure_whatever_the_encoding_errors(tmp_path: Path,
                                                               mode: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "image.txt").write_bytes(PNG)
    (src / "good.txt").write_text(f"{S[0]}\n", encoding="utf-8")
    blob = tmp_path / "blob.bin"  # an unknown suffix is read as text
    blob.write_bytes(PNG)
    out = tmp_path / "out"
    res = run("clean", str(src), str(blob), "-o", str(out), "-q", "--encoding-errors", mode)
    exited(res, 1)
    for path in (src / "image.txt", blob):
        assert f"error: {path}: binary file, not text (NUL byte at offset 8)" in res.stderr
    assert files_under(out) == ["good.txt"]


def test_utf16_file_is_binary_with_a_hint_to_re_encode(tmp_path: Path) -> None:
    (tmp_path / "u.txt").write_bytes(f"{S[0]}\n".encode("utf-16"))
    res = run("clean", str(tmp_path / "u.txt"), "-o", "-", "-q")
    exited(res, 1)
    assert f"error: {tmp_path / 'u.txt'}: binary file, not text" in res.stderr
    assert "iconv -f UTF-16 -t UTF-8" in res.stderr


def test_only_the_first_8k_decide_binary(tmp_path: Path) -> None:
    # As git and grep do: a NUL byte far into a text file does not make it binary.
    late = f"{S[1][:20]}\x00{S[1][20:]}"  # a sentence, kept as content, NUL and all
    text = f"{S[0]}\n" * 200 + late + "\n"
    assert text.index("\x00") > 8192
    (tmp_path / "late.txt").write_text(text, encoding="utf-8")
    res = run("clean", str(tmp_path / "late.txt"), "-o", "-", "-q")
    exited(res, 0)
    assert res.stdout == f"{S[0]}\n{late}\n"


def test_nul_in_jsonl_escaped_is_text_raw_is_a_bad_record(tmp_path: Path) -> None:
    src = tmp_path / "n.jsonl"
    src.write_bytes(jsonl({"text": "nul\x00inside"}) + b'{"text": "raw\x00nul"}\n'
                    + jsonl({"text": S[0]}))
    assert b"\\u0000" in src.read_bytes()  # json.dumps escapes it
    out = tmp_path / "o.jsonl"
    res = run("clean", str(src), "-o", str(out), "-q")
    exited(res, 1)
    assert f"error: {src}:2: raw NUL byte in the line" in res.stderr
    assert texts(out) == ["nul\x00inside\n", f"{S[0]}\n"]


# --- empty and blank -----------------------------------------------------------------------

@pytest.mark.parametrize("strict", [False, True])
def test_empty_and_blank_inputs_give_empty_outputs(tmp_path: Path, strict: bool) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "empty.txt").write_bytes(b"")
    (src / "empty.jsonl").write_bytes(b"")
    (src / "blank-lines.jsonl").write_bytes(b"\n  \n\r\n")
    (src / "empty-text.jsonl").write_bytes(jsonl({"id": 1, "text": ""}))
    (src / "space.txt").write_bytes(b"   \n\t\n \r\n\xe3\x80\x80\n")  # \u3000 too
    (src / "space.jsonl").write_bytes(jsonl({"text": " \n\t \r\n "}))
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--report", str(report), "-q",
              *(["--strict"] if strict else []))
    exited(res, 0)
    assert files_under(out) == ["blank-lines.jsonl", "empty-text.jsonl", "empty.jsonl",
                                "empty.txt", "space.jsonl", "space.txt"]
    for name in ("blank-lines.jsonl", "empty.jsonl", "empty.txt", "space.txt"):
        assert (out / name).read_bytes() == b"", name
    assert json.loads((out / "empty-text.jsonl").read_text()) == {"id": 1, "text": ""}
    assert json.loads((out / "space.jsonl").read_text()) == {"text": ""}
    assert json.loads(report.read_text())["failures"] == 0
    res = run("clean", "-", "-o", "-", "-q", input=b"")
    exited(res, 0)
    assert res.stdout == ""


# --- huge lines ----------------------------------------------------------------------------

def words_line(chars: int, seed: int = 1) -> str:
    """One line of ``chars`` characters of random words (5000-word vocabulary): the worst case
    for shingling, every shingle nearly unique."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(5000)]
    return " ".join(rng.choices(vocab, k=chars // 5))[:chars].strip()


def timed_clean(path: Path, out: Path, label: str, *options: str) -> float:
    t0 = time.perf_counter()
    res = run("clean", str(path), "-o", str(out), "-q", *options)
    seconds = time.perf_counter() - t0
    exited(res, 0)
    print(f"\n{label} {' '.join(options)}: {seconds:.2f}s", file=sys.stderr)  # pytest -s
    return seconds


def test_a_10mb_line_finishes(tmp_path: Path) -> None:
    line = words_line(10_000_000)
    (tmp_path / "huge.txt").write_text(line + "\n", encoding="utf-8")
    seconds = timed_clean(tmp_path / "huge.txt", tmp_path / "o.txt", "one 10 MB line",
                          "--no-boilerplate", "--max-line-bytes", "16M")  # 1 MiB by default
    assert (tmp_path / "o.txt").read_text(encoding="utf-8") == line + "\n"
    assert seconds < 120  # about 6 s when measured: linear in the line's shingles


def test_a_1mb_line_finishes_with_the_default_classifier(tmp_path: Path) -> None:
    line = words_line(1_000_000, seed=2)
    (tmp_path / "big.txt").write_text(f"{line}\n{COOKIE}\n{line}\n", encoding="utf-8")
    seconds = timed_clean(tmp_path / "big.txt", tmp_path / "o.txt", "two 1 MB lines")
    assert (tmp_path / "o.txt").read_text(encoding="utf-8") == line + "\n"
    assert seconds < 60  # under 1 s when measured


# --- line endings and byte order marks -----------------------------------------------------

@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_crlf_and_lone_cr_end_lines_like_lf(tmp_path: Path, eol: str) -> None:
    lines = [S[0], COOKIE, S[0], "", S[1]]
    (tmp_path / "a.txt").write_bytes((eol.join(lines) + eol).encode())
    res = run("clean", str(tmp_path / "a.txt"), "-o", "-", "-q")
    exited(res, 0)
    assert res.stdout == f"{S[0]}\n{S[1]}\n"
    rec = tmp_path / "a.jsonl"  # the same text inside a JSONL record
    rec.write_bytes(json.dumps({"text": eol.join(lines)}).encode() + b"\r\n")
    res = run("clean", str(rec), "-o", "-", "-q")
    exited(res, 0)
    assert json.loads(res.stdout) == {"text": f"{S[0]}\n{S[1]}\n"}


def test_crlf_jsonl_file_reads_every_record(tmp_path: Path) -> None:
    (tmp_path / "w.jsonl").write_bytes(jsonl({"text": S[0]}, {"text": S[1]}).replace(b"\n",
                                                                                    b"\r\n"))
    res = run("clean", str(tmp_path / "w.jsonl"), "-o", "-", "-q")
    exited(res, 0)
    assert [json.loads(x)["text"] for x in res.stdout.splitlines()] == [f"{S[0]}\n", f"{S[1]}\n"]


def test_lone_cr_jsonl_file_is_one_bad_line(tmp_path: Path) -> None:
    # JSONL lines end with \n; a file of \r-ended records reads as one line of several values.
    path = tmp_path / "mac.jsonl"
    path.write_bytes(jsonl({"text": S[0]}, {"text": S[1]}).replace(b"\n", b"\r"))
    res = run("clean", str(path), "-o", "-", "-q")
    exited(res, 1)
    assert f"error: {path}:1: not valid JSON (Extra data)" in res.stderr


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    bom = "\ufeff"
    (tmp_path / "b.txt").write_text(f"{bom}{S[0]}\r\n{S[0]}\r\n", encoding="utf-8")
    res = run("clean", str(tmp_path / "b.txt"), "-o", "-", "-q")
    exited(res, 0)
    assert res.stdout == f"{S[0]}\n"
    (tmp_path / "b.jsonl").write_bytes(bom.encode() + jsonl({"text": S[0]}, {"text": S[1]}))
    res = run("clean", str(tmp_path / "b.jsonl"), "-o", "-", "-q")
    exited(res, 0)
    assert [json.loads(x)["text"] for x in res.stdout.splitlines()] == [f"{S[0]}\n", f"{S[1]}\n"]


# --- malformed JSONL -----------------------------------------------------------------------

def test_malformed_jsonl_lines_name_file_and_line_and_the_rest_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        jsonl({"text": S[0]})                                  # 1
        + b"{not json\n"                                       # 2
        + b"[1, 2]\n"                                          # 3
        + b'{"text": "x", "n": ' + b"1" * 5000 + b"}\n"        # 4: a 5000-digit number
        + b"[" * 100_000 + b"\n"                               # 5: nested too deeply
        + jsonl({"text": S[1]})                                # 6
        + b'{"text": "cut off')                                # 7: the last line, cut short
    out = tmp_path / "o.jsonl"
    res = run("clean", str(path), "-o", str(out), "-q")
    exited(res, 1)
    for want in (f"error: {path}:2: not valid JSON (Expecting property name",
                 f"error: {path}:3: a JSONL record must be an object",
                 f"error: {path}:4: not valid JSON (Exceeds the limit (4300 digits)",
                 f"error: {path}:5: not valid JSON (nested too deeply)",
                 f"error: {path}:7: not valid JSON (Unterminated string"):
        assert want in res.stderr
    assert res.stderr.count("error: ") == 5
    assert texts(out) == [f"{S[0]}\n", f"{S[1]}\n"]


def test_missing_or_non_string_text_field(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(jsonl({"body": S[0]}, {"text": 5}, {"text": None}, {"text": ["a"]},
                           {"text": {"t": "x"}}, {"text": S[1]}))
    out = tmp_path / "o.jsonl"
    res = run("clean", str(path), "-o", str(out), "-q")
    exited(res, 1)
    assert (f"error: {path}:1: field 'text' is missing (use --text-field to name the text "
            f"field)") in res.stderr
    for line in (2, 3, 4, 5):
        assert f"error: {path}:{line}: field 'text' is not a string" in res.stderr
    assert texts(out) == [f"{S[1]}\n"]


# --- nothing to read -----------------------------------------------------------------------

@pytest.mark.parametrize("strict", [False, True])
def test_directory_with_no_inputs_is_an_error_naming_it(tmp_path: Path, strict: bool) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "notes.csv").write_text("a,b\n")
    (src / ".hidden.txt").write_text("hidden\n")
    out = tmp_path / "out"
    res = run("clean", str(src), "-o", str(out), *(["--strict"] if strict else []))
    exited(res, 1)
    assert f"Error: {src}: directory has no .txt, .jsonl" in res.stderr
    assert "hint: point at the files, or use --input-format" in res.stderr
    assert not out.exists()


def test_unreadable_file_is_a_failure_naming_it(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    locked = src / "locked.txt"
    locked.write_text(f"{S[0]}\n")
    (src / "open.txt").write_text(f"{S[1]}\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop root from reading a file "
                        "(test_read_error_is_a_failure_naming_the_file covers the read path)")
        out = tmp_path / "out"
        res = run("clean", str(src), "-o", str(out), "-q")
        exited(res, 1)
        assert f"error: {locked}: cannot read (Permission denied)" in res.stderr
        assert files_under(out) == ["open.txt"]
    finally:
        locked.chmod(0o644)


MEM = Path("/proc/self/mem")  # opens, but reading at offset 0 fails (EIO), even for root


@pytest.mark.skipif(not MEM.exists(), reason="needs Linux /proc/self/mem")
def test_read_error_is_a_failure_naming_the_file(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "mem.txt").symlink_to(MEM)
    (src / "open.txt").write_text(f"{S[1]}\n")
    out = tmp_path / "out"
    res = run("clean", str(src), "-o", str(out), "-q")
    exited(res, 1)
    assert f"error: {src / 'mem.txt'}: read failed while reading" in res.stderr
    assert files_under(out) == ["open.txt"]


# --- --strict: the first bad record stops the run, nothing is written ----------------------

def _bad_txt(src: Path) -> str:
    (src / "b.txt").write_bytes(BAD_TXT)
    return f"{src / 'b.txt'}: not valid UTF-8 (byte 0xe9 at offset {BAD_TXT_OFFSET}, line 2)"


def _bad_jsonl(src: Path) -> str:
    (src / "b.jsonl").write_bytes(BAD_JSONL)
    return f"{src / 'b.jsonl'}:2: not valid UTF-8"


def _surrogate(src: Path) -> str:
    (src / "b.jsonl").write_bytes(jsonl({"text": S[1]}) + b'{"text": "\\udc00"}\n')
    return f"{src / 'b.jsonl'}:2: not valid Unicode (lone surrogate"


def _binary(src: Path) -> str:
    (src / "b.txt").write_bytes(PNG)
    return f"{src / 'b.txt'}: binary file, not text"


def _raw_nul(src: Path) -> str:
    (src / "b.jsonl").write_bytes(jsonl({"text": S[1]}) + b'{"text": "a\x00"}\n')
    return f"{src / 'b.jsonl'}:2: raw NUL byte in the line"


def _malformed(src: Path) -> str:
    (src / "b.jsonl").write_bytes(jsonl({"text": S[1]}) + b"{oops\n" + jsonl({"text": S[2]}))
    return f"{src / 'b.jsonl'}:2: not valid JSON"


def _missing_field(src: Path) -> str:
    (src / "b.jsonl").write_bytes(jsonl({"text": S[1]}, {"body": S[2]}))
    return f"{src / 'b.jsonl'}:2: field 'text' is missing"


def _non_string(src: Path) -> str:
    (src / "b.jsonl").write_bytes(jsonl({"text": S[1]}, {"text": 7}))
    return f"{src / 'b.jsonl'}:2: field 'text' is not a string"


def _truncated_gzip(src: Path) -> str:
    blob = gzip.compress(jsonl(*({"text": f"{S[1]} {i}"} for i in range(50))))
    (src / "b.jsonl.gz").write_bytes(blob[:-12])
    return f"{src / 'b.jsonl.gz'}: gzip data is truncated or corrupt"


def _read_error(src: Path) -> str:
    if not MEM.exists():
        pytest.skip("needs Linux /proc/self/mem")
    (src / "b.txt").symlink_to(MEM)
    return f"{src / 'b.txt'}: read failed while reading"


BAD: dict[str, Callable[[Path], str]] = {
    "invalid-utf8-txt": _bad_txt, "invalid-utf8-jsonl": _bad_jsonl, "lone-surrogate": _surrogate,
    "binary": _binary, "raw-nul": _raw_nul, "malformed-jsonl": _malformed,
    "missing-field": _missing_field, "non-string-field": _non_string,
    "truncated-gzip": _truncated_gzip, "read-error": _read_error,
}


# --repetition off streams documents one at a time, so the outputs of the files before the bad
# one are complete when it is read; sample (the default) reads the first documents ahead.
@pytest.mark.parametrize("repetition", ["off", "sample"])
@pytest.mark.parametrize("kind", sorted(BAD))
def test_strict_stops_at_the_first_bad_record_and_writes_nothing(tmp_path: Path, kind: str,
                                                                 repetition: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    # Sorted order: a.jsonl (whole, before the bad file), the bad file, c.txt (after it).
    (src / "a.jsonl").write_bytes(jsonl({"text": S[3]}, {"text": f"{S[4]}\n{COOKIE}"}))
    (src / "c.txt").write_text(f"{S[5]}\n", encoding="utf-8")
    where = BAD[kind](src)
    out = tmp_path / "out"
    removed, report = tmp_path / "removed.jsonl", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--removed", str(removed), "--report",
              str(report), "--strict", "--repetition", repetition)
    exited(res, 1)
    assert f"Error: {where}" in res.stderr
    assert "hint: --strict stops at the first record that cannot be read" in res.stderr
    assert files_under(out) == []
    assert not removed.exists() and not report.exists()
    assert not [p for p in tmp_path.rglob(".*.tmp")]
    lenient = run("clean", str(src), "-o", str(out), "-q")  # without --strict: the rest is written
    exited(lenient, 1)
    assert f"error: {where}" in lenient.stderr
    assert {"a.jsonl", "c.txt"} <= set(files_under(out))


def test_strict_leaves_an_older_output_untouched(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_bytes(jsonl({"text": S[0]}))
    _bad_jsonl(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jsonl").write_text("an older run\n")
    res = run("clean", str(src), "-o", str(out), "-q", "--strict", "--repetition", "off")
    exited(res, 1)
    assert files_under(out) == ["a.jsonl"]
    assert (out / "a.jsonl").read_text() == "an older run\n"


def test_run_clean_strict_raises_input_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    where = _malformed(src)
    with pytest.raises(InputError, match="not valid JSON") as info:
        run_clean([str(src)], str(tmp_path / "out"), strict=True)
    assert info.value.message.startswith(where)
    assert files_under(tmp_path / "out") == []


def test_parquet_row_that_is_not_utf8_follows_encoding_errors(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"text": pa.array([S[0].encode(), b"caf\xe9"], pa.binary())}), path)
    res = run("clean", str(path), "-o", "-", "-q")
    exited(res, 1)
    assert f"error: {path}: row 2: not valid UTF-8" in res.stderr
    report = tmp_path / "report.json"
    res = run("clean", str(path), "-o", "-", "-q", "--encoding-errors", "skip", "--report",
              str(report))
    exited(res, 0)
    assert [json.loads(x)["text"] for x in res.stdout.splitlines()] == [f"{S[0]}\n"]
    assert json.loads(report.read_text())["skipped_records"] == [
        f"{path}: row 2: not valid UTF-8 (byte 0xe9 at offset 3, line 1)"]


def test_nan_infinity_and_out_of_range_numbers_are_failures(tmp_path: Path) -> None:
    """Python reads NaN, Infinity and 1e400 (as inf) from JSON but would write them back as
    NaN / Infinity, which is not JSON: such a record is a failure naming it; the others are
    cleaned and every output line is valid JSON."""
    src = tmp_path / "n.jsonl"
    src.write_bytes(b'{"text": "%s", "x": NaN}\n{"text": "%s", "x": 1e400}\n'
                    b'{"text": "%s", "x": -Infinity}\n{"text": "%s", "x": 1.5e300}\n'
                    % tuple(s.encode() for s in S[:4]))
    res = run("clean", str(src), "-o", str(tmp_path / "out.jsonl"))
    exited(res, 1)
    assert f"error: {src}:1: NaN is not a JSON number" in res.output
    assert f"error: {src}:2: the number 1e400 is beyond the range of a double" in res.output
    assert "written back as Infinity" in res.output
    assert f"error: {src}:3: -Infinity is not a JSON number" in res.output
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line, parse_constant=lambda c: pytest.fail(c))["x"] for line in lines] \
        == [1.5e300]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)),
                max_size=30).map("".join), st.booleans())
def test_the_surrogate_pre_check_misses_no_lone_surrogate(text: str, upper: bool) -> None:
    """A JSONL line whose decoded record holds a lone surrogate always passes the pre-check
    that sends it to the full check (escapes in either case; pairs may pass it too)."""
    raw = json.dumps({"text": text})  # ensure_ascii: every non-ASCII character escaped
    if upper:
        raw = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), raw)
    decoded = json.loads(raw)["text"]
    if _SURROGATE.search(decoded):  # (a high and a low surrogate in a row decode as one)
        assert _SURROGATE_ESCAPE.search(raw.encode("ascii"))
